"""cuda-samples convolutionSeparable: 17-tap row and column filters whose taps the host writes into
`__constant__ float c_Kernel[]` (cudaMemcpyToSymbol; CuPy: RawModule.get_global)."""

import ctypes

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/2_Concepts_and_Techniques/convolutionSeparable/convolutionSeparable.cu"
LICENSE = "BSD-3-Clause"
RADIUS, W, H = 8, 128, 64


class NoGetGlobal(Exception):
    pass


def set_taps(kernel, taps):
    get_global = getattr(kernel.module, "get_global", None)
    if get_global is None:
        raise NoGetGlobal("__constant__ c_Kernel cannot be filled: the module has no get_global "
                          "(CuPy's RawModule.get_global, the way to cudaMemcpyToSymbol)")
    symbol = get_global("c_Kernel")
    ctypes.memmove(int(getattr(symbol, "ptr", symbol)), taps.ctypes.data, taps.nbytes)


def convolve(axis, grid, block):
    def run(kernel):
        rng = np.random.default_rng(22 + axis)
        taps = rng.random(2 * RADIUS + 1).astype(np.float32)
        image = rng.random((H, W)).astype(np.float32)
        out = np.zeros_like(image)
        set_taps(kernel, taps)
        kernel(grid, block, (out, image, np.int32(W), np.int32(H), np.int32(W)))
        padded = np.pad(image.astype(np.float64), [(RADIUS, RADIUS) if a == axis else (0, 0) for a in (0, 1)])
        want = sum(taps[RADIUS - k] * np.take(padded, np.arange(image.shape[axis]) + RADIUS + k, axis=axis)
                   for k in range(-RADIUS, RADIUS + 1))
        return Check(out, want, rtol=1e-5, atol=1e-5)

    return run


KERNELS = {
    "convolutionRowsKernel": convolve(1, (W // (8 * 16), H // 4), (16, 4)),
    "convolutionColumnsKernel": convolve(0, (W // 16, H // (8 * 8)), (16, 8)),
}
