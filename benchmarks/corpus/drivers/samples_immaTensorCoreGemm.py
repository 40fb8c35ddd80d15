"""cuda-samples immaTensorCoreGemm: the WMMA uint8 GEMM (int accumulate) without shared memory."""

import torch

from _wmma_samples import run

SOURCE = "cuda-samples"
FILE = "Samples/3_CUDA_Features/immaTensorCoreGemm/immaTensorCoreGemm.cu"
LICENSE = "BSD-3-Clause"
KERNELS = {"simple_wmma_gemm_imma": lambda k: run(k, (16, 16, 16), torch.uint8, torch.int32, rtol=0, atol=0)}
