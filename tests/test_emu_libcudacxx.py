"""libcu++ in kernels on the host backend: NVIDIA's CCCL headers (nvidia-cuda-cccl) compiled for
the host, with every blocking facility (cuda::barrier, cuda::pipeline, atomic wait) yielding to the
block's other threads instead of spinning its OS thread (libcu++ documentation's semantics)."""

import numpy as np
import torch

from suite.host import RawModule

CODE = r"""
#include <cuda/std/type_traits>
#include <cuda/std/limits>
#include <cuda/std/array>
#include <cuda/std/tuple>
#include <cuda/std/complex>
#include <cuda/std/atomic>
#include <cuda/atomic>
#include <cuda/barrier>
#include <cuda/pipeline>

// Values known from the libcu++ / C++ standard definitions.
extern "C" __global__ void facilities(double* out) {
    static_assert(cuda::std::is_same<cuda::std::make_unsigned_t<int>, unsigned>::value, "type_traits");
    cuda::std::array<int, 4> a{3, 1, 4, 1};
    const auto t = cuda::std::make_tuple(2, 0.5f, 'x');
    const cuda::std::complex<double> z(1.0, 2.0);
    out[0] = cuda::std::numeric_limits<float>::max();
    out[1] = cuda::std::numeric_limits<int>::min();
    out[2] = cuda::std::numeric_limits<double>::epsilon();
    out[3] = a[0] + a[1] * 10 + a[2] * 100 + a.size() * 1000;
    out[4] = cuda::std::get<0>(t) + cuda::std::get<1>(t);
    out[5] = (z * z).real();
    out[6] = (z * z).imag();
    out[7] = cuda::std::abs(cuda::std::complex<float>(3.0f, 4.0f));
}

// Every thread of every block adds its index through an atomic_ref.
extern "C" __global__ void atomic_sum(int* total, unsigned long long* wide) {
    cuda::atomic_ref<int, cuda::thread_scope_device> t(*total);
    t.fetch_add(int(threadIdx.x));
    cuda::atomic_ref<unsigned long long, cuda::thread_scope_device>(*wide).fetch_add(1ull << 33);
}

// Thread 0 arrives first and waits for the rest: the wait must let them run. Then the block
// reverses its values through shared memory across arrive_and_wait, twice (the barrier is reusable).
extern "C" __global__ void barrier_reverse(const int* x, int* out) {
    __shared__ cuda::barrier<cuda::thread_scope_block> bar;
    __shared__ int buf[128];
    if (threadIdx.x == 0) init(&bar, blockDim.x);
    __syncthreads();
    buf[threadIdx.x] = x[blockIdx.x * blockDim.x + threadIdx.x];
    bar.arrive_and_wait();
    const int v = buf[blockDim.x - 1 - threadIdx.x];
    bar.arrive_and_wait();
    buf[threadIdx.x] = v * 2;
    auto token = bar.arrive();
    bar.wait(cuda::std::move(token));
    out[blockIdx.x * blockDim.x + threadIdx.x] = buf[blockDim.x - 1 - threadIdx.x];
}

// Warp 0, which runs first, waits on a shared atomic until warp 1 has published: the wait must
// let warp 1 run (atomic wait/notify).
extern "C" __global__ void handoff(int* out) {
    __shared__ cuda::std::atomic<int> flag;
    __shared__ int data[32];
    if (threadIdx.x == 0) flag.store(0);
    __syncthreads();
    if (threadIdx.x < 32) {
        flag.wait(0);  // returns once warp 1 has stored 1000
        out[threadIdx.x] = data[threadIdx.x] + flag.load();
    } else {
        data[threadIdx.x - 32] = int(threadIdx.x - 32) * 3;
        __syncwarp();
        if (threadIdx.x == 32) { flag.store(1000); flag.notify_all(); }
    }
}

// A thread-scope pipeline: two stages of cuda::memcpy_async, consumed in order.
extern "C" __global__ void pipeline_copy(const float* x, float* out, int n) {
    __shared__ float stage[2][128];
    cuda::pipeline<cuda::thread_scope_thread> pipe = cuda::make_pipeline();
    const int i = threadIdx.x;
    for (int s = 0; s < 2; ++s) {
        pipe.producer_acquire();
        cuda::memcpy_async(&stage[s][i], &x[s * n + i], sizeof(float), pipe);
        pipe.producer_commit();
    }
    for (int s = 0; s < 2; ++s) {
        pipe.consumer_wait();
        out[s * n + i] = stage[s][i] + 1.0f;
        pipe.consumer_release();
    }
}
"""

_module = None


def module():
    global _module
    if _module is None:
        _module = RawModule(code=CODE)
    return _module


def test_type_traits_limits_array_tuple_complex():
    out = torch.zeros(8, dtype=torch.float64)
    module().get_function("facilities")((1,), (1,), (out,))
    o = out.numpy()
    assert o[0] == np.finfo(np.float32).max and o[1] == -(2**31) and o[2] == np.finfo(np.float64).eps
    assert o[3] == 3 + 10 + 400 + 4000 and o[4] == 2.5
    assert (o[5], o[6]) == (-3.0, 4.0) and o[7] == 5.0


def test_atomic_ref_across_blocks_and_workers():
    total, wide = torch.zeros(1, dtype=torch.int32), torch.zeros(1, dtype=torch.int64)
    module().get_function("atomic_sum")((16,), (64,), (total, wide))
    assert total.item() == 16 * sum(range(64)) and wide.item() == 16 * 64 * 2**33


def test_atomic_ref_is_not_a_race_under_racecheck():
    checked = RawModule(code=CODE, checks=("racecheck", "memcheck"))
    total, wide = torch.zeros(1, dtype=torch.int32), torch.zeros(1, dtype=torch.int64)
    checked.get_function("atomic_sum")((4,), (64,), (total, wide))
    assert total.item() == 4 * sum(range(64))


def test_barrier_waits_yield_to_the_threads_they_wait_for():
    x = torch.randint(-1000, 1000, (3 * 128,), dtype=torch.int32)
    out = torch.zeros_like(x)
    module().get_function("barrier_reverse")((3,), (128,), (x, out))
    assert torch.equal(out, x * 2)  # reversed twice


def test_atomic_wait_and_notify_between_warps():
    out = torch.zeros(32, dtype=torch.int32)
    module().get_function("handoff")((1,), (64,), (out,))
    assert torch.equal(out, torch.arange(32, dtype=torch.int32) * 3 + 1000)


def test_pipeline_and_memcpy_async():
    x = torch.randn(2 * 128)
    out = torch.zeros_like(x)
    module().get_function("pipeline_copy")((1,), (128,), (x, out, np.int32(128)))
    assert torch.equal(out, x + 1)
