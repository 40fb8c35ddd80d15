"""Counts of real launches through the profiling hook (suite.host.profile()): the known answers of
issue 13 on kernels compiled from source, the wrappers counted as single instructions."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from profile_counts import assert_single_instructions, line_of
from suite.host import RawKernel, RawModule, profile

TRANSPOSE = r"""
extern "C" __global__ void transpose(const float* in, float* out) {
    __shared__ float tile[32][32 + PAD];
    const int x = threadIdx.x, y = threadIdx.y;
    tile[y][x] = in[y * 32 + x];
    __syncthreads();
    out[y * 32 + x] = tile[x][y];
}
"""


@pytest.mark.parametrize("pad, ways", [(0, 32), (1, 1)])
def test_transpose_through_shared_memory(pad, ways):
    kernel = RawKernel(TRANSPOSE, "transpose", options=(f"-DPAD={pad}",))
    x = torch.rand(32 * 32)
    out = torch.empty_like(x)
    with profile() as launches:
        kernel((1,), (32, 32), (x, out))
    assert torch.equal(out.view(32, 32), x.view(32, 32).T)
    (launch,) = launches
    read = line_of(launch, "shared", "load")
    assert read.requests == 32 and read.per_request("wavefronts") == ways
    assert line_of(launch, "shared", "store").per_request("wavefronts") == 1
    assert launch.bank_conflicts == 32 * (ways - 1)
    load = line_of(launch, "global", "load")
    assert (load.per_request("sectors"), load.per_request("ideal_sectors")) == (4, 4)
    assert launch.unique_bytes_loaded == launch.unique_bytes_stored == x.numel() * 4


STRIDED = r"""
extern "C" __global__ void gather(const float* in, float* out, int stride) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = in[i * stride];
}
"""


@pytest.mark.parametrize("stride, sectors", [(1, 4), (32, 32)])
def test_global_loads_by_stride(stride, sectors):
    kernel = RawKernel(STRIDED, "gather")
    x = torch.rand(4 * 64 * stride)
    out = torch.empty(4 * 64)
    with profile() as launches:
        kernel((4,), (64,), (x, out, np.int32(stride)))
    assert torch.equal(out, x[::stride])
    load = line_of(launches[0], "global", "load")
    assert load.requests == 8 and load.per_request("sectors") == sectors and load.per_request("ideal_sectors") == 4
    assert line_of(launches[0], "global", "store").per_request("sectors") == 4


WRAPPERS = r"""
#include "common/cp_async.cuh"
#include "common/tensor_core.cuh"

// A 16 x 64 half tile with row pitch PITCH elements: copied in by cp.async, read by ldmatrix.x4
// (lane L gives row L % 16, column 8 * (L / 16)), then one mma per warp.
extern "C" __global__ void wrappers(const __half* in, float* out) {
    __shared__ __align__(16) __half tile[16 * PITCH];
    const int lane = threadIdx.x;
    for (int c = lane; c < 16 * 8; c += 32) cp_async_16(tile + (c / 8) * PITCH + (c % 8) * 8, in + c * 8);
    cp_async_wait_all();
    __syncwarp();
    uint32_t a[4], b[2] = {0, 0};
    ldmatrix_x4(a, tile + (lane % 16) * PITCH + 8 * (lane / 16));
    float c[4] = {0, 0, 0, 0}, d[4];
    mma_m16n8k16<__half>(d, a, b, c);
    out[lane] = d[0] + __half2float(tile[lane]);
}
"""


@pytest.mark.parametrize("pitch, wavefronts", [(64, 32), (72, 4)])
def test_ldmatrix_cp_async_and_mma_are_single_instructions(pitch, wavefronts):
    module = RawModule(WRAPPERS, options=(f"-DPITCH={pitch}",))
    assert_single_instructions(module, "wrappers", wavefronts)


ZERO_FILL = r"""
#include "common/cp_async.cuh"

// 16 rows of 8 chunks (pitch 72 halves: conflict-free), some chunks zero-filled, which ones
// changing from lane to lane and from one copy to the next.
extern "C" __global__ void zero_fill(const __half* in, __half* out, int period) {
    __shared__ __align__(16) __half tile[16 * 72];
    const int lane = threadIdx.x;
    for (int c = lane; c < 16 * 8; c += 32)
        cp_async_16_zfill(tile + (c / 8) * 72 + (c % 8) * 8, in + c * 8, (c / 8 + c % 8) % period != 0);
    cp_async_wait_all();
    __syncwarp();
    for (int i = lane; i < 16 * 64; i += 32) out[i] = tile[(i / 64) * 72 + i % 64];
}
"""


def test_zero_filled_cp_async_lanes_stay_in_step_with_the_copying_ones():
    x = torch.rand(16 * 64).half()
    out = torch.empty(16 * 64).half()
    period = 3
    with profile() as launches:
        RawKernel(ZERO_FILL, "zero_fill")((1,), (32,), (x, out, np.int32(period)))
    chunk = torch.arange(16 * 64) // 8
    assert torch.equal(out, torch.where((chunk // 8 + chunk % 8) % period != 0, x, 0))
    store = line_of(launches[0], "shared", "store", "cp.async")
    # one request per copy of the loop, whichever lanes zero-fill: 4 phases of 8 lanes, one row each
    assert store.requests == 4 and store.threads == 128 and (store.wavefronts, store.ideal_wavefronts) == (16, 16)
    assert line_of(launches[0], "global", "load", "cp.async").requests == 4


CHECKED_FIRST = """
import sys, torch
sys.path.insert(0, sys.argv[1])
from test_profile_hook import WRAPPERS
from suite.host import RawModule, profile
x, out = torch.rand(16 * 64).half(), torch.empty(32)
RawModule(WRAPPERS, options=("-DPITCH=72",), checks=("memcheck",)).get_function("wrappers")((1,), (32,), (x, out))
with profile() as launches:
    RawModule(WRAPPERS, options=("-DPITCH=72",)).get_function("wrappers")((1,), (32,), (x, out))
print("mma", launches[0].mma)
"""


def test_a_kernel_run_under_the_checks_first_is_still_profiled_whole():
    # Apart, in a process where the profiler was never loaded: a checked build loaded before it
    # would keep its wrappers' marks unbound, and the mma would go uncounted.
    done = subprocess.run([sys.executable, "-c", CHECKED_FIRST, str(Path(__file__).parent)], capture_output=True,
                          text=True, timeout=300)
    assert "mma 1" in done.stdout, done.stdout + done.stderr
