"""llm.c dev/cuda adamw: one AdamW step in fp32 (naive and with fma-based lerp)."""

import numpy as np
import torch

from _llmc import ceil_div, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/adamw.cu"
LICENSE = "MIT"
N, LR, BETA1, BETA2, EPS, WD, STEP = 3000, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3


def adamw(kernel):
    p, g = randn(N, seed=11), randn(N, seed=12)
    m, v = randn(N, seed=13) * 0.1, randn(N, seed=14).abs() * 0.01
    c1, c2 = 1 - BETA1**STEP, 1 - BETA2**STEP
    m2 = BETA1 * m.double() + (1 - BETA1) * g.double()
    v2 = BETA2 * v.double() + (1 - BETA2) * g.double() ** 2
    want = p.double() - LR * ((m2 / c1) / (torch.sqrt(v2 / c2) + EPS) + WD * p.double())
    args = (p, g, m, v, np.int64(N), *map(np.float32, (LR, BETA1, BETA2, c1, c2, EPS, WD)))
    kernel((ceil_div(N, 256),), (256,), args)
    return [Check(p, want, rtol=1e-5, atol=1e-6), Check(m, m2, rtol=1e-5, atol=1e-6),
            Check(v, v2, rtol=1e-5, atol=1e-7)]


KERNELS = {"adamw_kernel1": adamw, "adamw_kernel2": adamw}
