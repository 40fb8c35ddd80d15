"""How fast the host backend emulates CUDA, against plain CPU code doing the same work in the same
process: per core and on all cores, for five workloads (issue #28).

    python benchmarks/host_speed.py [--rounds N] [--only NAME[,NAME]] [--cores 1,2] [--modes lanes,fibers]

  saxpy              y = a*x + y, 2^20 floats, 256 threads a block; plain: a C++ loop (g++ -O3)
  block_reduction    sum of each 256-float block through shared memory and __syncthreads, 2^18
                     floats; plain: a C++ loop with 8 accumulators (g++ -O3)
  warp_reduction     sum of each 32 floats by __shfl_down_sync, 2^18 floats; plain: as above
  attention_tc       the suite's tensor-core attention, fp16, B1 H4 S512 D64; plain: torch's SDPA
                     in float32 (and, for reference, in bfloat16)
  deform_im2col      the suite's DCNv2 columns, fp32, 2x32x64x64, 3x3 taps; plain: the family's
                     torch reference of the same columns

Each figure is the best of 5 launches (after one warm-up): on 1 core in CPU seconds of the process
(what the work costs, however loaded the machine is), on N cores in wall-clock seconds (what the
parallelism buys: meaningful only on an otherwise idle machine). --rounds repeats the whole table
to show the spread. Each workload runs in each --modes: "lanes" (the default execution: kernels
that may run as lane loops do) and "fibers" (SUITE_HOST_LANES=off: a fiber per CUDA thread); the
"ran as" column says what the kernel actually ran as. The ratio is emulation time / plain time (lower is better). The
C++ baselines are built with the same g++ as the kernels, -O3 -march=native (the best plain code
this CPU runs); "N cores" runs N worker threads in the emulation and N threads in the baseline.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

# This checkout's suite, not whichever one the environment has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suite.backends.host_backend import HostBackend, cpu_model
from suite.emulator import build
from suite.emulator.build import source_for_code

KERNELS = r"""
extern "C" __global__ void saxpy(int n, float a, const float* x, float* y) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + y[i];
}

extern "C" __global__ void block_reduction(const float* x, float* sums) {
    __shared__ float s[256];
    const int t = threadIdx.x;
    s[t] = x[blockIdx.x * 256 + t];
    __syncthreads();
    for (int stride = 128; stride > 0; stride /= 2) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0) sums[blockIdx.x] = s[0];
}

extern "C" __global__ void warp_reduction(const float* x, float* sums) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (threadIdx.x % 32 == 0) sums[i / 32] = v;
}
"""

PLAIN = r"""
#include <thread>
#include <vector>

template <class F>
static void parallel(long n, int threads, F body) {  // body(begin, end) on `threads` threads
    std::vector<std::thread> pool;
    const long chunk = (n + threads - 1) / threads;
    for (int t = 1; t < threads; ++t)
        pool.emplace_back(body, std::min(n, t * chunk), std::min(n, (t + 1) * chunk));
    body(0, std::min(n, chunk));
    for (auto& th : pool) th.join();
}

extern "C" void saxpy(long n, float a, const float* x, float* y, int threads) {
    parallel(n, threads, [=](long b, long e) { for (long i = b; i < e; ++i) y[i] = a * x[i] + y[i]; });
}

