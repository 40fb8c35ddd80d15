"""llm.c dev/cuda layernorm_forward: LayerNorm over C in fp32, six versions (version 2 is three
kernels). Each writes out, mean and rstd."""

import numpy as np
import torch

from _llmc import FP32, B, C, T, ceil_div, layernorm, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/layernorm_forward.cu"
LICENSE = "MIT"
N = B * T


def inputs():
    return randn(B, T, C, seed=7), randn(C, seed=8), randn(C, seed=9)


def run(grid, block, shared_mem=0):
    def launch(kernel):
        x, w, b = inputs()
        out, mean, rstd = torch.zeros(B, T, C), torch.zeros(N), torch.zeros(N)
        kernel(grid, block, (out, mean, rstd, x, w, b, np.int32(N), np.int32(C)), shared_mem=shared_mem)
        want, want_mean, want_rstd = layernorm(x, w, b)
        return [Check(out, want, **FP32), Check(mean, want_mean.reshape(-1), **FP32),
                Check(rstd, want_rstd.reshape(-1), **FP32)]

    return launch


def mean_kernel(kernel):
    x, _, _ = inputs()
    mean = torch.zeros(N)
    kernel((N,), (128,), (mean, x, np.int32(N), np.int32(C), np.int32(128)), shared_mem=128 * 4)
    return Check(mean, x.double().mean(-1).reshape(-1), **FP32)


def rstd_kernel(kernel):
    x, _, _ = inputs()
    mean = x.mean(-1).reshape(-1).contiguous()
    rstd = torch.zeros(N)
    kernel((N,), (128,), (rstd, x, mean, np.int32(N), np.int32(C), np.int32(128)), shared_mem=128 * 4)
    return Check(rstd, layernorm(x, torch.ones(C), torch.zeros(C))[2].reshape(-1), **FP32)


def normalization_kernel(kernel):
    x, w, b = inputs()
    want, mean, rstd = layernorm(x, w, b)
    out = torch.zeros(B, T, C)
    kernel((ceil_div(N * C, 256),), (256,), (out, x, mean.float().reshape(-1).contiguous(),
                                              rstd.float().reshape(-1).contiguous(), w, b, np.int32(B), np.int32(T),
                                              np.int32(C)))
    return Check(out, want, **FP32)


KERNELS = {
    "layernorm_forward_kernel1": run((ceil_div(N, 128),), (128,)),
    "mean_kernel": mean_kernel,
    "rstd_kernel": rstd_kernel,
    "normalization_kernel": normalization_kernel,
    "layernorm_forward_kernel3": run((ceil_div(N * 32, 128),), (128,)),
    "layernorm_forward_kernel4": run((ceil_div(N * 32, 128),), (128,)),
    "layernorm_forward_kernel5": run((N,), (128,)),
    "layernorm_forward_kernel6": run((ceil_div(N, 4),), (32, 4), (2 + 4) * C * 4),
}
