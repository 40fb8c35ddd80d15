"""Host backend: thread indices, math and bit built-ins, half/bf16, atomics, shared memory."""

import numpy as np
import pytest
import torch

from suite.host import RawModule

CODE = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include "common/smem.cuh"

// One row of 10 ints per thread: its thread, block and dimension indices.
extern "C" __global__ void indices(int* out) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    int* row = out + 10 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
    row[0] = threadIdx.x; row[1] = threadIdx.y; row[2] = threadIdx.z;
    row[3] = blockIdx.x; row[4] = blockIdx.y; row[5] = blockIdx.z;
    row[6] = blockDim.x * 10000 + blockDim.y * 100 + blockDim.z;
    row[7] = gridDim.x * 10000 + gridDim.y * 100 + gridDim.z;
    row[8] = warpSize;
    row[9] = thread;
}

extern "C" __global__ void bits(const unsigned* x, const unsigned* y, unsigned* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const unsigned a = x[i], b = y[i];
    unsigned* o = out + 9 * i;
    o[0] = __popc(a);
    o[1] = __clz(int(a));
    o[2] = __ffs(int(a));
    o[3] = __brev(a);
    o[4] = __umulhi(a, b);
    o[5] = unsigned(__mul24(int(a), int(b)));
    o[6] = min(a, b);
    o[7] = unsigned(max(int(a), int(b)));
    o[8] = __byte_perm(a, b, 0x5140);
}

extern "C" __global__ void floats(const float* x, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = x[i];
    float* o = out + 8 * i;
    o[0] = __int_as_float(__float_as_int(v) ^ 0x80000000);  // negation through the bits
    o[1] = __saturatef(v);
    o[2] = rsqrtf(fabsf(v) + 1.0f);
    o[3] = __expf(v) + exp2f(v) + __logf(fabsf(v) + 1.0f);
    o[4] = __fdividef(v, 3.0f) + __frcp_rn(v + 10.0f);
    o[5] = fmaxf(v, 0.25f) + fminf(v, -0.25f);
    o[6] = __fmaf_rn(v, v, 1.0f);
    const float4 f = make_float4(v, 2 * v, 3 * v, 4 * v);
    o[7] = f.x + f.y + f.z + f.w;
}

template <typename T>
__global__ void round_trip(const float* x, T* low, float* back, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        low[i] = T(x[i]);
        back[i] = float(low[i]);
    }
}

extern "C" __global__ void atomics(const int* values, int* sums, unsigned long long* big, float* fsum,
                                   int* extremes, unsigned* ticket, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        const int v = values[i];
        atomicAdd(sums, v);
        atomicSub(sums + 1, v);
        atomicAdd(big, (unsigned long long)(unsigned)v);
        atomicAdd(fsum, float(v));
        atomicMax(extremes, v);
        atomicMin(extremes + 1, v);
        atomicOr(extremes + 2, 1 << (v & 15));
        atomicInc(ticket, 0xffffffffu);
        int old = extremes[3];  // a CAS loop: add 3
        for (int seen; (seen = atomicCAS(extremes + 3, old, old + 3)) != old;) old = seen;
    }
}

template <typename T>
__global__ void dynamic_reverse(const T* x, T* y) {
    SUITE_DYNAMIC_SMEM(T, buffer);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    buffer[threadIdx.x] = x[i];
    __syncthreads();
    y[i] = buffer[blockDim.x - 1 - threadIdx.x];
}

