"""Device memory as CuPy hands it out, for the host backend: `RawModule.get_global(name)` returns a
MemoryPointer to a `__constant__` or `__device__` variable, as cupy.cuda.MemoryPointer does.

On the host such a variable is a plain global of the module's shared library (`__constant__`
expands to nothing), found by its symbol: hidden symbols are not in the dynamic table, so the
module's full symbol table gives its offset, and an exported function of the same library its base.

The host equivalents of the CUDA runtime's symbol copies:
    cudaMemcpyToSymbol(c, src, n)        module.get_global("c").copy_from_host(src, n)
    cudaMemcpyFromSymbol(dst, c, n)      module.get_global("c").copy_to_host(dst, n)
    cudaMemcpyToSymbol(c, d_src, n, 0, cudaMemcpyDeviceToDevice)
                                         module.get_global("c").copy_from_device(MemoryPointer or array, n)
    cupy.ndarray(shape, dtype, memptr=p) p.view(dtype, shape): a numpy array over the variable
"""

from __future__ import annotations

import ctypes

import numpy as np

from suite.emulator import abi
from suite.errors import InputError


class Memory:
    """What MemoryPointer.mem is in CuPy: the allocation, of which `size` matters here."""

    def __init__(self, ptr: int, size: int):
        self.ptr, self.size = ptr, size


class MemoryPointer:
    """`size` bytes at address `ptr`, with CuPy's copy methods; `owner` keeps the memory alive."""

    device_id = 0

    def __init__(self, ptr: int, size: int, name: str, owner=None):
        self.ptr, self.mem, self.name, self._owner = ptr, Memory(ptr, size), name, owner

    def __int__(self) -> int:
        return self.ptr

    def __add__(self, offset: int) -> MemoryPointer:
        if not 0 <= offset <= self.mem.size:
            raise InputError(f"offset {offset} is outside {self.name} ({self.mem.size} bytes)")
        return MemoryPointer(self.ptr + offset, self.mem.size - offset, f"{self.name}+{offset}", self._owner)

    def _size(self, size: int, what: str) -> int:
        size = int(size)
        if not 0 <= size <= self.mem.size:
            raise InputError(f"{what} of {size} bytes does not fit {self.name} ({self.mem.size} bytes)")
        return size

    def copy_from_host(self, mem, size: int) -> None:
        """cudaMemcpyToSymbol: `size` bytes from host memory (an address, a ctypes object, a numpy
        array or CPU tensor, bytes) into the variable."""
        size = self._size(size, "a copy")
        ctypes.memmove(self.ptr, _host_address(mem, size, "copy_from_host"), size)

    def copy_from_device(self, src, size: int) -> None:
        """A device-to-device copy: on the host, device memory is host memory."""
        self.copy_from_host(src.ptr if isinstance(src, MemoryPointer) else src, size)

    copy_from = copy_from_host

    def copy_to_host(self, mem, size: int) -> None:
        """cudaMemcpyFromSymbol: `size` bytes of the variable into host memory."""
        size = self._size(size, "a copy")
        ctypes.memmove(_host_address(mem, size, "copy_to_host"), self.ptr, size)

    def memset(self, value: int, size: int) -> None:
        ctypes.memset(self.ptr, int(value), self._size(size, "a memset"))

    def view(self, dtype, shape=None) -> np.ndarray:
        """The variable as a numpy array (what cupy.ndarray(shape, dtype, memptr=p) is on a GPU);
        writes to it are what the kernel reads. Shape: as many elements as fit, by default."""
        dtype = np.dtype(dtype)
        count = self.mem.size // dtype.itemsize if shape is None else int(np.prod(shape))
        if count * dtype.itemsize > self.mem.size:
            raise InputError(f"a {dtype} array of shape {shape} ({count * dtype.itemsize} bytes) does not fit "
                             f"{self.name} ({self.mem.size} bytes)")
        raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(self.ptr)
        # The module's library stays loaded for the life of the process (abi.load_module).
        return np.frombuffer(raw, dtype).reshape(shape if shape is not None else (count,))


def _host_address(mem, size: int, what: str) -> int:
    if isinstance(mem, (bytes, bytearray, memoryview)):
        mem = np.frombuffer(mem, np.uint8)  # no copy: the caller's object holds the bytes
    if isinstance(mem, int):
        return mem
    if isinstance(mem, ctypes.c_void_p):
        return mem.value or 0
    if isinstance(mem, (ctypes.Array, ctypes.Structure, ctypes._SimpleCData)):
        nbytes, address = ctypes.sizeof(mem), ctypes.addressof(mem)
    elif isinstance(mem, np.ndarray):
        if not mem.flags.c_contiguous:
            raise InputError(f"{what}: the numpy array must be C-contiguous")
        nbytes, address = mem.nbytes, mem.ctypes.data
    elif hasattr(mem, "data_ptr") and hasattr(mem, "is_contiguous"):  # a torch tensor
        if mem.device.type != "cpu" or not mem.is_contiguous():
            raise InputError(f"{what}: the tensor must be a contiguous CPU tensor")
        nbytes, address = mem.numel() * mem.element_size(), mem.data_ptr()
    else:
        raise InputError(f"{what}: expected an address (int), a ctypes object, a numpy array, a CPU tensor or "
                         f"bytes; got {type(mem).__name__}")
    if size > nbytes:
        raise InputError(f"{what}: {size} bytes asked of a {nbytes}-byte host buffer")
    return address


def module_global(library, path, name: str) -> MemoryPointer:
    """The `__constant__`/`__device__` variable `name` (as the source spells it, namespaces
    included) of the loaded module `library` (ctypes.CDLL) built at `path`."""
    table = abi.symbols(path)
    found = [s for s in table if s.type == "OBJECT" and s.name == name.lstrip(":").lstrip("&")]
    if not found:
        raise InputError(f"{path.name} has no __constant__ or __device__ variable named {name!r}"
                         " (kernels' variables only: name it as the source does, namespaces included)")
    anchor = next(s for s in table if s.name == "suite_launch_0")
    base = ctypes.cast(getattr(library, "suite_launch_0"), ctypes.c_void_p).value - anchor.value
    return MemoryPointer(base + found[0].value, found[0].size, name, library)
