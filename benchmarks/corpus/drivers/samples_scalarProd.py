"""cuda-samples scalarProd: many dot products, one vector pair per block at a time."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/2_Concepts_and_Techniques/scalarProd/scalarProd_kernel.cuh"
LICENSE = "BSD-3-Clause"


def scalar_prod(kernel):
    rng = np.random.default_rng(2)
    vectors, elements = 24, 4096
    a = rng.standard_normal((vectors, elements), dtype=np.float32)
    b = rng.standard_normal((vectors, elements), dtype=np.float32)
    c = np.zeros(vectors, np.float32)
    kernel((16,), (256,), (c, a, b, np.int32(vectors), np.int32(elements)))
    return Check(c, (a.astype(np.float64) * b).sum(1), rtol=1e-4, atol=1e-3)


KERNELS = {"scalarProdGPU": scalar_prod}
