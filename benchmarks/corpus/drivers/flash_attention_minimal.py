"""flash-attention-minimal (tspeterkim): FlashAttention-1 forward in fp32, one thread per query row."""

import math

import numpy as np
import torch

from harness import Check

SOURCE = "flash-attention-minimal"
FILE = "flash.cu"
LICENSE = "Apache-2.0"
BATCH, HEADS, N, D, BC = 2, 2, 64, 16, 32


def forward(kernel):
    g = torch.Generator().manual_seed(17)
    q, k, v = (torch.randn(BATCH, HEADS, N, D, generator=g) for _ in range(3))
    out = torch.zeros_like(q)
    l, m = torch.zeros(BATCH, HEADS, N), torch.full((BATCH, HEADS, N), -math.inf)
    tiles = N // BC
    smem = (3 * BC * D + BC * BC) * 4
    kernel((BATCH, HEADS), (BC,), (q, k, v, np.int32(N), np.int32(D), np.int32(tiles), np.int32(tiles), np.int32(BC),
                                    np.int32(BC), np.float32(1 / math.sqrt(D)), l, m, out), shared_mem=smem)
    want = torch.softmax(q.double() @ k.double().transpose(-1, -2) / math.sqrt(D), -1) @ v.double()
    return Check(out, want, rtol=1e-4, atol=1e-5)


KERNELS = {"forward_kernel": forward}
