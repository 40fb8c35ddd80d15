"""Host backend: barriers as sm_70+ runs them (issue #25) and the runtime's barrier API.

Named barriers with counts, arrivals counted rather than call sites, exited threads counting as
arrived, a grid-wide sync under a cooperative launch, and a spin handoff through a yield. The
kernels call the runtime's API (suite_host_barrier, ...) directly: on a GPU these are `bar.sync id,
count` / `bar.arrive` / this_grid().sync(), which the PTX translator and cooperative_groups map here.
"""

import numpy as np
import pytest
import torch

from suite.errors import KernelFault
from suite.host import RawModule

CODE = r"""
#define BAR_SYNC(id, count) suite_host_barrier(SUITE_HOST_SITE, id, count, -1, 0)
#define BAR_ARRIVE(id, count) suite_host_barrier_arrive(SUITE_HOST_SITE, id, count)

// Warp 0 produces, warps 1-2 consume, through a shared tile and two named barriers of 96 threads
// (the classic producer/consumer pair: "full" = 1, "empty" = 2). Warp 3 meanwhile works alone
// and never touches barriers 1 and 2, so they open without it.
extern "C" __global__ void producer_consumer(const float* x, float* y, float* side, int rounds) {
    __shared__ float tile[64];
    const int t = threadIdx.x, warp = t / 32;
    if (warp == 0) {
        for (int r = 0; r < rounds; ++r) {
            if (r > 0) BAR_SYNC(2, 96);  // wait until the consumers emptied the tile
            tile[t] = x[r * 64 + t] * 2.0f;
            tile[t + 32] = x[r * 64 + t + 32] * 2.0f;
            BAR_ARRIVE(1, 96);  // full; go on without waiting
        }
    } else if (warp <= 2) {
        const int c = t - 32;
        for (int r = 0; r < rounds; ++r) {
            BAR_SYNC(1, 96);
            y[r * 64 + c] = tile[c] + 1.0f;
            if (r + 1 < rounds) BAR_ARRIVE(2, 96);
        }
    } else {
        float acc = 0.0f;
        for (int r = 0; r < rounds; ++r) acc += x[r * 64 + t - 96];
        side[t - 96] = acc;
    }
}

// One helper with a barrier, inlined into both branches: g++ makes two copies of the same
// __syncthreads (two code addresses, one source line). Each thread then reads its mirror's slot.
__forceinline__ __device__ void publish(float* s, float v) {
    s[threadIdx.x] = v;
    __syncthreads();
}

extern "C" __global__ void duplicated_barrier(const float* x, float* y) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    if (x[t] > 0.0f) publish(s, x[t] * 3.0f);
    else publish(s, -x[t]);
    y[t] = s[blockDim.x - 1 - t];
}

// The two halves of the block reach __syncthreads at different lines, the same number of times.
extern "C" __global__ void halves(const int* x, int* y, int rounds) {
    __shared__ int s[128];
    const int t = threadIdx.x;
    int v = x[t];
    for (int r = 0; r < rounds; ++r) {
        s[t] = v;
        if (t < 64) {
            __syncthreads();
            v += s[t + 64];
        } else {
            __syncthreads();
            v -= s[t - 64];
        }
        __syncthreads();
    }
    y[t] = v;
}

// Threads at or past n exit before the barriers: the rest still get through, and the votes
// of __syncthreads_count are over those that arrived.
extern "C" __global__ void exits_count_as_arrived(const int* p, int* out, int n) {
    const int t = threadIdx.x;
    if (t >= n) return;
    const int votes = __syncthreads_count(p[t]);
    __syncthreads();
    out[t] = votes;
}

// Each block writes its slot, syncs the grid, then reads every block's slot.
extern "C" __global__ void grid_sum(const float* x, float* partial, float* out, int rounds) {
    __shared__ float s[64];
    const int t = threadIdx.x, b = blockIdx.x;
    float total = 0.0f;
    for (int r = 0; r < rounds; ++r) {
        s[t] = x[(r * gridDim.x + b) * blockDim.x + t];
        __syncthreads();
        if (t == 0) {
            float acc = 0.0f;
            for (int i = 0; i < blockDim.x; ++i) acc += s[i];
            partial[r * gridDim.x + b] = acc;
        }
        suite_host_grid_sync(SUITE_HOST_SITE);
        for (int i = 0; i < gridDim.x; ++i) total += partial[r * gridDim.x + i];
    }
    out[b * blockDim.x + t] = total;
}

// Warp 1 spins on a flag that warp 0 sets after its work, yielding while it waits.
extern "C" __global__ void spin_handoff(const int* x, int* y) {
    __shared__ volatile int flag;
    __shared__ int value[32];
    const int t = threadIdx.x;
    if (t == 0) flag = 0;
    __syncthreads();
    if (t < 32) {
        value[t] = x[t] * 7;
        __threadfence_block();
        if (t == 31) flag = 1;
    } else {
        while (flag == 0) suite_host_yield(SUITE_HOST_SITE);
        y[t - 32] = value[t - 32];
    }
}

extern "C" __global__ void wrong_count(int* out) {
    BAR_SYNC(1, threadIdx.x < 32 ? 64 : 96);
    out[threadIdx.x] = 1;
}

extern "C" __global__ void odd_count(int* out) {
    BAR_SYNC(3, 40);
    out[threadIdx.x] = 1;
}

extern "C" __global__ void named_deadlock(int* out) {
    if (threadIdx.x < 32) BAR_SYNC(5, 96);
    out[threadIdx.x] = 1;
}
"""

