"""llm.c dev/cuda encoder_forward: token plus position embeddings, bf16 (three versions)."""

import numpy as np
import torch

from _llmc import BF16, B, C, T, ceil_div, randn
from harness import Check

SOURCE = "llm.c"
FILE = "dev/cuda/encoder_forward.cu"
LICENSE = "MIT"
VOCAB = 50


def run(work_items):
    def launch(kernel):
        tokens = torch.randint(0, VOCAB, (B, T), generator=torch.Generator().manual_seed(4), dtype=torch.int32)
        wte, wpe = randn(VOCAB, C, seed=5, dtype=torch.bfloat16), randn(T, C, seed=6, dtype=torch.bfloat16)
        out = torch.zeros(B, T, C, dtype=torch.bfloat16)
        kernel((ceil_div(work_items, 128),), (128,), (out, tokens, wte, wpe, np.int32(B), np.int32(T), np.int32(C)))
        return Check(out, wte.double()[tokens.long()] + wpe.double()[None], **BF16)

    return launch


KERNELS = {
    "encoder_forward_kernel1": run(B * T),
    "encoder_forward_kernel2": run(B * T * C),
    "encoder_forward_kernel3": run(B * T * C // 8),
}
