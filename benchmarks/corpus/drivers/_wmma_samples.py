"""The `simple_wmma_*gemm` kernels of NVIDIA's cuda-samples tensor-core GEMMs: one warp per output
tile, A row-major, B column-major (stored as N x K), D = alpha * A B + beta * C. The reference reads
B's tiles as each kernel's own index arithmetic does (bf16's sample swaps B's row and column offsets)."""

import numpy as np
import torch

from harness import Check

SIZE = 64  # M = N = K: four warps by four, the samples' launch shape (128 x 4 threads)


def run(kernel, tile, ab_dtype, cd_dtype, swapped_b=False, tf32_inputs=False, alpha=1.5, beta=-0.5, rtol=1e-5, atol=1e-5):
    m, n, k = tile
    gen = torch.Generator().manual_seed(sum(tile) + len(str(ab_dtype)))
    if ab_dtype == torch.uint8:
        A = torch.randint(0, 8, (SIZE, SIZE), generator=gen, dtype=torch.uint8)
        Bt = torch.randint(0, 8, (SIZE, SIZE), generator=gen, dtype=torch.uint8)
        C = torch.randint(-50, 50, (SIZE, SIZE), generator=gen, dtype=torch.int32)
        scalars = (np.int32(2), np.int32(3))
        alpha, beta = 2, 3
    else:
        A = torch.randn(SIZE, SIZE, generator=gen, dtype=torch.float64).to(ab_dtype)
        Bt = torch.randn(SIZE, SIZE, generator=gen, dtype=torch.float64).to(ab_dtype)
        C = torch.randn(SIZE, SIZE, generator=gen, dtype=torch.float64).to(cd_dtype)
        scalar = np.float64 if cd_dtype == torch.float64 else np.float32
        scalars = (scalar(alpha), scalar(beta))
    D = torch.zeros(SIZE, SIZE, dtype=cd_dtype)
    block = (128, 4)
    grid = ((SIZE + m * 4 - 1) // (m * 4), (SIZE + n * 4 - 1) // (n * 4))
    kernel(grid, block, (A, Bt, C, D, np.int32(SIZE), np.int32(SIZE), np.int32(SIZE), *scalars))

    a, bt, c = A.double(), Bt.double(), C.double()
    if tf32_inputs:  # the tensor core reads tf32; the sample rounds nothing itself
        a, bt = tf32(A).double(), tf32(Bt).double()
    expect = torch.zeros(SIZE, SIZE, dtype=torch.float64)
    for r in range(0, SIZE, m):
        for col in range(0, SIZE, n):
            acc = torch.zeros(m, n, dtype=torch.float64)
            for i in range(0, SIZE, k):
                # B's tile as the kernel addresses it: (k offset, n offset) = (i, col), or swapped
                kb, nb = (col, i) if swapped_b else (i, col)
                acc += a[r : r + m, i : i + k] @ bt[nb : nb + n, kb : kb + k].t()
            expect[r : r + m, col : col + n] = alpha * acc + beta * c[r : r + m, col : col + n]
    return Check(D, expect, rtol=rtol, atol=atol)


def tf32(x):
    """The value a tensor core reads from an fp32 register: the low 13 mantissa bits dropped."""
    bits = x.float().numpy().view(np.uint32).astype(np.uint64)
    return torch.from_numpy((bits & 0xFFFFE000).astype(np.uint32).view(np.float32).copy())