NAMES = ["producer_consumer", "duplicated_barrier", "halves", "exits_count_as_arrived", "grid_sum", "spin_handoff",
         "wrong_count", "odd_count", "named_deadlock"]  # fmt: skip


@pytest.fixture(scope="module")
def module():
    # toolchain none: these kernels call the runtime API (suite_host_barrier) directly, which only the host has
    return RawModule(code=CODE, name_expressions=NAMES, toolchain="none")


def _line(text: str) -> int:
    return next(i for i, line in enumerate(CODE.splitlines(), 1) if text in line)


@pytest.mark.parametrize("rounds", [1, 5])
def test_producer_consumer_warps_with_named_barriers(module, rounds):
    x = torch.randn(rounds * 64, generator=torch.Generator().manual_seed(rounds))
    y, side = torch.full_like(x, float("nan")), torch.zeros(32)
    module.get_function("producer_consumer")((2,), (128,), (x, y, side, np.int32(rounds)))
    assert torch.equal(y, x * 2.0 + 1.0)
    torch.testing.assert_close(side, x.view(rounds, 2, 32)[:, 0].sum(0))


def test_a_barrier_the_compiler_duplicated_is_one_barrier(module):
    x = torch.randn(256, generator=torch.Generator().manual_seed(4))
    y = torch.zeros(256)
    module.get_function("duplicated_barrier")((3,), (256,), (x, y))
    published = torch.where(x > 0, x * 3.0, -x)
    assert torch.equal(y, published.flip(0))


def test_two_halves_at_different_call_sites(module):
    x = torch.randint(-50, 50, (128,), dtype=torch.int32, generator=torch.Generator().manual_seed(5))
    y = torch.zeros(128, dtype=torch.int32)
    module.get_function("halves")((1,), (128,), (x, y, np.int32(3)))
    lo, hi = x[:64].clone(), x[64:].clone()
    for _ in range(3):
        lo, hi = lo + hi, hi - lo  # each half reads the other's value from before the round
    assert torch.equal(y, torch.cat([lo, hi]))


@pytest.mark.parametrize("n", [1, 37, 96])
def test_threads_that_exit_count_as_arrived(module, n):
    p = torch.randint(0, 2, (96,), dtype=torch.int32, generator=torch.Generator().manual_seed(n))
    out = torch.full((96,), -1, dtype=torch.int32)
    module.get_function("exits_count_as_arrived")((1,), (96,), (p, out, np.int32(n)))
    assert bool((out[:n] == int(p[:n].sum())).all()) and bool((out[n:] == -1).all())


