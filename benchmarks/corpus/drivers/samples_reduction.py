"""cuda-samples reduction: the seven classic reductions and the cooperative-groups ones, float, 256
threads. Each block writes one partial sum; integer-valued inputs make every order exact."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/2_Concepts_and_Techniques/reduction/reduction_kernel.cu"
LICENSE = "BSD-3-Clause"
THREADS, N = 256, 256 * 16


def reduction(per_block, blocks, exact_blocks):
    """per_block: elements one block reduces (partial sums checked block by block when exact_blocks,
    else only their total: grid-stride kernels interleave)."""

    def run(kernel):
        x = np.random.default_rng(per_block).integers(0, 256, N).astype(np.float32)
        out = np.zeros(blocks, np.float32)
        kernel((blocks,), (THREADS,), (x, out, np.uint32(N)), shared_mem=THREADS * 4)
        if exact_blocks:
            return Check(out, x.reshape(blocks, -1).sum(1), rtol=0, atol=0)
        return Check(out.sum(), x.sum(), rtol=0, atol=0)

    return run


KERNELS = {
    "reduce0<float>": reduction(THREADS, N // THREADS, True),
    "reduce1<float>": reduction(THREADS, N // THREADS, True),
    "reduce2<float>": reduction(THREADS, N // THREADS, True),
    "reduce3<float>": reduction(2 * THREADS, N // (2 * THREADS), True),
    "reduce4<float, 256>": reduction(2 * THREADS, N // (2 * THREADS), True),
    "reduce5<float, 256>": reduction(2 * THREADS, N // (2 * THREADS), True),
    "reduce6<float, 256, true>": reduction(0, 4, False),
    "reduce7<float, 256, true>": reduction(1, 4, False),
    "cg_reduce<float>": reduction(2, 4, False),
}
