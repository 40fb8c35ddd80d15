"""cuda-samples bf16TensorCoreGemm: the WMMA bf16 GEMM without shared memory (its B tile offsets are
swapped in the sample; the reference reads B as the kernel does)."""

import torch

from _wmma_samples import run

SOURCE = "cuda-samples"
FILE = "Samples/3_CUDA_Features/bf16TensorCoreGemm/bf16TensorCoreGemm.cu"
LICENSE = "BSD-3-Clause"
KERNELS = {"simple_wmma_bf16gemm": lambda k: run(k, (16, 16, 16), torch.bfloat16, torch.float32, swapped_b=True)}
