// Attention backward on tensor cores (fp16 / bf16 in, fp32 accumulation): the dK/dV kernel of
// attention_bwd.cu (same algorithm, same arguments plus row_stride) with every product on
// mma.sync m16n8k16.
//
// One block owns BN = 16 * NWARPS keys of one (batch, KV head); each warp owns 16 of them, so the
// products whose rows are keys need no other warp. Per step of BM query rows:
//   S^T = K Q^T, dP^T = V dO^T   16 keys x BM queries per warp; K, V A fragments, Q, dO B fragments
//   P^T, dS^T                    elementwise on the accumulators, with the queries' lse and delta
//   dV += P^T dO, dK += dS^T Q   P^T and dS^T go from accumulators straight into A fragments (as P
//                                in the forward); dO and Q B fragments with ldmatrix.trans
// Fast mode also adds dQ = scale dS K into an fp32 buffer with atomics: dS^T goes through shared
// memory, and the warps split dQ's BM x HD tile (dS A fragments with ldmatrix.trans of dS^T).
// Deterministic mode leaves dQ to attention_bwd_dq (attention_bwd.cu).
// K and V are loaded once per block; Q and dO per step, by cp.async. Rows are padded by 16 bytes
// (see attention_tc.cu): every ldmatrix phase hits 8 distinct bank groups.
//
// Layouts: q, dO [batch, heads_q, seq_q, row_stride], k, v [batch, heads_kv, seq_k, row_stride],
// row_stride a multiple of 8 >= head_dim and rows 16-byte aligned (the caller pads); dK, dV
// [batch, heads_kv, seq_k, head_dim] contiguous; lse, delta [batch, heads_q, seq_q] fp32.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/attention_tc_tiles.cuh"
#include "common/bilinear.cuh"  // store_rounded
#include "common/cp_async.cuh"
#include "common/online_softmax.cuh"
#include "common/smem.cuh"
#include "common/tensor_core.cuh"

