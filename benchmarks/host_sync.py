"""Cost of one __syncthreads round on the host backend (every thread of a block arriving and
being released), at 128 and 256 threads per block, for each fiber implementation.

    python benchmarks/host_sync.py [--rounds N]

One block on one worker thread; the cost of a round is the time difference between a kernel
doing N barriers and the same kernel doing none, divided by N.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from suite.backends.host_backend import HostBackend
from suite.emulator.build import source_for_code

CODE = r"""
extern "C" __global__ void barriers(int rounds, int* out) {
    int acc = threadIdx.x;
    for (int r = 0; r < rounds; ++r) {
        __syncthreads();
        acc += r;
    }
    out[threadIdx.x] = acc;
}
"""


def best_time(kernel, threads: int, rounds: int, repeats: int = 5) -> float:
    out = torch.zeros(threads, dtype=torch.int32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        kernel((1,), (threads,), (np.int32(rounds), out))
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    for fibers in ("auto", "ucontext"):
        os.environ["SUITE_HOST_FIBERS"] = fibers
        kernel = HostBackend(threads=1).load_module(source_for_code(CODE), ["barriers"]).get_function("barriers")
        for threads in (128, 256):
            best_time(kernel, threads, 10)  # warm-up: stacks mapped and touched
            cost = (best_time(kernel, threads, args.rounds) - best_time(kernel, threads, 0)) / args.rounds
            print(
                f"fibers={fibers:9s} threads={threads:4d}: one __syncthreads round {cost * 1e6:8.2f} us "
                f"({cost * 1e9 / threads:6.1f} ns per thread)"
            )


if __name__ == "__main__":
    main()
