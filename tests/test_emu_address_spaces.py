"""__isGlobal, __isShared and __isLocal (and PTX's isspacep) answer exactly (issue #25): local is a
fiber's stack, shared the block's __shared__ memory, global everything else, even a buffer mapped
right beside a fiber stack (a guess by distance from the caller's frame took it for local memory)."""

import ctypes
import mmap

import numpy as np
import pytest

from suite.backends.host_backend import HostBackend
from suite.emulator.build import source_for_code

CODE = r"""
#include "common/smem.cuh"

// One word per probe: bit 0 __isGlobal, bit 1 __isShared, bit 2 __isLocal.
constexpr int PROBES = 7;
__device__ __noinline__ void probe(const char* global, unsigned long long span, unsigned* out,
                                   unsigned long long* frames) {
    __shared__ int tile[4];
    extern __shared__ int dynamic[];
    SUITE_DYNAMIC_SMEM(int, dynamic_too);
    int local[4];
    local[threadIdx.x & 3] = threadIdx.x;
    const char* probes[PROBES] = {global, global + span / 2, global + span - 1, (const char*)local, (const char*)tile,
                                  (const char*)dynamic, (const char*)dynamic_too};
    for (int i = 0; i < PROBES; ++i)
        out[PROBES * threadIdx.x + i] = __isGlobal(probes[i]) | __isShared(probes[i]) << 1 | __isLocal(probes[i]) << 2;
    frames[threadIdx.x] = (unsigned long long)local;
    tile[local[threadIdx.x & 3] & 3] = dynamic[0] + dynamic_too[1];
}

// Probes from deep in the fiber stack, so that memory below the stack is near the frame.
extern "C" __global__ void spaces(const char* global, unsigned long long span, unsigned* out,
                                  unsigned long long* frames) {
    volatile char pad[160 * 1024];
    pad[threadIdx.x] = 0;
    probe(global, span, out, frames);
    pad[0] = pad[threadIdx.x];
}
"""

THREADS = 64
PAGE = mmap.PAGESIZE
MAP_FIXED_NOREPLACE = 0x100000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)


@pytest.fixture(scope="module")
def spaces():
    # One worker: both launches run on the same fiber stacks.
    return HostBackend(threads=1).load_module(source_for_code(CODE), ["spaces"]).get_function("spaces")


def run(spaces, buffer: np.ndarray):
    out = np.zeros((THREADS, 7), np.uint32)
    frames = np.zeros(THREADS, np.uint64)
    spaces((1,), (THREADS,), (buffer, np.uint64(buffer.nbytes), out, frames), shared_mem=64)
    return out, frames


def test_every_space_is_told_apart(spaces):
    out, _ = run(spaces, np.zeros(1 << 20, np.uint8))
    assert (out[:, :3] == 1).all()  # the argument's first, middle and last bytes: global
    assert (out[:, 3] == 4).all()   # a local array: local
    assert (out[:, 4:] == 2).all()  # static, extern and SUITE_DYNAMIC_SMEM __shared__: shared


def _map_free_page_below(address: int) -> int | None:
    """A page mapped at the first free address below `address` (within a fiber stack's 512 KiB
    region and as far again, past the guard pages below the stack), or None."""
    start = address // PAGE * PAGE
    for k in range(1, 2 * (512 * 1024) // PAGE + 1):
        want = start - k * PAGE
        got = _libc.mmap(want, PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                         mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
        if got == want:
            return got
        if got not in (None, ctypes.c_void_p(-1).value):
            _libc.munmap(got, PAGE)  # an old kernel took the address as a hint only
    return None


def test_global_memory_right_below_a_fiber_stack_is_global(spaces):
    _, frames = run(spaces, np.zeros(PAGE, np.uint8))
    page = _map_free_page_below(int(frames.min()))  # below the lowest stack's guard page
    if page is None:
        pytest.skip("no free page below the fiber stacks to map global memory into")
    try:
        buffer = np.ctypeslib.as_array((ctypes.c_uint8 * PAGE).from_address(page))
        out, near = run(spaces, buffer)
        assert int(near.min()) - page < 1024 * 1024  # the frame is near: a distance guess would call it local
        assert (out[:, :3] == 1).all(), out[:, :3]
        assert (out[:, 3] == 4).all()
    finally:
        _libc.munmap(page, PAGE)
