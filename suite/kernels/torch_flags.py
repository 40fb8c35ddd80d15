"""Torch backend flags switched off around the suite's own matmuls, restored afterwards."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_flags_off(*flags):
    """Switch off torch backend flags given as (namespace, attribute) pairs, restoring the user's
    values afterwards. Also usable as a decorator."""
    saved = [getattr(ns, name) for ns, name in flags]
    for ns, name in flags:
        setattr(ns, name, False)
    try:
        yield
    finally:
        for (ns, name), value in zip(flags, saved):
            setattr(ns, name, value)


# cuBLAS as the ops promise: fp32 without TF32, fp16/bf16 with fp32 accumulation throughout
# (no reduced-precision split-K reductions).
_MATMUL = torch.backends.cuda.matmul
EXACT_CUDA_MATMUL = ((_MATMUL, "allow_tf32"), (_MATMUL, "allow_fp16_reduced_precision_reduction"),
                     (_MATMUL, "allow_bf16_reduced_precision_reduction"))

