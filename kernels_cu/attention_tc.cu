// Flash-style attention on tensor cores (fp16 / bf16 in, fp32 accumulation), FlashAttention-2 style.
//
// One block computes BM query rows of one (batch, head); its NWARPS warps split those rows, 16*MT
// each, so every warp owns whole rows and its softmax needs no other warp. Per key tile of BN keys:
//   S = Q K^T      mma.sync m16n8k16; Q and K fragments from shared memory with ldmatrix
//   online softmax on the S accumulators in registers (row max/sum over the 4 lanes of a quad)
//   O += P V       P goes from the S accumulators straight into A fragments (no shared memory);
//                  V fragments with ldmatrix.trans
// K and V tiles stream through STAGES-deep rings of shared-memory buffers filled by cp.async, with
// FlashAttention-2's schedule: K and V of a tile are separate commit groups, so a tile's S = Q K^T
// starts when its K has landed while its V is still in flight, and V is waited for only before
// O += P V. K runs STAGES tiles ahead of the math, V STAGES - 1: after the wait for K(n) the buffer
// of V(n-1) is free and V(n+STAGES-1) goes there; after the wait for V(n), K(n+STAGES) replaces
// K(n). STAGES = 1 is FlashAttention-2's single buffer (one K and one V tile; the smallest shared
// memory, so more blocks share an SM), where each copy overlaps the other operand's math.
// In causal mode a warp whose rows all lie above a key tile's diagonal skips that tile's math (it
// would only add masked scores); it still reaches every barrier.
// Shared-memory rows are padded by 16 bytes: with HD a multiple of 16 the row pitch is an odd number
// of 16-byte units, so the 8 row addresses of each ldmatrix phase fall in 8 distinct bank groups.
//
// Layouts: q/k/v/o are [batch, heads, seq, head_dim] with unit stride along head_dim and the other
// strides (elements) passed in; query head h reads KV head h / (heads_q / heads_kv). Rows of q, k, v
// must start 16-byte aligned and hold a multiple of 8 elements (the caller pads head_dim with zeros
// when needed); o has no alignment requirement. The row strides of q, k and v are 32-bit: the
// launcher guarantees every in-head offset a tile copy forms fits (copying an operand whose rows are
// too far apart), which frees the registers that keep FlashAttention-2's 4-warp tiles spill-free.
// lse: null, or [batch, heads_q, seq_q] contiguous fp32 that receives each row's log-sum-exp of the
// base-2 scaled scores (softmax_log2_sum_exp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/attention_tc_tiles.cuh"
#include "common/cp_async.cuh"
#include "common/online_softmax.cuh"
#include "common/smem.cuh"
#include "common/tensor_core.cuh"

