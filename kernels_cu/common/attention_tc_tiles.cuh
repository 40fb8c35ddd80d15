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
// Chunk e goes to row (e / (8 * CHUNKS)) * 8 + e % 8 and column chunk (e / 8) % CHUNKS: the 8 lanes
// of each shared-memory phase write one column chunk of 8 consecutive rows, which the odd pitch in
// 16-byte units puts in 8 distinct bank groups, as for ldmatrix. (Row-major chunks put two rows in a
// phase whenever a row has fewer than 8 chunks or the chunks wrap, and those rows shared banks:
// 2-way conflicts that `suite profile` counted at head dims 32, 48, 80, ...). ROWS is a multiple of 8.
// Thread i copies chunks i, i + NTHREADS, ...: its row within the band stays i % 8 and its band and
// column advance by fixed steps, so its source pointer advances in place. (Computing each chunk's
// address afresh let ptxas hoist one 64-bit address per chunk out of the key loop, 32 registers for
// K and V together, and spill.)
template <int ROWS, int HD, int LD, int NTHREADS, typename T>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, long long row_stride, int row0, int seq,
                                                int head_dim) {
  constexpr int CHUNKS = HD / 8;                        // 16-byte chunks per row
  constexpr int Q_STEP = NTHREADS / 8;                  // e / 8 advances by this per step
  constexpr int ROW_STEP = Q_STEP / CHUNKS * 8;         // whole 8-row bands a step advances, in rows
  constexpr int COL_STEP = Q_STEP % CHUNKS * 8;         // and elements beyond them
  static_assert(ROWS % 8 == 0 && NTHREADS % 8 == 0, "tiles are copied in bands of 8 rows");
  const int q = threadIdx.x / 8;
  int r = q / CHUNKS * 8 + threadIdx.x % 8, col = q % CHUNKS * 8;
  const T* from = src + (row0 + r) * row_stride + col;
#pragma unroll
  for (int c = threadIdx.x; c < ROWS * CHUNKS; c += NTHREADS) {
    const bool valid = row0 + r < seq && col < head_dim;
    cp_async_16_zfill(tile + r * LD + col, valid ? from : src, valid);
    r += ROW_STEP, col += COL_STEP, from += ROW_STEP * row_stride + COL_STEP;
    // Arithmetic rather than a branch: every lane then runs the same code (a host compiler would
    // otherwise duplicate the next copy into both arms, which profiling sees as two instructions).
    const int wrap = COL_STEP != 0 && col >= HD;
    col -= wrap * HD, r += wrap * 8, from += wrap * (8 * row_stride - HD);
  }
}

}  // namespace attention_tc_detail
