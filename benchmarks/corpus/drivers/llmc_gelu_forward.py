"""llm.c dev/cuda gelu_forward: GELU (tanh approximation) on bf16, plain and with Packed128."""

import numpy as np
import torch

from _llmc import BF16, B, C, T, ceil_div, gelu, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/gelu_forward.cu"
LICENSE = "MIT"


def run(per_thread):
    def launch(kernel):
        n = B * T * C
        x = randn(n, seed=1, dtype=torch.bfloat16)
        out = torch.zeros(n, dtype=torch.bfloat16)
        kernel((ceil_div(n, 128 * per_thread),), (128,), (out, x, np.int32(n)))
        return Check(out, gelu(x), **BF16)

    return launch


KERNELS = {"gelu_forward_kernel1": run(1), "gelu_forward_kernel2": run(8)}
