"""Shared memory as on a GPU (issue #25): every `extern __shared__` array, however and wherever it
is declared (several per kernel, one per type, inside function templates, class templates and
namespaces), starts at the first byte of the one dynamic shared memory window."""

import numpy as np
import pytest

from suite.host import RawModule

CODE = r"""
// The CUDA samples' idiom: the array is declared in a member function of a class template.
template <class T> struct SharedMemory {
    __device__ inline operator T*() { extern __shared__ int __smem[]; return (T*)__smem; }
};
template <typename T>
__global__ void scan(const T* x, T* y) {
    T* s = SharedMemory<T>();
    s[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    T acc = 0;
    for (unsigned i = 0; i <= threadIdx.x; ++i) acc += s[i];
    y[threadIdx.x] = acc;
}
template <typename T>
__device__ T* dynamic_as() { extern __shared__ __align__(sizeof(T)) unsigned char raw[]; return reinterpret_cast<T*>(raw); }

// One array per type, as kernels that reinterpret their dynamic shared memory declare them.
extern "C" __global__ void two_views(const float* x, unsigned* bits, unsigned* same) {
    extern __shared__ float as_float[];
    extern __shared__ unsigned as_bits[];
    as_float[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    bits[threadIdx.x] = as_bits[threadIdx.x];
    same[threadIdx.x] = (void*)as_float == (void*)dynamic_as<double>() && (void*)as_bits == (void*)SharedMemory<char>();
}
namespace inner {
__global__ void reverse(const float* x, float* y) {
    extern __shared__ float z[];
    z[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    y[threadIdx.x] = z[blockDim.x - 1 - threadIdx.x];
}
}
"""
NAMES = ["scan<float>", "scan<int>", "two_views", "inner::reverse"]


@pytest.mark.parametrize("checks", [None, ("memcheck", "racecheck")])
def test_every_extern_shared_array_is_the_dynamic_window(checks):
    module = RawModule(CODE, name_expressions=NAMES, checks=checks)
    rng = np.random.default_rng(11)
    for name, dtype in (("scan<float>", np.float32), ("scan<int>", np.int32)):
        x = rng.integers(-50, 50, 64).astype(dtype)
        y = np.zeros_like(x)
        module.get_function(name)((1,), (64,), (x, y), shared_mem=64 * 4)
        np.testing.assert_array_equal(y, np.cumsum(x).astype(dtype))
    x = rng.standard_normal(64).astype(np.float32)
    bits, same = np.zeros(64, np.uint32), np.zeros(64, np.uint32)
    module.get_function("two_views")((1,), (64,), (x, bits, same), shared_mem=64 * 4)
    np.testing.assert_array_equal(bits, x.view(np.uint32))
    assert same.all()
    y = np.zeros_like(x)
    module.get_function("inner::reverse")((1,), (64,), (x, y), shared_mem=64 * 4)
    np.testing.assert_array_equal(y, x[::-1])
