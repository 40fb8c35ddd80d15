"""cuda-samples cudaTensorCoreGemm: the WMMA fp16 GEMM without shared memory. compute_gemm (the
shared-memory kernel) is fixed at 4096 x 4096 x 4096 by its macros: too long for the CPU."""

import torch

from _wmma_samples import run

SOURCE = "cuda-samples"
FILE = "Samples/3_CUDA_Features/cudaTensorCoreGemm/cudaTensorCoreGemm.cu"
LICENSE = "BSD-3-Clause"
KERNELS = {"simple_wmma_gemm": lambda k: run(k, (16, 16, 16), torch.float16, torch.float32)}
