"""llm.c dev/cuda residual_forward: out = inp1 + inp2 in bf16, plain and with Packed128."""

import numpy as np
import torch

from _llmc import BF16, B, C, T, ceil_div, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/residual_forward.cu"
LICENSE = "MIT"


def run(per_thread):
    def launch(kernel):
        n = B * T * C
        a, b = randn(n, seed=2, dtype=torch.bfloat16), randn(n, seed=3, dtype=torch.bfloat16)
        out = torch.zeros(n, dtype=torch.bfloat16)
        kernel((ceil_div(n, 128 * per_thread),), (128,), (out, a, b, np.int32(n)))
        return Check(out, a.double() + b.double(), **BF16)

    return launch


KERNELS = {"residual_forward_kernel1": run(1), "residual_forward_kernel2": run(8)}
