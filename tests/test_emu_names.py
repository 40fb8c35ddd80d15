"""No name of the emulation collides with a user's: kernels and helpers named like the generated
wrapper's parameters or the emulation's own functions build and run (issue #25)."""

import numpy as np

from suite.host import RawModule

NAMES = ("f", "launch", "run", "kernel", "call", "signature", "site", "c", "a", "n")

CODE = r"""
struct Call { float scale; };                           // like the emulation's suite_host::Call
__device__ float describe(float v) { return v + 1.0f; } // like suite_host::describe
""" + "".join(
    f"__global__ void {name}(float* out, int n) {{ if (threadIdx.x < n) out[threadIdx.x] = describe({i}.0f) * Call{{2.0f}}.scale; }}\n"
    for i, name in enumerate(NAMES)
)


def test_kernels_named_like_the_emulations_own_names_build_and_run():
    module = RawModule(CODE, name_expressions=NAMES)
    for i, name in enumerate(NAMES):
        out = np.zeros(4, np.float32)
        module.get_function(name)((1,), (4,), (out, np.int32(4)))
        assert (out == (i + 1) * 2.0).all(), name
