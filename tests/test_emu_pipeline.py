"""<cuda_pipeline.h> on the host backend: the primitives and nvcuda::experimental::pipeline over
the emulation's cp.async (CUDA Programming Guide, "Pipeline primitives interface")."""

import numpy as np
import pytest
import torch

from suite.errors import KernelFault
from suite.host import RawModule

CODE = r"""
#include <cuda_pipeline.h>

// Stage s of a double buffer: thread i copies x[s][i] (4 bytes) and, zero-filled, 8 bytes of which 4 come from x.
extern "C" __global__ void primitives(const float* x, float* out, float* early, int n) {
    __shared__ float buf[2][128];
    __shared__ float2 padded[128];
    const int i = threadIdx.x;
    for (int s = 0; s < 2; ++s) {
        __pipeline_memcpy_async(&buf[s][i], &x[s * n + i], sizeof(float));
        __pipeline_commit();
    }
    __pipeline_memcpy_async(&padded[i], &x[2 * i], sizeof(float2), 4);
    __pipeline_commit();
    early[i] = buf[1][i];       // not yet waited for
    __pipeline_wait_prior(1);   // stages 0 and 1 are done, the padded copy may not be
    out[i] = buf[0][i] + buf[1][i];
    __pipeline_wait_prior(0);
    out[n + i] = padded[i].x + padded[i].y;
}

extern "C" __global__ void cxx(const float4* x, float4* out) {
    __shared__ float4 buf[64];
    nvcuda::experimental::pipeline pipe;
    nvcuda::experimental::memcpy_async(buf[threadIdx.x], x[threadIdx.x], pipe);
    pipe.commit_and_wait();
    out[threadIdx.x] = buf[threadIdx.x];
}

extern "C" __global__ void bad_size(const float* x, float* out) {
    __shared__ float buf[8];
    __pipeline_memcpy_async(buf, x, 12);
}
"""


def test_pipeline_primitives_commit_and_wait_prior():
    n = 128
    x = torch.randn(2 * n)
    out, early = torch.zeros(2 * n), torch.zeros(n)
    RawModule(code=CODE).get_function("primitives")((1,), (n,), (x, out, early, np.int32(n)))
    assert torch.isnan(early).all()  # read before its wait
    assert torch.equal(out[:n], x[:n] + x[n:])
    assert torch.equal(out[n:], x[0::2][:n])  # the second float was zero-filled


def test_pipeline_class_and_memcpy_async():
    x = torch.randn(64, 4)
    out = torch.zeros_like(x)
    RawModule(code=CODE).get_function("cxx")((1,), (64,), (x, out))
    assert torch.equal(out, x)


def test_a_size_cp_async_cannot_copy_is_a_fault_naming_the_call():
    with pytest.raises(KernelFault, match=r"size_and_align must be 4, 8 or 16.*\.cu:\d+\)"):
        RawModule(code=CODE).get_function("bad_size")((1,), (1,), (torch.zeros(8), torch.zeros(8)))
