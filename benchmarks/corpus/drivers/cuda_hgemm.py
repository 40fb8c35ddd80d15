"""Bruce-Lee-LY/cuda_hgemm: fp16 GEMMs (C = A B^T, fp16 accumulate) through WMMA and through inline
PTX (ldmatrix, mma.sync m16n8k16, cp.async), from naive to multi-stage pipelines. Launch shapes and
shared memory sizes come from each file's own macros, as its host code computes them."""

import re
from pathlib import Path

import numpy as np
import torch

from harness import Check

SOURCE = "cuda_hgemm"
LICENSE = "MIT"
M, N, K = 256, 128, 128  # one block row; four K_STAGE chunks of 32
VARIANTS = ["naive", "base", "padding", "async", "async_pg2s", "async_pg2s_ps2r", "async_stage2", "async_stage3"]


def camel(api, variant):
    return api + "".join(part.capitalize() for part in variant.split("_")) + "Kernel"


def macros(kernel) -> dict:
    text = Path(kernel.module.source).read_text()
    return {name: int(value) for name, value in re.findall(r"^#define (\w+) (\d+)\b", text, re.M)}


def gemm(api, variant):
    def run(kernel):
        g = torch.Generator().manual_seed(len(variant))
        a = torch.randn(M, K, generator=g).half()
        bt = torch.randn(N, K, generator=g).half()  # B column-major: N rows of K
        c = torch.zeros(M, N, dtype=torch.float16)
        d = macros(kernel)
        if variant == "naive":
            grid, block, smem = (N // d[f"{api.upper()}_N"], M // d[f"{api.upper()}_M"]), (32,), 0
        else:
            stages = d.get("K_STAGE", 2 if "pg2s" in variant else 1)
            smem = max((d["BLOCK_ROWS"] + d["BLOCK_COLS"]) * d["AB_SMEM_STRIDE"] * 2 * stages,
                       d["BLOCK_ROWS"] * d["C_SMEM_STRIDE"] * 2)
            grid = (d["BLOCK_STRIDE"], -(-M // d["BLOCK_ROWS"]), -(-N // (d["BLOCK_COLS"] * d["BLOCK_STRIDE"])))
            block = (d["THREADS_PER_BLOCK"],)
            kernel.max_dynamic_shared_size_bytes = smem  # the host code's cudaFuncSetAttribute
        kernel(grid, block, (a, bt, c, np.uint64(M), np.uint64(N), np.uint64(K)), shared_mem=smem)
        return Check(c, a.double() @ bt.double().t(), rtol=2e-2, atol=6e-2)  # fp16 accumulation

    return run


FILES = {f"src/wmma/wmma_{v}.cu": {camel("wmma", v): gemm("wmma", v)} for v in VARIANTS}
FILES.update({f"src/mma/mma_{v}.cu": {camel("mma", v): gemm("mma", v)} for v in VARIANTS + ["async_stage4", "permuted"]
              if v != "padding"})
INCLUDE_DIRS = ("src/common",)