extern "C" __global__ void extern_reverse(const double* x, double* y) {
    extern __shared__ double cupy_style[];
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    cupy_style[threadIdx.x] = x[i];
    __syncthreads();
    y[i] = cupy_style[blockDim.x - 1 - threadIdx.x];
}
"""

NAMES = ["indices", "bits", "floats", "round_trip<__half>", "round_trip<__nv_bfloat16>", "atomics",
         "dynamic_reverse<float>", "extern_reverse"]  # fmt: skip


@pytest.fixture(scope="module")
def module():
    return RawModule(code=CODE, name_expressions=NAMES)


@pytest.mark.parametrize("grid,block", [((5,), (37,)), ((3, 4), (8, 5)), ((2, 3, 2), (4, 2, 3)), ((1,), (1024,))])
def test_indices_in_1d_2d_3d_grids(module, grid, block):
    g, b = (grid + (1, 1))[:3], (block + (1, 1))[:3]
    nthreads = b[0] * b[1] * b[2]
    total = g[0] * g[1] * g[2] * nthreads
    out = torch.full((total, 10), -1, dtype=torch.int32)
    module.get_function("indices")(grid, block, (out,))
    tz, ty, tx = np.meshgrid(range(b[2]), range(b[1]), range(b[0]), indexing="ij")
    for bz in range(g[2]):
        for by in range(g[1]):
            for bx in range(g[0]):
                linear = (bz * g[1] + by) * g[0] + bx
                rows = out[linear * nthreads : (linear + 1) * nthreads].numpy()
                assert (rows[:, 0] == tx.ravel()).all() and (rows[:, 1] == ty.ravel()).all()
                assert (rows[:, 2] == tz.ravel()).all()
                assert (rows[:, 3:6] == [bx, by, bz]).all()
    assert (out[:, 6] == b[0] * 10000 + b[1] * 100 + b[2]).all()
    assert (out[:, 7] == g[0] * 10000 + g[1] * 100 + g[2]).all()
    assert (out[:, 8] == 32).all()
    assert (out[:, 9] == torch.arange(nthreads, dtype=torch.int32).repeat(g[0] * g[1] * g[2])).all()


def _brev(a):
    return int(f"{a:032b}"[::-1], 2)


def _byte_perm(x, y, s):
    data = (y << 32 | x).to_bytes(8, "little")
    return int.from_bytes(bytes(data[(s >> (4 * i)) & 7] for i in range(4)), "little")


def _mul24(a, b):
    sign = lambda v: ((v & 0xFFFFFF) ^ 0x800000) - 0x800000  # noqa: E731 (low 24 bits, signed)
    return (sign(a) * sign(b)) & 0xFFFFFFFF


def test_bit_builtins_match_python(module):
    rng = np.random.default_rng(1)
    n = 300
    x = rng.integers(0, 2**32, n, dtype=np.uint32)
    x[:3] = [0, 1, 0x80000000]
    y = rng.integers(0, 2**32, n, dtype=np.uint32)
    out = np.zeros((n, 9), np.uint32)
    module.get_function("bits")((3,), (128,), (x, y, out, np.int32(n)))
    for i in range(n):
        a, b = int(x[i]), int(y[i])
        signed = lambda v: v - 2**32 if v >= 2**31 else v  # noqa: E731
        expect = [bin(a).count("1"), 32 - a.bit_length(), (a & -a).bit_length(), _brev(a), (a * b) >> 32,
                  _mul24(a, b), min(a, b), max(signed(a), signed(b)) & 0xFFFFFFFF, _byte_perm(a, b, 0x5140)]  # fmt: skip
        assert out[i].tolist() == expect, i


def test_float_builtins_match_numpy(module):
    rng = np.random.default_rng(2)
    n = 200
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    out = np.zeros((n, 8), np.float32)
    module.get_function("floats")((2,), (128,), (x, out, np.int32(n)))
    v = x.astype(np.float64)
    np.testing.assert_array_equal(out[:, 0], -x)
    np.testing.assert_array_equal(out[:, 1], np.clip(x, 0, 1))
    np.testing.assert_allclose(out[:, 2], 1 / np.sqrt(np.abs(v) + 1), rtol=1e-6)
    np.testing.assert_allclose(out[:, 3], np.exp(v) + np.exp2(v) + np.log(np.abs(v) + 1), rtol=1e-5)
    np.testing.assert_allclose(out[:, 4], v / 3 + 1 / (v + 10), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 5], np.maximum(v, 0.25) + np.minimum(v, -0.25), rtol=1e-6)
    np.testing.assert_allclose(out[:, 6], v * v + 1, rtol=1e-6)
    np.testing.assert_allclose(out[:, 7], 10 * v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,dtype", [("round_trip<__half>", torch.float16), ("round_trip<__nv_bfloat16>", torch.bfloat16)])
def test_half_and_bfloat16_conversions_match_torch(module, name, dtype):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1000, generator=g) * torch.logspace(-6, 4, 1000)
    x[:4] = torch.tensor([0.0, -0.0, 65504.0, 1e-8])
    low = torch.zeros(1000, dtype=dtype)
    back = torch.zeros(1000)
    module.get_function(name)((8,), (128,), (x, low, back, np.int32(1000)))
    expect = x.to(dtype)
    assert torch.equal(low.view(torch.int16), expect.view(torch.int16))  # bit-exact rounding
    assert torch.equal(back, expect.float())


def test_atomics_across_many_parallel_blocks_are_exact(module):
    rng = np.random.default_rng(4)
    n = 20000
    values = rng.integers(-1000, 1000, n).astype(np.int32)
    sums = np.zeros(2, np.int32)
    big = np.zeros(1, np.uint64)
    fsum = np.zeros(1, np.float32)
    extremes = np.array([-(2**31), 2**31 - 1, 0, 0], np.int32)
    ticket = np.zeros(1, np.uint32)
    module.get_function("atomics")((40,), (64,), (values, sums, big, fsum, extremes, ticket, np.int32(n)))
    assert sums.tolist() == [values.sum(), -values.sum()]
    assert int(big[0]) == int((values.astype(np.int64) & 0xFFFFFFFF).sum())
    assert fsum[0] == values.sum()  # integers below 2^24: every partial float sum is exact
    assert extremes[:2].tolist() == [values.max(), values.min()]
    assert extremes[2] == np.bitwise_or.reduce(1 << (values & 15))
    assert extremes[3] == 3 * n and ticket[0] == n


def test_dynamic_shared_memory_is_per_block(module):
    x = torch.randn(64 * 20)
    y = torch.zeros_like(x)
    module.get_function("dynamic_reverse<float>")((20,), (64,), (x, y), shared_mem=64 * 4)
    assert torch.equal(y, x.view(20, 64).flip(1).reshape(-1))


def test_cupy_style_extern_shared_array(module):
    x = np.random.default_rng(5).standard_normal(128 * 9)
    y = np.zeros_like(x)
    module.get_function("extern_reverse")((9,), (128,), (x, y), shared_mem=128 * 8)
    np.testing.assert_array_equal(y, x.reshape(9, 128)[:, ::-1].ravel())
