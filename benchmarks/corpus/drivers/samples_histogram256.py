"""cuda-samples histogram256: per-block byte histograms in shared memory, then their merge."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/2_Concepts_and_Techniques/histogram/histogram256.cu"
LICENSE = "BSD-3-Clause"
THREADS, BLOCKS, WORDS = 192, 12, 192 * 12 * 3 + 100  # a ragged last stride


def histogram(kernel):
    data = np.random.default_rng(18).integers(0, 256, 4 * WORDS).astype(np.uint8)
    partial = np.zeros((BLOCKS, 256), np.uint32)
    kernel((BLOCKS,), (THREADS,), (partial, data.view(np.uint32), np.uint32(WORDS)))
    block_of_word = (np.arange(WORDS) // THREADS) % BLOCKS
    want = np.stack([np.bincount(data.reshape(WORDS, 4)[block_of_word == b].reshape(-1), minlength=256)
                     for b in range(BLOCKS)])
    return Check(partial, want, rtol=0, atol=0)


def merge(kernel):
    partial = np.random.default_rng(19).integers(0, 1000, (240, 256)).astype(np.uint32)
    out = np.zeros(256, np.uint32)
    kernel((256,), (256,), (out, partial, np.uint32(240)))
    return Check(out, partial.sum(0), rtol=0, atol=0)


KERNELS = {"histogram256Kernel": histogram, "mergeHistogram256Kernel": merge}
