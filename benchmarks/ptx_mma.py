"""Cost of one mma.sync m16n8k16 (f16 inputs, f32 accumulators) per warp on the host backend: the
suite's wrapper (common/tensor_core.cuh) and the same instruction as translated inline PTX.

    python benchmarks/ptx_mma.py [--count N]

One warp on one worker thread; the cost of an mma is the CPU-time difference (robust to other
processes sharing the cores) between a kernel doing N
of them and the same kernel doing none, divided by N. A checkout without the inline-PTX
translator measures the wrapper only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's suite, not the venv's

from suite.backends.host_backend import HostBackend  # noqa: E402
from suite.emulator.build import source_for_code  # noqa: E402
from suite.errors import KernelCompileError  # noqa: E402

WRAPPER = r"""
#include "common/tensor_core.cuh"
extern "C" __global__ void wrapper(int count, const unsigned* in, float* out) {
    uint32_t a[4] = {in[0], in[1], in[2], in[3]}, b[2] = {in[4], in[5]};
    float acc[4] = {0, 0, 0, 0};
    for (int i = 0; i < count; ++i) mma_m16n8k16<__half>(acc, a, b, acc);
    for (int i = 0; i < 4; ++i) out[threadIdx.x * 4 + i] = acc[i];
}
"""
INLINE_PTX = r"""
extern "C" __global__ void inline_ptx(int count, const unsigned* in, float* out) {
    unsigned a[4] = {in[0], in[1], in[2], in[3]}, b[2] = {in[4], in[5]};
    float d[4] = {0, 0, 0, 0};
    for (int i = 0; i < count; ++i)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    for (int i = 0; i < 4; ++i) out[threadIdx.x * 4 + i] = d[i];
}
"""


def best_time(kernel, count: int, repeats: int = 5) -> float:
    data = torch.from_numpy(np.full(6, 0x3C003C00, np.uint32))  # pairs of 1.0 in half precision
    out = torch.zeros(32 * 4)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        kernel((1,), (32,), (np.int32(count), data, out))
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    for name, code in (("wrapper", WRAPPER), ("inline_ptx", INLINE_PTX)):
        try:
            kernel = HostBackend(threads=1).load_module(source_for_code(code), [name]).get_function(name)
        except KernelCompileError:
            print(f"{name:10s}: not available in this checkout")
            continue
        best_time(kernel, 10)  # warm-up
        cost = (best_time(kernel, args.count) - best_time(kernel, 0)) / args.count
        print(f"{name:10s}: one mma.sync.m16n8k16 per warp {cost * 1e6:8.3f} us")


if __name__ == "__main__":
    main()
