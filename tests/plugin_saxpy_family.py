"""A kernel family defined outside the suite, the way another package would add one (tests only):
out = a*x + y. `fault` makes the kernel write through a null pointer, like a buggy kernel."""

import math
from pathlib import Path

import numpy as np
import torch

from suite.kernels.family import Family, Instantiation, Launched, Param, Tolerance

SOURCE = Path(__file__).parent / "kernels" / "plugin_saxpy.cu"
THREADS = 256


class SaxpyFamily(Family):
    name = "saxpy"
    description = "a*x + y, a plugin family of the tests"
    kernels = {"saxpy": "out = a*x + y"}
    params = {
        "n": Param("int", minimum=1, help="elements"),
        "a": Param("float", 2.0),
        "fault": Param("bool", False, help="write through a null pointer"),
    }
    dtypes = ("float32",)
    tolerances = {"float32": Tolerance(atol=1e-6, rtol=1e-6)}

    def shape_label(self, params) -> str:
        return f"n{params['n']}" + (" fault" if params["fault"] else "")

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        gen = torch.Generator().manual_seed(seed)
        return {name: torch.randn(params["n"], generator=gen).to(device) for name in ("x", "y")}

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        out = torch.full_like(inputs["x"], math.nan)
        saxpy = backend.load_module(SOURCE, ["saxpy"]).get_function("saxpy")
        n = params["n"]
        args = (inputs["x"], inputs["y"], out, np.float32(params["a"]), np.int32(n), np.int32(params["fault"]))

        def again():
            saxpy((-(-n // THREADS),), (THREADS,), args)

        again()
        return Launched(out, again)

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        return params["a"] * inputs["x"].double() + inputs["y"].double(), None

    def flops(self, kernel: str, params) -> float:
        return 2.0 * params["n"]

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        return 12.0 * params["n"]

    def instantiations(self) -> list[Instantiation]:
        return [Instantiation(source=SOURCE, name_expression="saxpy", threads_per_block=THREADS, label="float32")]


FAMILY = SaxpyFamily()