// T: __half or __nv_bfloat16. HD: head-dim tile (multiple of 16, >= head_dim); BM query rows per
// step; NWARPS warps of 16 keys each (BN = 16 * NWARPS keys per block).
// Launch: grid (ceil(seq_k / BN), heads_kv, batch), block NWARPS * 32 threads, dynamic shared memory
// 2 * ((2 * BN + 2 * BM) * (HD + 8) + BN * (BM + 8)) + 8 * BM bytes. dq_accum: null (deterministic
// mode) or the zeroed fp32 [batch, heads_q, seq_q, head_dim] buffer that receives dQ.
template <typename T, int HD, int BM, int NWARPS>
__global__ void __launch_bounds__(NWARPS * 32, 1)
    attention_bwd_tc(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                     const T* __restrict__ d_o, const float* __restrict__ lse, const float* __restrict__ delta,
                     T* __restrict__ dk, T* __restrict__ dv, float* __restrict__ dq_accum, int heads_q, int heads_kv,
                     int seq_q, int seq_k, int head_dim, int row_stride, float scale_log2, float scale, int causal,
                     int causal_offset) {
  using namespace attention_tc_detail;
  constexpr int NTHREADS = NWARPS * 32;
  constexpr int BN = 16 * NWARPS;
  constexpr int NT = BM / 8;        // n8 tiles of S^T (queries)
  constexpr int DT = HD / 8;        // n8 tiles of dK, dV (head dim)
  constexpr int LD = HD + 8;        // row pitch of K, V, Q, dO (16 bytes of padding)
  constexpr int LDS = BM + 8;       // row pitch of dS^T
  constexpr int MQ = BM / 16;       // m16 tiles of dQ
  constexpr int WPM = NWARPS / MQ;  // warps sharing one dQ m tile
  constexpr int DTW = DT / WPM;     // dQ n8 tiles per warp
  static_assert(BM % 16 == 0 && HD % 16 == 0 && NWARPS % MQ == 0 && DT % WPM == 0 && DTW % 2 == 0,
                "unsupported tile configuration");

  SUITE_DYNAMIC_SMEM(uint4, smem);
  T* k_tile = reinterpret_cast<T*>(smem);  // BN x LD
  T* v_tile = k_tile + BN * LD;            // BN x LD
  T* q_tile = v_tile + BN * LD;            // BM x LD
  T* do_tile = q_tile + BM * LD;           // BM x LD
  T* ds_tile = do_tile + BM * LD;          // BN x LDS: dS^T, [key][query]
  float* lse_s = reinterpret_cast<float*>(ds_tile + BN * LDS);
  float* delta_s = lse_s + BM;

  const int batch = blockIdx.z, head_kv = blockIdx.y, n0 = blockIdx.x * BN;
  const int group = heads_q / heads_kv;
  const long long kv_rows = ((long long)batch * heads_kv + head_kv) * seq_k;
  load_tile_async<BN, HD, LD, NTHREADS>(k_tile, k + kv_rows * row_stride, row_stride, n0, seq_k, head_dim);
  load_tile_async<BN, HD, LD, NTHREADS>(v_tile, v + kv_rows * row_stride, row_stride, n0, seq_k, head_dim);
  cp_async_commit();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates
  const int key_row0 = warp * 16;        // this warp's first key inside the block

  float dk_acc[DT][4], dv_acc[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int i = 0; i < 4; ++i) dk_acc[dt][i] = dv_acc[dt][i] = 0.f;

  // Causal: query i sees key j when i >= j - causal_offset; earlier query blocks see none of ours.
  const int m_begin = causal ? max(0, n0 - causal_offset) / BM * BM : 0;
  for (int head = head_kv * group; head < (head_kv + 1) * group; ++head) {
    const long long q_rows = ((long long)batch * heads_q + head) * seq_q;
    for (int m0 = m_begin; m0 < seq_q; m0 += BM) {
      __syncthreads();  // the previous step's Q, dO, dS^T, lse and delta are no longer read
      load_tile_async<BM, HD, LD, NTHREADS>(q_tile, q + q_rows * row_stride, row_stride, m0, seq_q, head_dim);
      load_tile_async<BM, HD, LD, NTHREADS>(do_tile, d_o + q_rows * row_stride, row_stride, m0, seq_q, head_dim);
      cp_async_commit();
      for (int r = threadIdx.x; r < BM; r += NTHREADS) {
        const bool valid = m0 + r < seq_q;
        lse_s[r] = valid ? lse[q_rows + m0 + r] : INFINITY;
        delta_s[r] = valid ? delta[q_rows + m0 + r] : 0.f;
      }
      cp_async_wait_all();
      __syncthreads();

      // S^T = K Q^T and dP^T = V dO^T (fp32 accumulators).
      float s[NT][4], dp[NT][4];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) s[nt][i] = dp[nt][i] = 0.f;
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk) {
        uint32_t ak[4], av[4];
        ldmatrix_x4(ak, k_tile + (key_row0 + lane % 16) * LD + kk * 16 + 8 * (lane / 16));
        ldmatrix_x4(av, v_tile + (key_row0 + lane % 16) * LD + kk * 16 + 8 * (lane / 16));
#pragma unroll
        for (int nt = 0; nt < NT; nt += 2) {
          uint32_t bq[4], bo[4];  // [0..1]: queries nt*8.., [2..3]: queries nt*8+8..
          const int offset = (nt * 8 + 8 * (lane / 16) + lane % 8) * LD + kk * 16 + 8 * ((lane / 8) % 2);
          ldmatrix_x4(bq, q_tile + offset);
          ldmatrix_x4(bo, do_tile + offset);
          mma_m16n8k16<T>(s[nt], ak, bq, s[nt]);
          mma_m16n8k16<T>(s[nt + 1], ak, bq + 2, s[nt + 1]);
          mma_m16n8k16<T>(dp[nt], av, bo, dp[nt]);
          mma_m16n8k16<T>(dp[nt + 1], av, bo + 2, dp[nt + 1]);
        }
      }

      // S^T becomes P^T and dP^T becomes dS^T, in place.
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int key = n0 + key_row0 + g + 8 * (i / 2), col = nt * 8 + 2 * t + i % 2;
          const bool visible = m0 + col < seq_q && attention_key_visible(m0 + col, key, seq_k, causal, causal_offset);
          const float p = visible ? exp2f(s[nt][i] * scale_log2 - lse_s[col]) : 0.f;
          s[nt][i] = p;
          dp[nt][i] = visible ? p * (dp[nt][i] - delta_s[col]) : 0.f;
        }

      // dV += P^T dO and dK += dS^T Q. The A fragment of k-step kk is the accumulators of n-tiles
      // 2kk and 2kk+1.
