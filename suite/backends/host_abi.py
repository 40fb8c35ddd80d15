"""ctypes mirrors of the C structures in kernels_cu/host/runtime_api.h and launch.h, and the
loading of the libraries built by host_build."""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

FORWARD, REVERSE, RANDOM = 0, 1, 2  # suite_host_schedule
OK, DEVICE_FAULT, SIGNAL, STACK_OVERFLOW = 0, 1, 2, 3  # suite_host_fault_kind
POINTER, SIGNED, UNSIGNED, FLOAT, BOOL, BFLOAT16, OTHER = range(7)  # suite_host_param_kind


class LaunchConfig(ctypes.Structure):
    _fields_ = [
        ("grid", ctypes.c_uint * 3),
        ("block", ctypes.c_uint * 3),
        ("dynamic_smem", ctypes.c_uint64),
        ("workers", ctypes.c_int),
        ("schedule", ctypes.c_int),
        ("seed", ctypes.c_uint64),
    ]


class Fault(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("signal", ctypes.c_int),
        ("address", ctypes.c_uint64),
        ("has_block", ctypes.c_int),
        ("has_thread", ctypes.c_int),
        ("block", ctypes.c_uint * 3),
        ("thread", ctypes.c_uint * 3),
        ("stack_size", ctypes.c_uint64),
        ("message", ctypes.c_char * 4096),
    ]


class CParam(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("size", ctypes.c_int),
        ("type", ctypes.c_char_p),
        ("pointee_kind", ctypes.c_int),
        ("pointee_size", ctypes.c_int),
    ]


_LAUNCH = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(LaunchConfig), ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(Fault)
)


@functools.lru_cache(maxsize=None)
def load_runtime(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.suite_host_guarded_map.restype = ctypes.c_void_p
    lib.suite_host_guarded_map.argtypes = [ctypes.c_size_t]
    lib.suite_host_guarded_unmap.restype = None
    lib.suite_host_guarded_unmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.suite_host_page_size.restype = ctypes.c_size_t
    return lib


@functools.lru_cache(maxsize=None)
def load_module(path: Path) -> ctypes.CDLL:
    """A built module, loaded once per process (the runtime it links against is loaded first)."""
    return ctypes.CDLL(str(path))


def launcher(module: ctypes.CDLL, index: int):
    return _LAUNCH(("suite_launch_%d" % index, module))


@dataclass(frozen=True)
class Param:
    """One kernel parameter as the signature function describes it."""

    kind: int
    size: int
    type: str  # g++'s spelling, e.g. "const float*"
    pointee_kind: int
    pointee_size: int  # 0 for void*


def signature(module: ctypes.CDLL, index: int) -> list[Param]:
    fn = getattr(module, "suite_signature_%d" % index)
    fn.restype = ctypes.POINTER(CParam)
    fn.argtypes = [ctypes.POINTER(ctypes.c_int)]
    count = ctypes.c_int()
    params = fn(ctypes.byref(count))
    out = []
    for i in range(count.value):
        pretty = params[i].type.decode()  # "const char* suite_host::type_name() [with T = int]"
        spelling = pretty.split("T = ", 1)[1].rsplit("]", 1)[0] if "T = " in pretty else pretty
        p = params[i]
        out.append(Param(p.kind, p.size, spelling, p.pointee_kind, p.pointee_size))
    return out
