"""`suite profile` counts translated inline PTX as it counts the suite's wrappers: a cp.async, an
ldmatrix and an mma.sync written as `asm` are one instruction each, with the same requests,
sectors and wavefronts (tests/test_profile_hook.py has the wrapper version of this kernel)."""

import pytest

from profile_counts import assert_single_instructions
from suite.host import RawModule

INLINE_PTX = r"""
#include <cuda_fp16.h>

// A 16 x 64 half tile with row pitch PITCH elements: copied in by cp.async, read by ldmatrix.x4
// (lane L gives row L % 16, column 8 * (L / 16)), then one mma per warp; all as inline PTX.
extern "C" __global__ void inline_ptx(const __half* in, float* out) {
    __shared__ __align__(16) __half tile[16 * PITCH];
    const int lane = threadIdx.x;
    for (int c = lane; c < 16 * 8; c += 32) {
        const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(tile + (c / 8) * PITCH + (c % 8) * 8));
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(in + c * 8));
    }
    asm volatile("cp.async.wait_all;\n" ::);
    __syncwarp();
    unsigned a[4], b[2] = {0, 0};
    const unsigned row = static_cast<unsigned>(__cvta_generic_to_shared(tile + (lane % 16) * PITCH + 8 * (lane / 16)));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3]) : "r"(row));
    float d[4];
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%10, %10, %10, %10};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(0.0f));
    out[lane] = d[0] + __half2float(tile[lane]);
}
"""


@pytest.mark.parametrize("pitch, wavefronts", [(64, 32), (72, 4)])
def test_translated_ldmatrix_cp_async_and_mma_are_single_instructions(pitch, wavefronts):
    module = RawModule(INLINE_PTX, options=(f"-DPITCH={pitch}",))
    assert_single_instructions(module, "inline_ptx", wavefronts)
