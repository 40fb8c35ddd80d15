"""Kernel arguments for the host backend, checked against the kernel's signature before a launch.

CuPy passes each argument's bytes as they are and the GPU reads as many as the parameter has, so
a numpy.int64 given for an `int`, or a Python float for a `float`, is silently misread there. Here
every argument must match its parameter's kind and size, and pointers must point to elements of
the parameter's type; a mismatch names the argument and says what to pass instead.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

import numpy as np
import torch

from suite.emulator import abi
from suite.emulator.texture import TextureObject
from suite.errors import KernelLaunchError

_INTEGER = {abi.SIGNED, abi.UNSIGNED, abi.BOOL}
_NUMPY_NAME = {
    (abi.SIGNED, 1): "numpy.int8", (abi.SIGNED, 2): "numpy.int16", (abi.SIGNED, 4): "numpy.int32",
    (abi.SIGNED, 8): "numpy.int64", (abi.UNSIGNED, 1): "numpy.uint8", (abi.UNSIGNED, 2): "numpy.uint16",
    (abi.UNSIGNED, 4): "numpy.uint32", (abi.UNSIGNED, 8): "numpy.uint64", (abi.FLOAT, 2): "numpy.float16",
    (abi.FLOAT, 4): "numpy.float32", (abi.FLOAT, 8): "numpy.float64", (abi.BOOL, 1): "numpy.bool_",
}  # fmt: skip
_TORCH_UNSIGNED = {torch.uint8} | {getattr(torch, n) for n in ("uint16", "uint32", "uint64") if hasattr(torch, n)}


@dataclass(frozen=True)
class Buffer:
    """A pointer argument: the bytes [address + low, address + high) that its array spans."""

    index: int
    address: int  # of element 0
    low: int
    high: int
    dtype: str
    kind: int  # abi kind of the elements
    itemsize: int
    shape: tuple
    strides: tuple  # in bytes

    @property
    def start(self) -> int:
        return self.address + self.low

    @property
    def end(self) -> int:
        return self.address + self.high

    def label(self) -> str:
        return f"argument {self.index} ({self.dtype}{list(self.shape)}, {self.high - self.low} bytes)"


class PackedArgs:
    """The argument bytes in C memory and the pointer table (void**) that a launcher reads."""

    def __init__(self, values: list, buffers: list[Buffer]):
        self.values = values  # one ctypes object per argument, kept alive with the table
        self.buffers = buffers
        self.argv = self._table(values)

    @staticmethod
    def _table(values):
        return (ctypes.c_void_p * max(len(values), 1))(*[ctypes.addressof(v) for v in values])

    def with_addresses(self, addresses: dict[int, int]):
        """A pointer table where argument i points to addresses[i] instead (checks run on copies)."""
        values = [ctypes.c_void_p(addresses[i]) if i in addresses else v for i, v in enumerate(self.values)]
        return values, self._table(values)


def _element_kind(array) -> tuple[int, int, str]:
    """(kind, itemsize, name) of a tensor's or array's elements."""
    if isinstance(array, torch.Tensor):
        dt = array.dtype
        if dt == torch.bfloat16:
            kind = abi.BFLOAT16
        elif dt == torch.bool:
            kind = abi.BOOL
        elif dt.is_floating_point:
            kind = abi.FLOAT
        elif dt.is_complex:
            kind = abi.OTHER
        else:
            kind = abi.UNSIGNED if dt in _TORCH_UNSIGNED else abi.SIGNED
        return kind, array.element_size(), str(dt).replace("torch.", "")
    kind = {"f": abi.FLOAT, "i": abi.SIGNED, "u": abi.UNSIGNED, "b": abi.BOOL}.get(array.dtype.kind, abi.OTHER)
    return kind, array.dtype.itemsize, array.dtype.name


def _category(kind: int) -> str:
    return "integer" if kind in _INTEGER else {abi.FLOAT: "floating", abi.BFLOAT16: "bfloat16"}.get(kind, "other")


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor on {value.device}"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype.name} numpy array"
    if isinstance(value, np.generic):
        return f"numpy.{type(value).__name__}"
    return f"a Python {type(value).__name__}"


def _pointer(kernel: str, i: int, p: abi.Param, value) -> tuple[ctypes.c_void_p, Buffer | None]:
    """The pointer's bytes and the array it spans (None for a null pointer, which spans nothing)."""
    where = f"argument {i} of {kernel} is {p.type}"
    if value is None or (type(value) is int and value == 0):  # CuPy passes None (and 0) as a null pointer
        return ctypes.c_void_p(0), None
    if hasattr(value, "ptr") and hasattr(value, "mem"):  # a MemoryPointer (RawModule.get_global)
        return ctypes.c_void_p(value.ptr), Buffer(i, value.ptr, 0, value.mem.size, "bytes", abi.OTHER, 1,
                                                  (value.mem.size,), (1,))
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu":
            raise KernelLaunchError(f"{where}; got {_describe(value)}: the host backend runs on the CPU, pass CPU tensors")
        address, itemsize = value.data_ptr(), value.element_size()
        strides = [s * itemsize for s in value.stride()]
    elif isinstance(value, np.ndarray):
        address, itemsize, strides = value.ctypes.data, value.dtype.itemsize, list(value.strides)
    else:
        raise KernelLaunchError(f"{where} (a pointer); got {_describe(value)}: pass a torch tensor or a numpy array "
                                "(None for a null pointer)")
    kind, size, name = _element_kind(value)
    if p.pointee_kind == abi.POINTER:  # T**: an array of device addresses, as CuPy users pass (uint64)
        if size != 8 or kind not in (abi.SIGNED, abi.UNSIGNED):
            raise KernelLaunchError(f"{where}; got {_describe(value)}: pass the addresses as a uint64 (or int64) "
                                    "array, e.g. numpy.array([a.ctypes.data, b.ctypes.data], numpy.uint64)")
    elif p.pointee_size > 1 and p.pointee_kind != abi.OTHER:
        if size != p.pointee_size or _category(kind) != _category(p.pointee_kind):
            raise KernelLaunchError(
                f"{where}; got {_describe(value)} ({size}-byte {_category(kind)} elements, the kernel reads "
                f"{p.pointee_size}-byte {_category(p.pointee_kind)} ones)"
            )
    shape = tuple(value.shape)
    if 0 in shape:
        low = high = 0
    else:
        low = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
        high = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0) + itemsize
    return ctypes.c_void_p(address), Buffer(i, address, low, high, name, kind, itemsize, shape, tuple(strides))