// T: __half or __nv_bfloat16. HD: head-dim tile (multiple of 16, >= head_dim). BM query rows per
// block, BN keys per tile, NWARPS warps, STAGES buffers each for K and V (>= 1).
// Launch: grid (ceil(seq_q / BM), heads_q, batch), block NWARPS * 32 threads, dynamic shared memory
// 2 * (HD + 8) * (BM + 2 * STAGES * BN) bytes.
template <typename T, int HD, int BM, int BN, int NWARPS, int STAGES>
__global__ void __launch_bounds__(NWARPS * 32, 1)
    attention_tc(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ o,
                 float* __restrict__ lse, int heads_q, int heads_kv, int seq_q, int seq_k, int head_dim,
                 long long q_sb, long long q_sh, int q_ss, long long k_sb, long long k_sh, int k_ss,
                 long long v_sb, long long v_sh, int v_ss, long long o_sb, long long o_sh, long long o_ss,
                 float scale_log2, int causal, int causal_offset) {
  using namespace attention_tc_detail;
  constexpr int NTHREADS = NWARPS * 32;
  constexpr int WM = BM / NWARPS;  // query rows per warp
  constexpr int MT = WM / 16;      // m16 tiles per warp
  constexpr int NT = BN / 8;       // n8 tiles of S
  constexpr int DT = HD / 8;       // n8 tiles of O
  constexpr int LD = HD + 8;       // row pitch in elements (16 bytes of padding, see above)
  static_assert(WM % 16 == 0 && BN % 16 == 0 && HD % 16 == 0 && STAGES >= 1, "unsupported tile configuration");

  SUITE_DYNAMIC_SMEM(uint4, smem);
  T* q_tile = reinterpret_cast<T*>(smem);  // BM x LD
  T* k_ring = q_tile + BM * LD;            // STAGES x BN x LD
  T* v_ring = k_ring + STAGES * BN * LD;   // STAGES x BN x LD

  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (heads_q / heads_kv);
  // Causal blocks further down see more keys; start those first so the tail of the grid is short.
  const int m0 = (causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x) * BM;
  const T* q_head = q + batch * q_sb + head * q_sh;
  const T* k_head = k + batch * k_sb + head_kv * k_sh;
  const T* v_head = v + batch * v_sb + head_kv * v_sh;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates: row group and thread in group
  const int warp_row0 = warp * WM;       // first row of this warp inside the block's tile

  // Keys past kv_end are masked for every row of the block.
  const int kv_end = causal ? min(seq_k, m0 + BM + causal_offset) : seq_k;
  const int n_tiles = kv_end > 0 ? (kv_end + BN - 1) / BN : 0;
  // Copies key tile `tile` of K or V (ring and source) into its buffer as one commit group, empty
  // past the last tile, so the number of groups committed before each wait is the same for every
  // tile. Groups go K(0) (with Q), V(0), K(1), V(1), ...
  auto load_kv = [&](T* ring, const T* src, int row_stride, int tile) {
    if (tile < n_tiles)
      load_tile_async<BN, HD, LD, NTHREADS>(ring + tile % STAGES * BN * LD, src, row_stride, tile * BN, seq_k,
                                            head_dim);
    cp_async_commit();
  };
  // Pending groups newer than the one waited for: K(n+1..n+STAGES-1) and V(n..n+STAGES-2) at the
  // wait for K(n); K(n+1..n+STAGES-1) and V(n+1..n+STAGES-1) at the wait for V(n).
  constexpr int NEWER_GROUPS = 2 * STAGES - 2;

  // Prologue: Q travels in K(0)'s group; then V(0..STAGES-2) and K(1..STAGES-1) alternate.
  load_tile_async<BM, HD, LD, NTHREADS>(q_tile, q_head, q_ss, m0, seq_q, head_dim);
  load_kv(k_ring, k_head, k_ss, 0);
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) load_kv(v_ring, v_head, v_ss, s), load_kv(k_ring, k_head, k_ss, s + 1);

  float o_acc[MT][DT][4];
  float row_max[MT][2], row_sum[MT][2];  // rows g and g+8 of each m tile; row_sum is this lane's share
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int i = 0; i < 4; ++i) o_acc[mt][dt][i] = 0.f;
#pragma unroll
    for (int h = 0; h < 2; ++h) row_max[mt][h] = -INFINITY, row_sum[mt][h] = 0.f;
  }

  // Q's A fragments take MT*HD/4 registers. Up to 32 they stay in registers, saving ldmatrix
  // traffic at every tile; beyond, S and O need the registers (ptxas spills) and Q is reloaded
  // from shared memory at each k step.
  constexpr bool Q_IN_REGS = MT * HD <= 128;
  uint32_t q_frag[MT][Q_IN_REGS ? HD / 16 : 1][4];

  for (int tile = 0; tile < n_tiles; ++tile) {
    const T* k_tile = k_ring + (tile % STAGES) * BN * LD;
    const T* v_tile = v_ring + (tile % STAGES) * BN * LD;
    const int kv0 = tile * BN;
    // Warp-uniform: false when every row of the warp is above the tile's diagonal (then it stays so
    // for later tiles, so a warp skipping tile 0 never needs Q's fragments).
    const bool warp_sees_tile = !causal || kv0 <= m0 + warp_row0 + WM - 1 + causal_offset;

    // K(tile) has landed when at most NEWER_GROUPS newer groups are pending. The barrier makes it
    // visible to every warp and ensures all warps finished O += P V(tile-1), whose buffer V(tile +
    // STAGES - 1) takes next.
    cp_async_wait<NEWER_GROUPS>();
    __syncthreads();
    load_kv(v_ring, v_head, v_ss, tile + STAGES - 1);

    float s[MT][NT][4];  // S = Q K^T (raw scores, fp32), then P
    if (warp_sees_tile) {
      if (Q_IN_REGS && tile == 0) {  // Q's A fragments, loaded once
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int kk = 0; kk < (Q_IN_REGS ? HD / 16 : 0); ++kk)
            ldmatrix_x4(q_frag[mt][kk], q_tile + (warp_row0 + mt * 16 + lane % 16) * LD + kk * 16 + 8 * (lane / 16));
      }
      tile_scores<T, MT, NT, HD, LD>(s, k_tile, lane, [&](int mt, int kk, uint32_t (&a)[4]) {
        if constexpr (Q_IN_REGS)
#pragma unroll
          for (int i = 0; i < 4; ++i) a[i] = q_frag[mt][kk][i];
        else
          ldmatrix_x4(a, q_tile + (warp_row0 + mt * 16 + lane % 16) * LD + kk * 16 + 8 * (lane / 16));
      });
    }

    // V(tile) likewise; after this barrier every warp is done with K(tile), whose buffer K(tile +
    // STAGES) takes.
    cp_async_wait<NEWER_GROUPS>();
    __syncthreads();
    load_kv(k_ring, k_head, k_ss, tile + STAGES);
    if (!warp_sees_tile) continue;

    // Online softmax; S becomes P in place. Only tiles crossing Sk or the causal diagonal need masks.
    const bool needs_mask = kv0 + BN > seq_k || (causal && kv0 + BN - 1 > m0 + warp_row0 + causal_offset);
    tile_softmax(s, o_acc, row_max, row_sum, scale_log2, kv0, lane, needs_mask, [&](int mt, int h, int key) {
      return attention_key_visible(m0 + warp_row0 + mt * 16 + g + 8 * h, key, seq_k, causal, causal_offset);
    });
    tile_accumulate_pv<T, MT, NT, DT, LD>(o_acc, s, v_tile, lane);
  }

  // The output is staged in the warp's own Q rows. Q's copies were issued by all threads, so with
  // no key tile at all they may still be in flight: wait for them everywhere first.
  cp_async_wait_all();
  __syncthreads();
  T* o_stage = q_tile + warp_row0 * LD;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float sum = group_sum<4>(row_sum[mt][h]);
      const float inv = softmax_inverse_sum(sum);
      const int row = mt * 16 + g + 8 * h;
      if (lse != nullptr && t == 0 && m0 + warp_row0 + row < seq_q)
        lse[((long long)batch * heads_q + head) * seq_q + m0 + warp_row0 + row] =
            softmax_log2_sum_exp(row_max[mt][h], sum);
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
        *reinterpret_cast<typename Pair<T>::type*>(o_stage + row * LD + dt * 8 + 2 * t) =
            Pair<T>::make(o_acc[mt][dt][2 * h] * inv, o_acc[mt][dt][2 * h + 1] * inv);
    }
  }
  __syncwarp();

  T* o_head = o + batch * o_sb + head * o_sh;
  const int query0 = m0 + warp_row0;
  if (head_dim % 8 == 0 && o_ss % 8 == 0 && reinterpret_cast<size_t>(o_head) % 16 == 0) {
    for (int c = lane; c < WM * DT; c += 32) {  // 16-byte stores, a row's chunks on adjacent lanes
      const int r = c / DT, col = (c % DT) * 8;
      if (query0 + r < seq_q && col < head_dim)
        *reinterpret_cast<uint4*>(o_head + (query0 + r) * o_ss + col) =
            *reinterpret_cast<const uint4*>(o_stage + r * LD + col);
    }
  } else {
    for (int e = lane; e < WM * HD; e += 32) {
      const int r = e / HD, col = e % HD;
      if (query0 + r < seq_q && col < head_dim) o_head[(query0 + r) * o_ss + col] = o_stage[r * LD + col];
    }
  }
}
