"""Static __shared__ arrays as a GPU lays them out (issue #25): 16-byte aligned whatever their type
(ptxas packs them from offset 0, so vector stores into a __half array work there), and a
function-scope array of a class type (__half) is no memory the checks report for its C++ guard."""

import numpy as np
import torch

from suite.host import RawModule

ALL = ("memcheck", "racecheck", "initcheck", "synccheck")

CODE = r"""
#include <cuda_bf16.h>
#include <cuda_fp16.h>

// cuda_hgemm's mmaNaive pattern: int4 stores into __half tiles, after a tile of an odd size.
extern "C" __global__ void int4_through_half(const int4* in, int4* out, unsigned long long* addresses) {
    __shared__ char odd[3];
    __shared__ __half tile[64];
    __shared__ __half tile2[8][8];
    if (threadIdx.x < 3) odd[threadIdx.x] = char(threadIdx.x);
    reinterpret_cast<int4*>(tile)[threadIdx.x] = in[threadIdx.x];
    reinterpret_cast<int4*>(tile2[threadIdx.x])[0] = in[7 - threadIdx.x];
    __syncthreads();
    int4 v = reinterpret_cast<const int4*>(tile)[7 - threadIdx.x];
    v.x += odd[threadIdx.x % 3];
    out[threadIdx.x] = v;
    out[8 + threadIdx.x] = reinterpret_cast<const int4*>(tile2[threadIdx.x])[0];
    if (threadIdx.x == 0) {
        addresses[0] = (unsigned long long)tile;
        addresses[1] = (unsigned long long)tile2;
        addresses[2] = (unsigned long long)odd;
    }
}

// A function-scope array of __half: g++ guards its (empty) initialisation with a thread-local flag.
template <typename T>
__global__ void guarded_tile(const float* x, float* y) {
    __shared__ T tile[64];
    tile[threadIdx.x] = T(x[64 * blockIdx.x + threadIdx.x]);
    __syncthreads();
    y[64 * blockIdx.x + threadIdx.x] = float(tile[63 - threadIdx.x]);
}
"""

GUARDED = ("guarded_tile<__half>", "guarded_tile<__nv_bfloat16>")


def test_int4_stores_into_half_arrays_land_aligned_under_memcheck():
    module = RawModule(code=CODE, checks=ALL, name_expressions=("int4_through_half",))
    data = torch.randint(-2**31, 2**31 - 1, (8, 4), dtype=torch.int32)
    out = torch.zeros(16, 4, dtype=torch.int32)
    addresses = np.zeros(3, np.uint64)
    module.get_function("int4_through_half")((1,), (8,), (data, out, addresses))
    expected = data.flip(0).clone()
    expected[:, 0] += torch.arange(8, dtype=torch.int32) % 3
    assert torch.equal(out[:8], expected) and torch.equal(out[8:], data.flip(0))
    assert (addresses % 16 == 0).all(), [hex(a) for a in addresses]


def test_a_function_scope_half_array_runs_every_check_clean():
    module = RawModule(code=CODE, checks=ALL, name_expressions=GUARDED)
    x = torch.randn(3, 64)
    for name, dtype in zip(GUARDED, (torch.float16, torch.bfloat16)):
        y = torch.zeros(3, 64)
        module.get_function(name)((3,), (64,), (x, y))  # later blocks find the guard set
        assert torch.equal(y, x.to(dtype).float().flip(1)), name
