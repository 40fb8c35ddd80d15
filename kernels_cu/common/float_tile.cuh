// Row tiles of one attention head copied into fp32 shared memory, for the SIMT attention kernels:
// rows [row0, row0 + ROWS) x [0, HD) of a [seq, head_dim] slice with row stride row_stride, widened
// to fp32 from float, __half or __nv_bfloat16. Rows past seq and columns past head_dim become zeros,
// so padded lanes add nothing to the dot products.
#pragma once

#include "common/bilinear.cuh"  // to_compute: the widening conversions the kernels share

template <int ROWS, int HD, int LD, int NTHREADS, typename T>
__device__ __forceinline__ void load_float_tile(float* dst, const T* src, long long row_stride, int row0, int seq,
                                                int head_dim) {
  for (int e = threadIdx.x; e < ROWS * HD; e += NTHREADS) {
    const int r = e / HD, c = e % HD;
    const bool valid = row0 + r < seq && c < head_dim;
    dst[r * LD + c] = valid ? to_compute(src[(long long)(row0 + r) * row_stride + c]) : 0.f;
  }
}
