"""llm.c dev/cuda crossentropy_forward: -log p[target] per position."""

import numpy as np
import torch

from _llmc import FP32, B, T, ceil_div, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/crossentropy_forward.cu"
LICENSE = "MIT"
V = 64


def crossentropy(kernel):
    probs = torch.softmax(randn(B, T, V, seed=15), -1).contiguous()
    targets = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(16), dtype=torch.int32)
    losses = torch.zeros(B, T)
    kernel((ceil_div(B * T, 128),), (128,), (losses, probs, targets, np.int32(B), np.int32(T), np.int32(V)))
    want = -torch.log(probs.double().gather(-1, targets.long()[..., None])[..., 0])
    return Check(losses, want, **FP32)


KERNELS = {"crossentropy_forward_kernel1": crossentropy}
