"""The softmax kernel family: the example of docs/YOUR_KERNEL.md, and what `suite new NAME` copies.

A case file beside this file that says `family: softmax` runs it (the suite imports
softmax_family.py from the case file's folder: no package, no install). Everything the suite needs
is here: the case parameters, inputs, the launch, float64 and low-precision references, a
baseline, FLOP and byte models, and the compiled instantiations `suite check` judges.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from suite.kernels.family import Family, Instantiation, Launched, Param, Tolerance

SOURCE = Path(__file__).with_name("softmax.cu")
THREADS = 128  # a multiple of 32: the kernel reduces warp by warp
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
CUDA_TYPES = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}


def name_expression(dtype: str) -> str:
    """The template instantiation of one dtype, as NVRTC (and the host backend) name it."""
    return f"softmax<{CUDA_TYPES[dtype]}>"


class SoftmaxFamily(Family):
    name = "softmax"
    description = "softmax over the last axis of a [rows, cols] tensor, one block per row"
    kernels = {"softmax": "one block per row: max, then sum of exp, then scale (float arithmetic)"}
    baselines = {"torch": "torch.softmax(x, dim=-1)"}
    params = {
        "rows": Param("int", minimum=1, help="rows (one block each)"),
        "cols": Param("int", minimum=1, help="elements per row (the softmax axis)"),
    }
    dtypes = tuple(CUDA_TYPES)
    # float32: |out - ref64| <= atol + rtol*|ref64|. float16/bfloat16: at most twice the error of
    # torch's own softmax in that dtype, plus eps (the suite's rule for low precision).
    tolerances = {"float32": Tolerance(atol=1e-6, rtol=1e-5), "float16": Tolerance(eps=1e-3),
                  "bfloat16": Tolerance(eps=8e-3)}

    def shape_label(self, params) -> str:
        return f"{params['rows']}x{params['cols']}"

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        gen = torch.Generator().manual_seed(seed)  # on the CPU: the same data on every device
        x = 4 * torch.randn(params["rows"], params["cols"], generator=gen)
        return {"x": x.to(TORCH_DTYPES[dtype]).to(device)}

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        x = inputs["x"]
        dtype = next(name for name, t in TORCH_DTYPES.items() if t == x.dtype)
        out = torch.full_like(x, math.nan)  # unwritten elements show up as NaN
        module = backend.load_module(SOURCE, [name_expression(d) for d in self.dtypes])
        launch = module.get_function(name_expression(dtype))
        args = (x, out, np.int32(params["cols"]))

        def again():
            launch((params["rows"],), (THREADS,), args)

        again()
        return Launched(out, again)

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        x = inputs["x"]
        ref64 = torch.softmax(x.double(), dim=-1)
        ref_lowp = None if dtype == "float32" else torch.softmax(x, dim=-1)  # torch in the kernel's dtype
        return ref64, ref_lowp

    def flops(self, kernel: str, params) -> float:
        # per element: a max, a subtract + exp + add for the sum, a subtract + exp + multiply
        return 7.0 * params["rows"] * params["cols"]

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        # the fewest the operation needs: x read once, out written once
        return 2.0 * params["rows"] * params["cols"] * TORCH_DTYPES[dtype].itemsize

    def baseline(self, name: str, kernel: str, params, inputs: dict):
        x = inputs["x"]
        return lambda: torch.softmax(x, dim=-1)

    def instantiations(self) -> list[Instantiation]:
        return [Instantiation(source=SOURCE, name_expression=name_expression(dtype), threads_per_block=THREADS,
                              expect=("SHFL", "BAR"), label=dtype) for dtype in self.dtypes]

    def launched_instantiations(self, kernel: str, params, dtype: str) -> list[Instantiation]:
        return [i for i in self.instantiations() if i.label == dtype]


FAMILY = SoftmaxFamily()
