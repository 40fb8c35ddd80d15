"""Shared by the llm.c drivers: inputs and the references of GPT-2's layers (llm.c's dev/cuda files
each hold several versions of one layer's kernel)."""

import numpy as np
import torch

B, T, C = 2, 16, 96  # C a multiple of 32 and of x128's 8 bf16 elements
BF16 = dict(rtol=2e-2, atol=2e-2)  # outputs rounded to bf16
FP32 = dict(rtol=1e-4, atol=1e-5)


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def ceil_div(a, b):
    return (a + b - 1) // b


def gelu(x):
    x = x.double()
    return 0.5 * x * (1 + torch.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def layernorm(x, weight, bias, eps=1e-5):
    x = x.double()
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    rstd = 1 / torch.sqrt(var + eps)
    return (x - mean) * rstd * weight.double() + bias.double(), mean.squeeze(-1), rstd.squeeze(-1)
