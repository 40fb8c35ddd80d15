"""cuda-samples dmmaTensorCoreGemm: the WMMA double GEMM (m8n8k4) without shared memory."""

import torch

from _wmma_samples import run

SOURCE = "cuda-samples"
FILE = "Samples/3_CUDA_Features/dmmaTensorCoreGemm/dmmaTensorCoreGemm.cu"
LICENSE = "BSD-3-Clause"
KERNELS = {"simple_wmma_gemm": lambda k: run(k, (8, 8, 4), torch.float64, torch.float64, rtol=1e-12, atol=1e-12)}
