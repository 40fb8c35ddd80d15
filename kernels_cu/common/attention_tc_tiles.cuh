// Pieces the tensor-core attention kernels share: fp32 pairs rounded into one mma fragment register,
// cp.async copies of row tiles into padded shared memory (forward, decode and backward), and the
// forward's per-key-tile steps (S = Q K^T, online softmax, O += P V) on a warp's m16 tiles
// (attention_tc and attention_decode).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/cp_async.cuh"
#include "common/online_softmax.cuh"
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
// column advance by fixed steps, so its source offset advances in place. (Computing each chunk's
// address afresh let ptxas hoist one 64-bit address per chunk out of the key loop, 32 registers for
// K and V together, and spill.) The trip count is a compile-time constant, so the copies unroll
// without a loop test; only the last one can be partial. Index: the type of in-head offsets (int
// when the caller guarantees they fit, as attention_tc's launcher does: it halves the offset
// registers; long long otherwise).
template <int ROWS, int HD, int LD, int NTHREADS, typename T, typename Index>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, Index row_stride, int row0, int seq,
                                                int head_dim) {
  constexpr int CHUNKS = HD / 8;                        // 16-byte chunks per row
  constexpr int TOTAL = ROWS * CHUNKS;                  // chunks in the tile
  constexpr int COPIES = (TOTAL + NTHREADS - 1) / NTHREADS;  // per thread
  constexpr int Q_STEP = NTHREADS / 8;                  // e / 8 advances by this per step
  constexpr int ROW_STEP = Q_STEP / CHUNKS * 8;         // whole 8-row bands a step advances, in rows
  constexpr int COL_STEP = Q_STEP % CHUNKS * 8;         // and elements beyond them
  static_assert(ROWS % 8 == 0 && NTHREADS % 8 == 0, "tiles are copied in bands of 8 rows");
  const int q = threadIdx.x / 8;
  int r = q / CHUNKS * 8 + threadIdx.x % 8, col = q % CHUNKS * 8;
  Index offset = Index(row0 + r) * row_stride + col;
#pragma unroll
  for (int i = 0; i < COPIES; ++i) {
    if (TOTAL % NTHREADS == 0 || threadIdx.x + i * NTHREADS < TOTAL) {
      const bool valid = row0 + r < seq && col < head_dim;
      cp_async_16_zfill(tile + r * LD + col, src + (valid ? offset : Index(0)), valid);
    }
    r += ROW_STEP, col += COL_STEP, offset += ROW_STEP * row_stride + COL_STEP;
    // Arithmetic rather than a branch: every lane then runs the same code (a host compiler would
    // otherwise duplicate the next copy into both arms, which profiling sees as two instructions).
    const int wrap = COL_STEP != 0 && col >= HD;
    col -= wrap * HD, r += wrap * 8, offset += wrap * (8 * row_stride - HD);
  }
}

// The forward's steps over one tile of BN = 8 * NT keys for a warp owning MT m16 tiles of query
// rows; accumulators in the mma C layout (c[i]: row g + 8 * (i / 2), column 2t + i % 2, with
// g = lane / 4, t = lane % 4), so a lane holds rows g and g + 8 (h = 0, 1) of each m tile.

// S = Q K^T (raw scores, fp32). a_frag(mt, kk, a) fills the A fragment of m tile mt, k step kk
// (registers or ldmatrix: the caller's choice); K fragments come from k_tile (row pitch LD) by
// ldmatrix, each feeding all MT m tiles.
template <typename T, int MT, int NT, int HD, int LD, typename AFragment>
__device__ __forceinline__ void tile_scores(float (&s)[MT][NT][4], const T* k_tile, int lane, AFragment a_frag) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int i = 0; i < 4; ++i) s[mt][nt][i] = 0.f;
#pragma unroll
  for (int kk = 0; kk < HD / 16; ++kk) {
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) a_frag(mt, kk, a[mt]);
#pragma unroll
    for (int nt = 0; nt < NT; nt += 2) {
      uint32_t b[4];  // b[0..1]: keys nt*8.., b[2..3]: keys nt*8+8..
      ldmatrix_x4(b, k_tile + (nt * 8 + 8 * (lane / 16) + lane % 8) * LD + kk * 16 + 8 * ((lane / 8) % 2));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma_m16n8k16<T>(s[mt][nt], a[mt], b, s[mt][nt]);
        mma_m16n8k16<T>(s[mt][nt + 1], a[mt], b + 2, s[mt][nt + 1]);
      }
    }
  }
}

// Online softmax of the tile whose first key is kv0; S becomes P in place, and the running row
// max and sum (this lane's share) and the O accumulators are rescaled. When needs_mask,
// visible(mt, h, key) says whether row h of m tile mt sees the key (masked scores become -inf).
// S stays unscaled: the max is taken on raw scores and scaled once per row (scale_log2 > 0 keeps
// the order), and the scale goes into the exponent's FFMA, so no scaled copy of S is alive (one
// made ptxas spill at 4 warps x 32 rows). Needs scale_log2 > 0.
// O is rescaled even when no row max changed: skipping it behind a warp vote (__any_sync, per row
// or per tile) made ptxas spill the 4-warp d=128 tile (16 B on sm_80 and sm_90) and d=96.
template <int MT, int NT, int DT, typename Visible>
__device__ __forceinline__ void tile_softmax(float (&s)[MT][NT][4], float (&o_acc)[MT][DT][4],
                                             float (&row_max)[MT][2], float (&row_sum)[MT][2], float scale_log2,
                                             int kv0, int lane, bool needs_mask, Visible visible) {
  const int t = lane % 4;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[mt][nt][2 * h + e];
          if (needs_mask && !visible(mt, h, kv0 + nt * 8 + 2 * t + e)) x = -INFINITY;
          tile_max = fmaxf(tile_max, x);
        }
      const float alpha = online_softmax_rescale(row_max[mt][h], group_max<4>(tile_max) * scale_log2);
      const float base = softmax_exp_base(row_max[mt][h]);
      row_sum[mt][h] *= alpha;
#pragma unroll
      for (int dt = 0; dt < DT; ++dt) o_acc[mt][dt][2 * h] *= alpha, o_acc[mt][dt][2 * h + 1] *= alpha;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[mt][nt][2 * h + e];
          x = exp2f(x * scale_log2 - base);
          row_sum[mt][h] += x;
        }
    }
  }
}

// O += P V. The A fragment of k step kk is the accumulators of S n tiles 2kk and 2kk+1, rounded to
// T; V fragments come from v_tile (row pitch LD) by ldmatrix.trans.
template <typename T, int MT, int NT, int DT, int LD>
__device__ __forceinline__ void tile_accumulate_pv(float (&o_acc)[MT][DT][4], const float (&s)[MT][NT][4],
                                                   const T* v_tile, int lane) {
#pragma unroll
  for (int kk = 0; kk < NT / 2; ++kk) {
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      a[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
      a[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
      a[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
      a[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
    }
#pragma unroll
    for (int dt = 0; dt < DT; dt += 2) mma_row_major_b_pair<T, LD>(o_acc, a, v_tile, kk * 16, dt * 8, lane);
  }
}

}  // namespace attention_tc_detail
