"""cuda-samples warpAggregatedAtomicsCG: filter_arr keeps the positive values through a
coalesced_group's aggregated atomicAdd (the order of the kept values is the GPU's choice)."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/3_CUDA_Features/warpAggregatedAtomicsCG/warpAggregatedAtomicsCG.cu"
LICENSE = "BSD-3-Clause"


def filter_arr(kernel):
    src = np.random.default_rng(21).integers(-5, 6, 5000).astype(np.int32)
    dst, count = np.zeros_like(src), np.zeros(1, np.int32)
    kernel((8,), (128,), (dst, count, src, np.int32(src.size)))
    kept = np.sort(src[src > 0])
    return [Check(count, [kept.size], rtol=0, atol=0), Check(np.sort(dst[: kept.size]), kept, rtol=0, atol=0)]


KERNELS = {"filter_arr": filter_arr}
