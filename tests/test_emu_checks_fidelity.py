"""Checks that are right (issue #25): planted races reported as races, a cp.async destination read
by another thread before any wait reported, a wild store named as such, a volatile flag handoff clean."""

import numpy as np
import pytest

from suite.errors import KernelFault
from suite.host import RawModule

CODE = r"""
#include "common/cp_async.cuh"

extern "C" __global__ void sum_race(const float* x, float* out) {
    __shared__ float sum;
    if (threadIdx.x == 0) sum = 0;
    __syncthreads();
    sum += x[threadIdx.x];                                   // every thread, unordered
    __syncthreads();
    if (threadIdx.x == 0) out[0] = sum;
}
extern "C" __global__ void race_after_syncwarp(const float* x, float* out) {
    __shared__ float s[64];
    s[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    __syncwarp();
    float v = s[(threadIdx.x + 32) % 64];                     // the other warp's element...
    s[threadIdx.x] = v * 2;                                   // ...which that warp overwrites
    __syncthreads();
    out[threadIdx.x] = s[threadIdx.x];
}
extern "C" __global__ void race_after_shuffle(const float* x, float* out) {
    __shared__ float s[64];
    s[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    float t = __shfl_xor_sync(0xffffffff, s[threadIdx.x], 1);
    s[(threadIdx.x + 32) % 64] = t;                           // the other warp may still read it
    __syncthreads();
    out[threadIdx.x] = s[threadIdx.x];
}
extern "C" __global__ void async_read_without_wait(const float* x, float* out) {
    __shared__ __align__(16) float s[64];
    if (threadIdx.x < 16) cp_async_16(&s[4 * threadIdx.x], &x[4 * threadIdx.x]);
    cp_async_commit();
    __syncthreads();                                          // orders the issue, not the copy
    out[threadIdx.x] = s[(threadIdx.x * 4 + 36) % 64];        // another thread's copy
    cp_async_wait_all();
}
extern "C" __global__ void async_read_after_wait(const float* x, float* out) {
    __shared__ __align__(16) float s[64];
    if (threadIdx.x < 16) cp_async_16(&s[4 * threadIdx.x], &x[4 * threadIdx.x]);
    cp_async_wait_all();
    __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x * 4 + 36) % 64];
}
extern "C" __global__ void wild_store(const float* x) {
    extern __shared__ float window[];
    float* p = (float*)((char*)window + (64 << 20));          // 64 MiB past the window: in no allocation
    if (threadIdx.x == 0) *p = x[0];
}
extern "C" __global__ void volatile_handoff(const int* x, int* out) {
    volatile __shared__ int flag;
    if (threadIdx.x == 0) flag = 0;
    __syncthreads();
    if (threadIdx.x == 32) flag = x[0];                       // another warp sets it...
    if (threadIdx.x == 0) { int v; while ((v = flag) == 0) {} out[0] = v; }   // ...this one spins on it
}
"""


@pytest.fixture(scope="module")
def racecheck():
    return RawModule(CODE, checks=("racecheck",))


def _fault(module, name, args, shared_mem=0) -> str:
    with pytest.raises(KernelFault) as info:
        module.get_function(name)((1,), (64,), args, shared_mem=shared_mem)
    return str(info.value)


@pytest.mark.parametrize("name", ["sum_race", "race_after_syncwarp", "race_after_shuffle"])
def test_a_race_between_two_syncthreads_is_reported_as_a_race(racecheck, name):
    x = np.random.default_rng(5).standard_normal(64).astype(np.float32)
    message = _fault(racecheck, name, (x, np.zeros(64, np.float32)))
    assert "racecheck:" in message and "hazard on __shared__ memory" in message, message
    assert "barrier divergence" not in message


def test_a_cp_async_destination_read_by_another_thread_before_the_wait_is_reported(racecheck):
    x = np.random.default_rng(6).standard_normal(64).astype(np.float32)
    message = _fault(racecheck, "async_read_without_wait", (x, np.zeros(64, np.float32)))
    assert "before the cp.async.wait_group that covers the cp.async writing it" in message
    out = np.zeros(64, np.float32)
    racecheck.get_function("async_read_after_wait")((1,), (64,), (x, out))
    np.testing.assert_array_equal(out, x[(np.arange(64) * 4 + 36) % 64])


def test_a_store_through_a_wild_pointer_is_a_wild_global_access():
    module = RawModule(CODE, checks=("memcheck",))
    message = _fault(module, "wild_store", (np.ones(4, np.float32),), shared_mem=256)
    assert "memcheck: invalid __global__ write of 4 bytes" in message and "a wild pointer, the address is in no allocation" in message
    assert "shared" not in message


def test_a_spin_on_a_volatile_flag_set_by_another_warp_is_not_a_race(racecheck):
    out = np.zeros(1, np.int32)
    racecheck.get_function("volatile_handoff")((1,), (64,), (np.int32([42]), out))
    assert out[0] == 42
