"""cuda-samples simpleVoteIntrinsics: __any_sync and __all_sync over warps."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/0_Introduction/simpleVoteIntrinsics/simpleVote_kernel.cuh"
LICENSE = "BSD-3-Clause"


def vote(reduce):
    def run(kernel):
        n = 128
        x = (np.random.default_rng(3).random(n) < 0.05).astype(np.uint32)
        x[64:96] = 1  # one warp all ones
        out = np.full(n, 7, np.uint32)
        kernel((1,), (n,), (x, out, np.int32(n)))
        want = np.repeat(reduce(x.reshape(-1, 32), axis=1), 32).astype(np.uint32)
        return Check(out != 0, want != 0, rtol=0, atol=0)

    return run


def vote_any_3(kernel):
    n = 96
    info = np.zeros(3 * n, np.bool_)
    kernel((1,), (n,), (info, np.int32(32)))
    tx = np.arange(n)
    want = np.stack([tx >= 32, tx >= 48, tx >= 64], axis=1).reshape(-1)
    return Check(info, want, rtol=0, atol=0)


KERNELS = {"VoteAnyKernel1": vote(np.any), "VoteAllKernel2": vote(np.all), "VoteAnyKernel3": vote_any_3}
