// The forward's per-key-tile steps the tensor-core attention kernels share (attention_tc and
// attention_decode): S = Q K^T, online softmax, O += P V on a warp's m16 tiles. (The row-tile copy
// is load_tile_async in common/cp_async.cuh, the fragment packing pack2 in common/tensor_core.cuh.)
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/cp_async.cuh"
#include "common/online_softmax.cuh"
#include "common/tensor_core.cuh"

namespace attention_tc_detail {

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
