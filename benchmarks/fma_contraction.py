"""How often FMA contraction changes the suite's kernel outputs on the host backend.

nvcc and NVRTC contract a*b + c into one fused multiply-add by default (--fmad=true); the host
backend does too (g++ -ffp-contract=fast -mfma), and --fmad=false turns it off. Which products
each compiler fuses is its own choice, so the host cannot promise the GPU's bits; this measures
how much the choice matters on the suite's own kernels: each op runs twice on the same random
inputs, with contraction and without (two processes, two builds), and the outputs are compared
element by element and against a float64 reference.

    python benchmarks/fma_contraction.py          # prints a table (counts, and errors in units of the dtype's eps)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def workloads():
    """(name, inputs, op, reference) for each kernel of the suite that computes in floating point."""
    from suite.ops import attention, deform_conv2d, deform_im2col

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 16, 16, generator=g)
    offset = torch.randn(2, 18, 14, 14, generator=g) * 2
    weight = torch.randn(16, 8, 3, 3, generator=g)
    yield ("deform_im2col fp32", lambda: deform_im2col(x, offset, kernel_size=3, backend="host"),
           lambda: deform_im2col(x.double(), offset.double(), kernel_size=3, backend="host"))
    yield ("deform_conv2d fp32", lambda: deform_conv2d(x, offset, weight, backend="host"),
           lambda: deform_conv2d(x.double(), offset.double(), weight.double(), backend="host"))
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        q = torch.randn(1, 4, 77, 64, generator=g).to(dtype)
        k = torch.randn(1, 4, 93, 64, generator=g).to(dtype)
        v = torch.randn(1, 4, 93, 64, generator=g).to(dtype)
        yield (f"attention {str(dtype)[6:]}", lambda q=q, k=k, v=v: attention(q, k, v, causal=True, backend="host"),
               lambda q=q, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(
                   q.double(), k.double(), v.double(), is_causal=True))


def run_all(directory: Path) -> None:
    """This process's outputs, one .npy per workload."""
    for i, (_, op, _) in enumerate(workloads()):
        np.save(directory / f"{i}.npy", op().float().numpy())


def main() -> None:
    if len(sys.argv) == 3:  # a child: `off` patches contraction out of every build
        if sys.argv[1] == "off":
            from suite.emulator import build

            build.contraction_flags = lambda options: ["-ffp-contract=off"]
        run_all(Path(sys.argv[2]))
        return
    from suite.emulator.build import cpu_has_fma

    if not cpu_has_fma():
        sys.exit("this CPU has no FMA instructions: the host backend cannot contract here")
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {mode: Path(tmp) / mode for mode in ("on", "off")}
        for mode, d in dirs.items():
            d.mkdir()
            subprocess.run([sys.executable, __file__, mode, str(d)], check=True)
        print(f"{'kernel':<20} {'elements':>9} {'differ':>8} {'%':>6} {'max err fused':>14} {'max err unfused':>16}")
        print(f"{'':<20} {'':>9} {'':>8} {'':>6} {'(eps of dtype)':>14} {'(eps of dtype)':>16}")
        for i, (name, _, reference) in enumerate(workloads()):
            on, off = np.load(dirs["on"] / f"{i}.npy"), np.load(dirs["off"] / f"{i}.npy")
            ref = reference().numpy()
            eps = {"fp32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23}[name.split()[-1]]
            scale = np.maximum(np.abs(ref), 1.0)
            err_on = float(np.max(np.abs(on - ref) / scale)) / eps
            err_off = float(np.max(np.abs(off - ref) / scale)) / eps
            differ = int((on != off).sum())
            print(f"{name:<20} {on.size:>9} {differ:>8} {100 * differ / on.size:>6.2f} {err_on:>14.2f} {err_off:>16.2f}")


if __name__ == "__main__":
    main()
