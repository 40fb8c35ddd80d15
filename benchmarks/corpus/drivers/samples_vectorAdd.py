"""cuda-samples vectorAdd."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/0_Introduction/vectorAdd/vectorAdd.cu"
LICENSE = "BSD-3-Clause"


def vector_add(kernel):
    rng = np.random.default_rng(0)
    n = 5000
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    c = np.zeros(n, np.float32)
    kernel(((n + 255) // 256,), (256,), (a, b, c, np.int32(n)))
    return Check(c, a + b, rtol=0, atol=0)


KERNELS = {"vectorAdd": vector_add}
