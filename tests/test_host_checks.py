"""Checking modes of the host backend, each with a planted bug in a small kernel (and the fixed
kernel passing, with correct results)."""

import numpy as np
import pytest
import torch

from suite.backends.host_backend import HostBackend
from suite.backends.host_build import source_for_code
from suite.errors import KernelFault

CODE = r"""
extern "C" __global__ void copy_upto(const float* x, float* y, int n, int last) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= last) y[i] = x[i];  // last = n - 1 is right, last = n reads and writes one past the end
}

extern "C" __global__ void shift_left(const float* x, float* y, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i - 1];  // reads x[-1] at i = 0
}

extern "C" __global__ void rotate(const float* x, float* y, int with_barrier) {
    __shared__ float s[64];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = x[i];
    if (with_barrier) __syncthreads();
    y[i] = s[(threadIdx.x + 1) % blockDim.x];
}

extern "C" __global__ void last_block_wins(int* out) {
    if (threadIdx.x == 0) out[0] = blockIdx.x;
}

extern "C" __global__ void accumulate(const float* x, float* y, float* total, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] += x[i];  // read-modify-write output: every element written
        atomicAdd(total, x[i]);
    }
}
"""


def kernel(name, checks):
    module = HostBackend(checks=checks, threads=2).load_module(source_for_code(CODE), [
        "copy_upto", "shift_left", "rotate", "last_block_wins", "accumulate"])  # fmt: skip
    return module.get_function(name)


def test_memcheck_finds_an_overflow_by_one_element():
    x = torch.randn(1000)
    y = torch.zeros(1000)
    kernel("copy_upto", {"memcheck"})((4,), (256,), (x, y, np.int32(1000), np.int32(999)))
    assert torch.equal(y, x)  # results come back from the guarded copies
    kernel("copy_upto", set())((4,), (256,), (x, y, np.int32(1000), np.int32(1000)))  # unseen without memcheck
    with pytest.raises(KernelFault) as info:
        kernel("copy_upto", {"memcheck"})((4,), (256,), (x, y, np.int32(1000), np.int32(1000)))
    message = str(info.value)
    assert message.startswith("kernel copy_upto, block (3, 0, 0), thread (232, 0, 0)")
    assert "past the end of argument 0 (float32[1000], 4000 bytes) at byte offset 4000, element 1000" in message


def test_memcheck_finds_an_underflow():
    x, y = torch.randn(300), torch.zeros(300)
    with pytest.raises(KernelFault, match=r"thread \(0, 0, 0\).*4 bytes before the start of argument 0 \(float32\[300\]"):
        kernel("shift_left", {"memcheck"})((2,), (256,), (x, y, np.int32(300)))


def test_memcheck_keeps_aliasing_between_views_of_one_tensor():
    data = torch.randn(2000)
    x, y = data[:1000], data[1000:]
    expect = data[:1000].clone()
    kernel("copy_upto", {"memcheck"})((4,), (256,), (x, y, np.int32(1000), np.int32(999)))
    assert torch.equal(data[1000:], expect) and torch.equal(data[:1000], expect)


def test_racecheck_finds_a_missing_barrier():
    x = torch.randn(64 * 5)
    y = torch.zeros_like(x)
    kernel("rotate", {"racecheck"})((5,), (64,), (x, y, np.int32(1)))
    assert torch.equal(y, x.view(5, 64).roll(-1, 1).reshape(-1))
    with pytest.raises(KernelFault, match=r"racecheck: kernel rotate gives another result with threads and blocks in reverse order: argument 1 \(float32\[320\]\) differs"):
        kernel("rotate", {"racecheck"})((5,), (64,), (x, y, np.int32(0)))


def test_racecheck_finds_blocks_writing_the_same_element():
    with pytest.raises(KernelFault, match="racecheck: kernel last_block_wins"):
        kernel("last_block_wins", {"racecheck"})((8,), (32,), (torch.zeros(1, dtype=torch.int32),))


def test_racecheck_tolerates_float_atomics_in_another_order():
    x = torch.randn(5000)
    y, total = torch.zeros(5000), torch.zeros(1)
    kernel("accumulate", {"racecheck"})((20,), (256,), (x, y, total, np.int32(5000)))
    torch.testing.assert_close(total.double(), x.double().sum().reshape(1), rtol=1e-4, atol=1e-3)


def test_initcheck_finds_an_unwritten_output_element():
    x = torch.randn(1000)
    y = torch.zeros(1000)
    with pytest.raises(KernelFault, match=r"initcheck: kernel copy_upto never wrote 1 of 1000 elements of argument 1 \(float32\[1000\]\).*first at index 999"):
        kernel("copy_upto", {"initcheck"})((4,), (256,), (x, y, np.int32(1000), np.int32(998)))
    y.zero_()
    kernel("copy_upto", {"initcheck"})((4,), (256,), (x, y, np.int32(1000), np.int32(999)))
    assert torch.equal(y, x)


def test_initcheck_leaves_declared_accumulators_alone():
    """A scatter adds into some elements of a zeroed buffer: declared, its untouched elements are fine."""
    x, y = torch.randn(1000), torch.zeros(1000)
    scatter = kernel("copy_upto", {"initcheck"})
    scatter.accumulators = frozenset({1})
    scatter((4,), (256,), (x, y, np.int32(1000), np.int32(600)))
    assert torch.equal(y[:601], x[:601]) and not y[601:].any()


def test_initcheck_accepts_read_modify_write_outputs():
    x, y, total = torch.randn(700), torch.randn(700), torch.zeros(1)
    expect = y + x
    kernel("accumulate", {"initcheck", "memcheck", "racecheck"})((3,), (256,), (x, y, total, np.int32(700)))
    assert torch.equal(y, expect)
