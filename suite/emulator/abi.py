"""ctypes mirrors of the C structures in suite/emulator/include/emu/runtime_api.h and launch.h, and the
loading of the libraries built by build."""

from __future__ import annotations

import ctypes
import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

FORWARD, REVERSE, RANDOM = 0, 1, 2  # suite_host_schedule
OK, DEVICE_FAULT, SIGNAL, STACK_OVERFLOW = 0, 1, 2, 3  # suite_host_fault_kind
POINTER, SIGNED, UNSIGNED, FLOAT, BOOL, BFLOAT16, OTHER = range(7)  # suite_host_param_kind
# suite/emulator/runtime/checks.h
MEMCHECK, RACECHECK, INITCHECK = 1, 2, 4  # suite_host_check_flag
LOAD, STORE, ATOMIC = 0, 1, 2  # suite_host_access_kind
GLOBAL, SHARED, LOCAL, OTHER_SPACE = 0, 1, 2, 3  # suite_host_space
ARGUMENT, STATIC_SHARED, EXTERN_SHARED, DYNAMIC_SHARED, UNCHECKED_TLS = 0, 1, 2, 3, 4  # suite_host_range_kind
OUT_OF_BOUNDS, MISALIGNED, RACE, ASYNC_READ, UNINITIALIZED = 1, 2, 3, 4, 5  # suite_host_finding_kind


class CheckRange(ctypes.Structure):
    _fields_ = [
        ("start", ctypes.c_uint64),
        ("end", ctypes.c_uint64),
        ("kind", ctypes.c_int),
        ("index", ctypes.c_int),
        ("written", ctypes.c_void_p),
    ]


class Finding(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("access", ctypes.c_int),
        ("space", ctypes.c_int),
        ("size", ctypes.c_uint),
        ("address", ctypes.c_uint64),
        ("block", ctypes.c_uint * 3),
        ("thread", ctypes.c_uint * 3),
        ("pc", ctypes.c_uint64),
        ("range", ctypes.c_int),
        ("range_kind", ctypes.c_int),
        ("offset", ctypes.c_int64),
        ("other_access", ctypes.c_int),
        ("other_block", ctypes.c_uint * 3),
        ("other_thread", ctypes.c_uint * 3),
        ("other_pc", ctypes.c_uint64),
    ]


class Access(ctypes.Structure):
    """What an observer (a profiler) receives for each access of kernel code."""

    _fields_ = [
        ("address", ctypes.c_uint64),
        ("size", ctypes.c_uint),
        ("kind", ctypes.c_int),
        ("space", ctypes.c_int),
        ("pc", ctypes.c_uint64),
        ("block_linear", ctypes.c_uint),
        ("thread_linear", ctypes.c_uint),
        ("warp", ctypes.c_uint),
        ("lane", ctypes.c_uint),
    ]


OBSERVER = ctypes.CFUNCTYPE(None, ctypes.POINTER(Access), ctypes.c_void_p)


class Checks(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint),
        ("ranges", ctypes.POINTER(CheckRange)),
        ("range_count", ctypes.c_int),
        ("tls_anchor_offset", ctypes.c_uint64),
        ("observer", ctypes.c_void_p),
        ("observer_data", ctypes.c_void_p),
        ("findings", ctypes.POINTER(Finding)),
        ("max_findings", ctypes.c_int),
        ("finding_count", ctypes.c_int),
        ("occurrences", ctypes.c_int),
    ]


class LaunchConfig(ctypes.Structure):
    _fields_ = [
        ("grid", ctypes.c_uint * 3),
        ("block", ctypes.c_uint * 3),
        ("dynamic_smem", ctypes.c_uint64),
        ("workers", ctypes.c_int),
        ("schedule", ctypes.c_int),
        ("seed", ctypes.c_uint64),
        ("timeout_s", ctypes.c_double),
        ("checks", ctypes.POINTER(Checks)),
        ("cooperative", ctypes.c_int),
        ("lanes", ctypes.c_int),
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


TLS_ANCHOR = "suite_host::tls_anchor"  # suite/emulator/include/emu/launch.h


def emulation_tls(name: str) -> bool:
    """A thread-local variable of the emulation itself (the TLS anchor, the lane-loop state, the
    assert message buffer), not a kernel's static __shared__ array."""
    return name.startswith("suite_host::") or name.startswith("__assert_fail")


@dataclass(frozen=True)
class Symbol:
    """A defined symbol of a built module: its (demangled) name, value (an offset from the
    module's base; for TLS, in its TLS segment), size and ELF type (FUNC, OBJECT, TLS)."""

    name: str
    value: int
    size: int
    type: str


@functools.lru_cache(maxsize=None)
def symbols(path: Path) -> tuple[Symbol, ...]:
    """The defined functions and variables of a built module, from its symbol table (binutils'
    readelf; hidden ones too, which dlsym cannot find)."""
    out = subprocess.run(["readelf", "-sW", "-C", str(path)], capture_output=True, text=True, check=True).stdout
    found = {}
    # readelf writes large sizes in hex (0x38c00); UND (undefined) symbols have no section number
    for m in re.finditer(r"^\s*\d+: ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+) (FUNC|OBJECT|TLS)\s+\w+\s+\w+\s+\d+ (.+)$", out, re.M):
        found[m.group(4)] = Symbol(m.group(4), int(m.group(1), 16), int(m.group(2), 0), m.group(3))
    return tuple(found.values())


def tls_symbols(path: Path) -> tuple[Symbol, ...]:
    """The thread-local variables of a built module (static __shared__ arrays); value is the
    offset in the module's TLS segment."""
    return tuple(s for s in symbols(path) if s.type == "TLS")