@pytest.mark.parametrize("blocks", [1, 6])
def test_grid_sync_under_a_cooperative_launch(module, blocks):
    rounds = 3
    x = torch.randn(rounds * blocks * 64, generator=torch.Generator().manual_seed(blocks))
    partial, out = torch.zeros(rounds * blocks), torch.zeros(blocks * 64)
    module.get_function("grid_sum")((blocks,), (64,), (x, partial, out, np.int32(rounds)), enable_cooperative_groups=True)
    torch.testing.assert_close(partial, x.view(rounds * blocks, 64).sum(1))
    # every thread summed the same partials in the same order
    torch.testing.assert_close(out, partial.view(rounds, blocks).sum(1).sum().expand(blocks * 64), rtol=1e-5, atol=1e-4)
    assert bool((out == out[0]).all())


def test_grid_sync_without_a_cooperative_launch_is_a_fault(module):
    with pytest.raises(KernelFault) as info:
        module.get_function("grid_sum")((2,), (64,), (torch.zeros(128), torch.zeros(2), torch.zeros(128), np.int32(1)))
    message = str(info.value)
    assert "needs a cooperative launch" in message and f":{_line('suite_host_grid_sync(SUITE_HOST_SITE)')})" in message


def test_a_cooperative_launch_too_large_for_the_host_is_refused(module):
    with pytest.raises(KernelFault, match="cooperative launch of 1024 block"):
        module.get_function("grid_sum")((1024,), (64,), (torch.zeros(1), torch.zeros(1), torch.zeros(1), np.int32(0)),
                                        enable_cooperative_groups=True)  # fmt: skip


def test_yield_hands_over_to_the_other_warp(module):
    x = torch.randint(-1000, 1000, (32,), dtype=torch.int32, generator=torch.Generator().manual_seed(9))
    y = torch.zeros(32, dtype=torch.int32)
    module.get_function("spin_handoff")((2,), (64,), (x, y))
    assert torch.equal(y, x * 7)


@pytest.mark.parametrize(
    "name,expect",
    [
        ("wrong_count", "bar.sync 1 ({}) expects 96 thread(s) while 32 thread(s) arrived at it"),
        ("odd_count", "bar.sync 3, 40 ({}): the thread count must be a multiple of 32"),
        ("named_deadlock", "deadlock: no thread of the block can continue. Threads 0-31 wait at bar.sync 5, 96 ({})"),
    ],
)
def test_barrier_misuse_is_a_fault_naming_the_site(module, name, expect):
    with pytest.raises(KernelFault) as info:
        module.get_function(name)((1,), (128,), (torch.zeros(128, dtype=torch.int32),))
    site = next(text for text in CODE[CODE.index(f"void {name}(") :].splitlines() if "BAR_SYNC" in text)
    line = CODE.splitlines().index(site) + 1
    assert expect.format(f"{module._source}:{line}") in str(info.value), str(info.value)


def test_cooperative_launches_reach_the_checked_runtime():
    # `halves` is plain CUDA (the checks also build every kernel with NVRTC): a cooperative launch of
    # it runs under memcheck, and racecheck, which cannot order blocks by a grid sync, refuses one.
    # (Its blocks all write the first 128 elements, the same values: fine for memcheck.)
    portable = CODE[CODE.index("// The two halves") : CODE.index("// Threads at or past n")]
    x = torch.randint(-50, 50, (3 * 128,), dtype=torch.int32, generator=torch.Generator().manual_seed(12))
    plain, checked = torch.zeros_like(x), torch.zeros_like(x)
    args = (np.int32(2),)
    RawModule(code=portable, name_expressions=["halves"]).get_function("halves")((3,), (128,), (x, plain, *args))
    memcheck = RawModule(code=portable, name_expressions=["halves"], checks=("memcheck",))
    memcheck.get_function("halves")((3,), (128,), (x, checked, *args), enable_cooperative_groups=True)
    assert torch.equal(checked, plain)
    racecheck = RawModule(code=portable, name_expressions=["halves"], checks=("racecheck",))
    with pytest.raises(KernelFault, match="racecheck does not cover cooperative launches"):
        racecheck.get_function("halves")((3,), (128,), (x, checked, *args), enable_cooperative_groups=True)
    racecheck.get_function("halves")((1,), (128,), (x, checked, *args))  # not cooperative: checked as ever
