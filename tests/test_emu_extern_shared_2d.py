"""`extern __shared__ T name[][N];`: dynamic shared memory declared as a 2-D array (cuda-samples'
tensor-core GEMMs, cuda_hgemm) gets storage like the 1-D form; it used to fail at load time with
"undefined symbol"."""

import numpy as np

from suite.host import RawKernel

CODE = r"""
extern "C" __global__ void transpose_tile(const float* in, float* out) {
    extern __shared__ float tile[][33];
    tile[threadIdx.y][threadIdx.x] = in[threadIdx.y * 32 + threadIdx.x];
    __syncthreads();
    out[threadIdx.y * 32 + threadIdx.x] = tile[threadIdx.x][threadIdx.y];
}
"""


def test_two_dimensional_extern_shared_array_has_storage():
    x = np.random.default_rng(0).standard_normal((32, 32), dtype=np.float32)
    out = np.zeros_like(x)
    RawKernel(CODE, "transpose_tile")((1,), (32, 32), (x, out), shared_mem=32 * 33 * 4)
    np.testing.assert_array_equal(out, x.T)
