"""cuda-samples transpose: the copies and transposes of 32 x 32 tiles with 32 x 16 threads, on a
square matrix (transposeFineGrained transposes each tile in place, as the sample says;
transposeCoarseGrained moves tiles without transposing them: not tried)."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/6_Performance/transpose/transpose.cu"
LICENSE = "BSD-3-Clause"
TILE, ROWS, SIZE = 32, 16, 96


def expect(x, what):
    if what == "copy":
        return x
    if what == "transpose":
        return x.T
    tiles = SIZE // TILE  # each tile transposed where it stands
    return x.reshape(tiles, TILE, tiles, TILE).transpose(0, 3, 2, 1).reshape(SIZE, SIZE)


def launch(what):
    def run(kernel):
        x = np.random.default_rng(1).standard_normal((SIZE, SIZE), dtype=np.float32)
        out = np.zeros_like(x)
        kernel((SIZE // TILE, SIZE // TILE), (TILE, ROWS), (out, x, np.int32(SIZE), np.int32(SIZE)))
        return Check(out, expect(x, what), rtol=0, atol=0)

    return run


KERNELS = {
    "copy": launch("copy"),
    "copySharedMem": launch("copy"),
    "transposeNaive": launch("transpose"),
    "transposeCoalesced": launch("transpose"),
    "transposeNoBankConflicts": launch("transpose"),
    "transposeDiagonal": launch("transpose"),
    "transposeFineGrained": launch("tiles"),
}