def _scalar_bytes(kernel: str, i: int, p: abi.Param, value) -> bytes:
    where = f"argument {i} of {kernel} is {p.type} ({p.size} bytes)"
    wanted = _NUMPY_NAME.get((p.kind, p.size))
    hint = f" — pass {wanted}" if wanted else ""
    if isinstance(value, TextureObject):  # a cudaTextureObject_t: its handle, as CuPy passes it
        if (p.kind, p.size) == (abi.UNSIGNED, 8):
            return value.ptr.to_bytes(8, "little")
        raise KernelLaunchError(f"{where}; got a TextureObject, which only a cudaTextureObject_t parameter takes")
    if isinstance(value, np.generic):
        kind, size, _ = _element_kind(np.asarray(value))
        if (kind, size) == (p.kind, p.size):
            return value.tobytes()
        raise KernelLaunchError(f"{where}; got {_describe(value)}{hint}")
    if isinstance(value, (bool, int)) and p.kind in _INTEGER:
        signed = p.kind == abi.SIGNED
        try:
            return int(value).to_bytes(p.size, "little", signed=signed)
        except OverflowError:
            raise KernelLaunchError(f"{where}; got {value}, which does not fit") from None
    if isinstance(value, float) and p.kind == abi.FLOAT:
        if p.size == 8:
            return struct.pack("<d", value)
        raise KernelLaunchError(f"{where}; got a Python float, which CuPy passes as a double{hint}({value!r})")
    if p.kind == abi.BFLOAT16 and isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16 and value.numel() == 1:
        return value.detach().cpu().reshape(1).view(torch.int16).numpy().tobytes()
    if p.kind in (abi.OTHER, abi.BFLOAT16):
        raw = value.tobytes() if isinstance(value, np.ndarray) else value
        if isinstance(raw, (bytes, bytearray, memoryview, ctypes.Structure, ctypes.Array)):
            raw = bytes(raw)
            if len(raw) == p.size:
                return raw
            raise KernelLaunchError(f"{where}; got {len(raw)} bytes")
        raise KernelLaunchError(
            f"{where}; got {_describe(value)}: pass its bytes (a ctypes.Structure, a numpy structured scalar, bytes)"
            + (" or a one-element bfloat16 tensor" if p.kind == abi.BFLOAT16 else "")
        )
    raise KernelLaunchError(f"{where}; got {_describe(value)}{hint}")


def pack(kernel: str, params: list[abi.Param], args) -> PackedArgs:
    args = tuple(args)
    if len(args) != len(params):
        listed = ", ".join(p.type for p in params) or "none"
        raise KernelLaunchError(f"{kernel} takes {len(params)} argument(s) ({listed}); got {len(args)}")
    values, buffers = [], []
    for i, (p, value) in enumerate(zip(params, args)):
        if p.kind == abi.POINTER:
            pointer, buffer = _pointer(kernel, i, p, value)
            values.append(pointer)
            buffers += [buffer] if buffer is not None else []
        else:
            values.append(ctypes.create_string_buffer(_scalar_bytes(kernel, i, p, value), p.size))
    return PackedArgs(values, buffers)