#pragma unroll
      for (int kk = 0; kk < BM / 16; ++kk) {
        const uint32_t ap[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                                pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
        const uint32_t ads[4] = {pack2<T>(dp[2 * kk][0], dp[2 * kk][1]), pack2<T>(dp[2 * kk][2], dp[2 * kk][3]),
                                 pack2<T>(dp[2 * kk + 1][0], dp[2 * kk + 1][1]),
                                 pack2<T>(dp[2 * kk + 1][2], dp[2 * kk + 1][3])};
#pragma unroll
        for (int dt = 0; dt < DT; dt += 2) {
          uint32_t b[4];  // [0..1]: columns dt*8.., [2..3]: columns dt*8+8..
          const int offset = (kk * 16 + lane % 16) * LD + dt * 8 + 8 * (lane / 16);
          ldmatrix_x4_trans(b, do_tile + offset);
          mma_m16n8k16<T>(dv_acc[dt], ap, b, dv_acc[dt]);
          mma_m16n8k16<T>(dv_acc[dt + 1], ap, b + 2, dv_acc[dt + 1]);
          ldmatrix_x4_trans(b, q_tile + offset);
          mma_m16n8k16<T>(dk_acc[dt], ads, b, dk_acc[dt]);
          mma_m16n8k16<T>(dk_acc[dt + 1], ads, b + 2, dk_acc[dt + 1]);
        }
      }

      if (dq_accum != nullptr) {
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int h = 0; h < 2; ++h)
            *reinterpret_cast<typename Pair<T>::type*>(ds_tile + (key_row0 + g + 8 * h) * LDS + nt * 8 + 2 * t) =
                Pair<T>::make(dp[nt][2 * h], dp[nt][2 * h + 1]);
        __syncthreads();  // every warp's dS^T is written

        const int mq = warp / WPM, d0 = warp % WPM * DTW;  // this warp's dQ m tile and first n8 tile
        float dq[DTW][4];
#pragma unroll
        for (int dt = 0; dt < DTW; ++dt)
#pragma unroll
          for (int i = 0; i < 4; ++i) dq[dt][i] = 0.f;
#pragma unroll
        for (int kk = 0; kk < BN / 16; ++kk) {
          uint32_t a[4];  // dS rows mq*16.. over keys kk*16..: matrix j is dS^T's keys +8(j/2), queries +8(j%2)
          ldmatrix_x4_trans(a, ds_tile + (kk * 16 + 8 * (lane / 16) + lane % 8) * LDS + mq * 16 + 8 * ((lane / 8) % 2));
#pragma unroll
          for (int dt = 0; dt < DTW; dt += 2) {
            uint32_t b[4];
            ldmatrix_x4_trans(b, k_tile + (kk * 16 + lane % 16) * LD + (d0 + dt) * 8 + 8 * (lane / 16));
            mma_m16n8k16<T>(dq[dt], a, b, dq[dt]);
            mma_m16n8k16<T>(dq[dt + 1], a, b + 2, dq[dt + 1]);
          }
        }
#pragma unroll
        for (int dt = 0; dt < DTW; ++dt)
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int query = m0 + mq * 16 + g + 8 * (i / 2), col = (d0 + dt) * 8 + 2 * t + i % 2;
            if (query < seq_q && col < head_dim)
              atomicAdd(dq_accum + (q_rows + query) * head_dim + col, dq[dt][i] * scale);
          }
      }
    }
  }

  // With no query step at all, the K/V copies may still be in flight: the tiles are not read
  // again, but the copies must complete before the block exits.
  cp_async_wait_all();
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int key = n0 + key_row0 + g + 8 * (i / 2), col = dt * 8 + 2 * t + i % 2;
      if (key < seq_k && col < head_dim) {
        store_rounded(dk + (kv_rows + key) * head_dim + col, dk_acc[dt][i] * scale);
        store_rounded(dv + (kv_rows + key) * head_dim + col, dv_acc[dt][i]);
      }
    }
}
