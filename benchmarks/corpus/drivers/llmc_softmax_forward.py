"""llm.c dev/cuda softmax_forward: row softmax of an (N, C) fp32 matrix, eight versions."""

import numpy as np
import torch

from _llmc import FP32, ceil_div, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/softmax_forward.cu"
LICENSE = "MIT"
N, C = 40, 200  # C not a multiple of the block: the tails are exercised


def run(grid, block, shared_mem=0):
    def launch(kernel):
        x = randn(N, C, seed=10) * 4
        out = torch.zeros(N, C)
        kernel((grid,), (block,), (out, x, np.int32(N), np.int32(C)), shared_mem=shared_mem)
        return Check(out, torch.softmax(x.double(), -1), **FP32)

    return launch


KERNELS = {
    "softmax_forward_kernel1": run(ceil_div(N, 128), 128),
    "softmax_forward_kernel2": run(N, 128, 128 * 4),
    "softmax_forward_kernel3": run(N, 32, 32 * 4),
    "softmax_forward_kernel4": run(N, 128, 128 // 32 * 4),
    "softmax_forward_online_kernel1": run(ceil_div(N, 128), 128),
    "softmax_forward_online_kernel2": run(ceil_div(N * 32, 128), 128),
    "softmax_forward_kernel7": run(N, 128, 2 * 128 // 32 * 4),
    "softmax_forward_online_kernel8": run(ceil_div(N * 32, 128), 128),
}
