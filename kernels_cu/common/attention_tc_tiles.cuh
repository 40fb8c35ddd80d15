// Pieces the tensor-core attention kernels share (forward and backward): fp32 pairs rounded into one
// mma fragment register, and cp.async copies of row tiles into padded shared memory.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/cp_async.cuh"
#include "common/tensor_core.cuh"

namespace attention_tc_detail {

template <typename T>
struct Pair;  // two elements in one 32-bit word, first element in the low half
template <>
struct Pair<__half> {
  using type = __half2;
  static __device__ __forceinline__ type make(float lo, float hi) { return __floats2half2_rn(lo, hi); }
};
template <>
struct Pair<__nv_bfloat16> {
  using type = __nv_bfloat162;
  static __device__ __forceinline__ type make(float lo, float hi) { return __floats2bfloat162_rn(lo, hi); }
};

// A register of an mma A fragment holding (lo, hi) rounded to T.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  const typename Pair<T>::type pair = Pair<T>::make(lo, hi);
  uint32_t bits;
  memcpy(&bits, &pair, sizeof(bits));
  return bits;
}

// Issues cp.async copies of rows [row0, row0 + ROWS) x [0, HD) of one head into a tile with row
// pitch LD. Rows past seq and 8-element chunks at or past head_dim are zero-filled, so padded keys
// and columns contribute nothing (masked keys are also set to -inf before the softmax).
// Thread i copies chunks i, i + NTHREADS, ...: its row and column advance by fixed steps, so its
// source pointer advances in place. (Computing each chunk's address afresh let ptxas hoist one
// 64-bit address per chunk out of the key loop, 32 registers for K and V together, and spill.)
template <int ROWS, int HD, int LD, int NTHREADS, typename T>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, long long row_stride, int row0, int seq,
                                                int head_dim) {
  constexpr int CHUNKS = HD / 8;                        // 16-byte chunks per row
  constexpr int ROW_STEP = NTHREADS / CHUNKS;           // whole rows a step advances
  constexpr int COL_STEP = NTHREADS % CHUNKS * 8;       // and elements beyond them
  int r = threadIdx.x / CHUNKS, col = threadIdx.x % CHUNKS * 8;
  const T* from = src + (row0 + r) * row_stride + col;
#pragma unroll
  for (int c = threadIdx.x; c < ROWS * CHUNKS; c += NTHREADS) {
    const bool valid = row0 + r < seq && col < head_dim;
    cp_async_16_zfill(tile + r * LD + col, valid ? from : src, valid);
    r += ROW_STEP, col += COL_STEP, from += ROW_STEP * row_stride + COL_STEP;
    if (COL_STEP != 0 && col >= HD) col -= HD, ++r, from += row_stride - HD;
  }
}

}  // namespace attention_tc_detail
