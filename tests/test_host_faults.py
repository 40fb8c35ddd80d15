"""Host backend: misbehaving kernels raise KernelFault naming the kernel, block, thread and site;
the process survives and later launches work."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from suite.errors import KernelFault
from suite.host import RawModule

CODE = r"""
extern "C" __global__ void divergent_sites(int* out) {
    if (threadIdx.x < 32) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

extern "C" __global__ void early_return(const int* x, int* out, int n) {
    const int i = threadIdx.x;
    if (i >= n) return;
    __syncthreads();
    out[i] = x[i];
}

extern "C" __global__ void shuffle_with_exited_lane(int* out) {
    if (threadIdx.x == 5) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, int(threadIdx.x), 1);
}

extern "C" __global__ void warp_waits_for_barrier(int* out) {
    int v = threadIdx.x;
    if (threadIdx.x % 32 < 16) v = __shfl_sync(0xffffffffu, v, 0);
    else __syncthreads();
    out[threadIdx.x] = v;
}

extern "C" __global__ void mask_without_self(int* out) {
    out[threadIdx.x] = __shfl_sync(0x1u, 1, 0);
}

extern "C" __global__ void wild_pointer(float* x, long long offset) {
    if (blockIdx.x == 2 && threadIdx.x == 7) x[offset] = 1.0f;
}

extern "C" __global__ void failing_assert(const int* x) {
    assert(x[threadIdx.x] >= 0);
}

extern "C" __global__ void divide(const int* x, int* out) {
    out[threadIdx.x] = 100 / x[threadIdx.x];
}

extern "C" __global__ void deep_locals(float* out, int n) {
    float big[200000];  // 800 KB: more than a fiber's stack
    for (int i = 0; i < n; ++i) big[i] = i;
    out[threadIdx.x] = big[n - 1];
}

extern "C" __global__ void fine(int* out) { out[threadIdx.x] = threadIdx.x; }
"""

NAMES = ["divergent_sites", "early_return", "shuffle_with_exited_lane", "warp_waits_for_barrier", "mask_without_self",
         "wild_pointer", "failing_assert", "divide", "deep_locals", "fine"]  # fmt: skip


@pytest.fixture(scope="module")
def module():
    return RawModule(code=CODE, name_expressions=NAMES)


def _fault(module, name, grid, block, args) -> str:
    with pytest.raises(KernelFault) as info:
        module.get_function(name)(grid, block, args)
    message = str(info.value)
    assert message.startswith(f"kernel {name}, block ("), message
    # and the process still runs kernels
    out = torch.zeros(64, dtype=torch.int32)
    module.get_function("fine")((1,), (64,), (out,))
    assert torch.equal(out, torch.arange(64, dtype=torch.int32))
    return message


def _line(text: str) -> int:
    return next(i for i, line in enumerate(CODE.splitlines(), 1) if text in line)


def test_barrier_at_different_sites_is_one_barrier(module):
    # sm_70+ counts arrivals at barrier 0, wherever each thread called __syncthreads: not a fault.
    out = torch.zeros(64, dtype=torch.int32)
    module.get_function("divergent_sites")((2,), (64,), (out,))
    assert bool((out == 1).all())


def test_barrier_after_early_return_counts_exited_threads_as_arrived(module):
    # PTX `exit`: an exited thread counts as arrived at every barrier, so this kernel is correct on a GPU.
    x = torch.randint(-1000, 1000, (64,), dtype=torch.int32, generator=torch.Generator().manual_seed(3))
    out = torch.full((64,), -7, dtype=torch.int32)
    module.get_function("early_return")((1,), (64,), (x, out, np.int32(40)))
    assert torch.equal(out[:40], x[:40]) and bool((out[40:] == -7).all())


def test_warp_collective_naming_an_exited_lane(module):
    message = _fault(module, "shuffle_with_exited_lane", (1,), (32,), (torch.zeros(32, dtype=torch.int32),))
    assert "__shfl_xor_sync" in message and "lane 5" in message and "exited" in message


def test_deadlock_between_warp_collective_and_barrier(module):
    message = _fault(module, "warp_waits_for_barrier", (1,), (64,), (torch.zeros(64, dtype=torch.int32),))
    assert "deadlock" in message
    assert "__shfl_sync (" in message and "__syncthreads (" in message
    assert "Threads 0-15, 32-47 wait at __shfl_sync" in message


def test_mask_must_name_the_calling_lane(module):
    message = _fault(module, "mask_without_self", (1,), (32,), (torch.zeros(32, dtype=torch.int32),))
    assert "does not name the calling lane" in message


def test_segfault_names_kernel_block_thread_and_address(module):
    x = torch.zeros(16)
    offset = 1 << 40
    message = _fault(module, "wild_pointer", (4,), (32,), (x, np.int64(offset)))
    assert "block (2, 0, 0), thread (7, 0, 0)" in message and "SIGSEGV" in message
    assert f"0x{x.data_ptr() + 4 * offset:x}" in message


RESET_HANDLERS = """
import ctypes, numpy as np, torch
from suite.host import RawKernel
from suite.errors import KernelFault
wild = RawKernel('extern "C" __global__ void wild(float* x, long long o) { x[o] = 1.0f; }', "wild")
for attempt in range(2):
    try:
        wild((1,), (32,), (torch.zeros(16), np.int64(1 << 40)))
    except KernelFault as fault:
        print("fault:", str(fault)[:60])
    ctypes.CDLL(None).signal(11, None)  # SIG_DFL, as Ray leaves SIGSEGV after its own use
"""


def test_a_fault_is_still_a_fault_after_another_library_took_the_signal_handlers():
    # Apart: without our handler the second fault would end the process (as it did after Ray).
    done = subprocess.run([sys.executable, "-c", RESET_HANDLERS], capture_output=True, text=True, timeout=120)
    assert done.stdout.count("fault: kernel wild, block (0, 0, 0)") == 2, done.stdout + done.stderr


def test_failed_assert_is_a_fault(module):
    x = torch.arange(32, dtype=torch.int32) - 3
    message = _fault(module, "failing_assert", (1,), (32,), (x,))
    assert "assertion failed: x[threadIdx.x] >= 0" in message and f":{_line('assert(x')}" in message


def test_integer_division_by_zero_is_a_fault(module):
    x = torch.ones(32, dtype=torch.int32)
    x[9] = 0
    message = _fault(module, "divide", (1,), (32,), (x, torch.zeros(32, dtype=torch.int32)))
    assert "SIGFPE" in message and "thread (9, 0, 0)" in message


def test_stack_overflow_is_a_fault(module):
    message = _fault(module, "deep_locals", (1,), (2,), (torch.zeros(2), np.int32(200000)))
    assert "stack overflow" in message
