"""cuda-samples tf32TensorCoreGemm: the WMMA tf32 GEMM without shared memory."""

import torch

from _wmma_samples import run

SOURCE = "cuda-samples"
FILE = "Samples/3_CUDA_Features/tf32TensorCoreGemm/tf32TensorCoreGemm.cu"
LICENSE = "BSD-3-Clause"
KERNELS = {"simple_wmma_tf32gemm": lambda k: run(k, (16, 16, 8), torch.float32, torch.float32, tf32_inputs=True)}
