"""cuda-samples matrixMul: the shared-memory tiled SGEMM, both tile sizes the sample instantiates."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/0_Introduction/matrixMul/matrixMul.cu"
LICENSE = "BSD-3-Clause"


def matrix_mul(block):
    def run(kernel):
        rng = np.random.default_rng(block)
        ha, wa, wb = 2 * block, 3 * block, 2 * block
        a = rng.standard_normal((ha, wa), dtype=np.float32)
        b = rng.standard_normal((wa, wb), dtype=np.float32)
        c = np.zeros((ha, wb), np.float32)
        kernel((wb // block, ha // block), (block, block), (c, a, b, np.int32(wa), np.int32(wb)))
        return Check(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)

    return run


KERNELS = {"MatrixMulCUDA<16>": matrix_mul(16), "MatrixMulCUDA<32>": matrix_mul(32)}