// Sums of consecutive groups of `group` floats (8 accumulators: the loop a person would write).
extern "C" void group_sums(long groups, int group, const float* x, float* sums, int threads) {
    parallel(groups, threads, [=](long b, long e) {
        for (long g = b; g < e; ++g) {
            const float* p = x + g * group;
            float acc[8] = {};
            for (int i = 0; i < group; i += 8)
                for (int k = 0; k < 8; ++k) acc[k] += p[i + k];
            sums[g] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
    });
}
"""


def plain_library() -> ctypes.CDLL:
    """The C++ baselines, built once per source and compiler into the host backend's cache."""
    flags = ["-std=c++17", "-O3", "-march=native", "-fPIC", "-shared", "-pthread"]
    key = hashlib.sha256((PLAIN + " ".join(flags) + build.compiler_identity()).encode()).hexdigest()[:16]
    path = build.cache_dir() / f"host-speed-plain-{key}.so"
    if not path.exists():
        source = path.with_suffix(".cpp")
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(PLAIN)
        subprocess.run([build.COMPILER, *flags, str(source), "-o", str(path)], check=True)
    lib = ctypes.CDLL(str(path))
    lib.saxpy.argtypes = [ctypes.c_long, ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.group_sums.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    return lib


def best_seconds(fn: Callable[[], object], cores: int, repeats: int = 5) -> float:
    """The best of `repeats` runs: CPU seconds of the process on one core (what the work costs,
    whatever else the machine runs), wall-clock seconds on several (what parallelism buys)."""
    clock = time.process_time if cores == 1 else time.perf_counter
    fn()  # warm-up: stacks mapped, caches and pools filled
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


@dataclass
class Pair:
    """One workload at one core count: the emulated launch, the plain code, and the check that both
    computed the same thing (so the benchmark never times wrong work)."""

    emulated: Callable[[], object]
    plain: Callable[[], object]
    plain_name: str
    agree: Callable[[], bool]
    items: float  # work items per launch, for the throughput
    unit: str


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


def simple_pairs(name: str, backend: HostBackend, cores: int, lib) -> Pair:
    module = backend.load_module(source_for_code(KERNELS), ["saxpy", "block_reduction", "warp_reduction"])
    gen = torch.Generator().manual_seed(1)
    if name == "saxpy":
        n = 1 << 20
        x, y0 = torch.randn(n, generator=gen), torch.randn(n, generator=gen)
        y_emu, y_plain = y0.clone(), y0.clone()
        launch = module.get_function("saxpy").bind(((n + 255) // 256,), (256,), (np.int32(n), np.float32(2.5), x, y_emu))
        # Both update y in place from its last value: compare after the same number of runs (the
        # C++ loop may contract to FMA, the emulation does not: close, not equal).
        return Pair(launch, lambda: lib.saxpy(n, 2.5, _ptr(x), _ptr(y_plain), cores), "C++ -O3",
                    lambda: torch.allclose(y_emu, y_plain, rtol=1e-6, atol=1e-5), n, "elements")  # fmt: skip
    n, group = 1 << 18, (256 if name == "block_reduction" else 32)
    x = torch.randn(n, generator=gen)
    s_emu, s_plain = torch.zeros(n // group), torch.zeros(n // group)
    grid = (n // 256,)
    launch = module.get_function(name).bind(grid, (256,), (x, s_emu))
    return Pair(launch, lambda: lib.group_sums(n // group, group, _ptr(x), _ptr(s_plain), cores), "C++ -O3",
                lambda: torch.allclose(s_emu, s_plain, rtol=1e-5, atol=1e-4), n, "elements")  # fmt: skip


def family_case(text: str):
    from suite import cases

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "speed.yaml"
        path.write_text(text)
        (case,) = cases.load_cases([path], tier="smoke")
    return case


ATTENTION = """family: attention
kernels: [attention_tc]
dtypes: [float16]
seed: 0
sweeps:
  - name: speed
    tier: smoke
    params: {batch: 1, heads_q: 4, seq_q: 512, seq_k: 512, head_dim: 64, causal: none}
"""

DEFORM = """family: deform
kernels: [deform_im2col]
dtypes: [float32]
seed: 0
sweeps:
  - name: speed
    tier: smoke
    params: {batch: 2, in_channels: 32, out_channels: 32, height: 64, width: 64, kernel: 3, padding: 1, mask: true}
"""


def family_pair(name: str, backend: HostBackend) -> Pair:
    from suite.kernels import get_family

    case = family_case(ATTENTION if name == "attention_tc" else DEFORM)
    family = get_family(case.family)
    inputs = family.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = family.run(case.kernel, case.params, inputs, backend)
    if name == "attention_tc":
        import torch.nn.functional as F

        q, k, v = (inputs[key].float() for key in ("q", "k", "v"))

        def plain():
            return F.scaled_dot_product_attention(q, k, v)

        def agree():
            return torch.allclose(launched.output.float(), plain(), rtol=2e-2, atol=2e-2)

        p = case.params
        return Pair(launched.again, plain, "SDPA fp32", agree, p["batch"] * p["heads_q"] * p["seq_q"], "queries")
    fp32 = {k: v for k, v in inputs.items()}

    def plain():
        return family._reference(case.kernel, case.params, fp32)

    def agree():
        return torch.allclose(launched.output, plain(), rtol=1e-4, atol=1e-4)

    return Pair(launched.again, plain, "torch reference", agree, launched.output.numel(), "column values")


WORKLOADS = ("saxpy", "block_reduction", "warp_reduction", "attention_tc", "deform_im2col")


MODES = ("lanes", "fibers")


def measure(name: str, cores: int, lib, mode: str) -> dict:
    torch.set_num_threads(cores)
    os.environ["SUITE_HOST_LANES"] = "auto" if mode == "lanes" else "off"
    backend = HostBackend(threads=cores)
    pair = simple_pairs(name, backend, cores, lib) if name in WORKLOADS[:3] else family_pair(name, backend)
    emulated, plain = best_seconds(pair.emulated, cores), best_seconds(pair.plain, cores)
    ran = "lanes" if any(not waits for waits in backend.execution_modes.values()) else "fibers"
    row = {"workload": name, "cores": cores, "mode": ran, "emulated_s": emulated, "plain_s": plain, "plain": pair.plain_name,
           "ratio": emulated / plain, "throughput": pair.items / emulated, "unit": pair.unit, "agree": pair.agree()}  # fmt: skip
    if name == "attention_tc":  # SDPA in bf16 too, the other yardstick
        import torch.nn.functional as F

        q, k, v = (torch.randn(1, 4, 512, 64, dtype=torch.bfloat16) for _ in range(3))
        row["ratio_bf16"] = emulated / best_seconds(lambda: F.scaled_dot_product_attention(q, k, v), cores)
    return row


def print_table(rows: list[dict]) -> None:
    print("1 core: CPU time of the process; N cores: wall-clock time")
    print(f"{'workload':16s} {'cores':>5s} {'ran as':>7s} {'emulated ms':>12s} {'plain ms':>10s} {'ratio x':>8s} "
          f"{'emulated rate':>22s}  plain code")  # fmt: skip
    for r in rows:
        extra = f" (bf16 SDPA: {r['ratio_bf16']:.0f}x)" if "ratio_bf16" in r else ""
        warn = "" if r["agree"] else "  RESULTS DIFFER"
        print(f"{r['workload']:16s} {r['cores']:5d} {r['mode']:>7s} {r['emulated_s'] * 1e3:12.2f} {r['plain_s'] * 1e3:10.3f} "
              f"{r['ratio']:8.1f} {r['throughput'] / 1e6:9.3f} M {r['unit'] + '/s':11s}  {r['plain']}{extra}{warn}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat the table this many times (spread)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--cores", default=f"1,{os.cpu_count()}", help="comma-separated core counts")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: lanes, fibers")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in WORKLOADS]
    try:
        cores = [int(c) for c in args.cores.split(",") if c]
    except ValueError:
        cores = [0]
    modes = [m for m in args.modes.split(",") if m]
    if unknown or not names or not cores or min(cores) < 1 or args.rounds < 1 or not modes or set(modes) - set(MODES):
        print(f"host_speed.py: --only takes {', '.join(WORKLOADS)}; --cores positive integers; --rounds >= 1; "
              f"--modes {', '.join(MODES)}",
              file=sys.stderr)
        sys.exit(2)
    lib = plain_library()
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu_model()}, {os.cpu_count()} "
          f"logical CPUs, load average {os.getloadavg()[0]:.1f}, {platform.python_implementation()} "
          f"{platform.python_version()}, torch {torch.__version__}")  # fmt: skip
    for round_ in range(args.rounds):
        if args.rounds > 1:
            print(f"-- round {round_ + 1} of {args.rounds}")
        print_table([measure(name, c, lib, m) for name in names for c in cores for m in modes])


if __name__ == "__main__":
    main()
