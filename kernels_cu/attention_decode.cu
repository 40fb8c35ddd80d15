// Split-KV attention for decoding (few query rows, long keys), FlashAttention-2's flash-decoding on
// tensor cores (fp16 / bf16 in, fp32 accumulation). Two kernels:
//
// attention_decode_split: one block per (batch, KV head, split of the keys, block of packed rows).
//   The query heads of one KV group share its keys, so their rows are packed into the M dimension:
//   packed row r is query head (kv_head * group + r / seq_q), query position r % seq_q; GQA 8:1 at
//   seq_q = 1 gives 8 real rows where a block per query head would give 1 row of 16. Each warp owns
//   16 packed rows (one m16 tile); warps whose rows all lie past the last real row only help copy
//   K and V. Per key tile the math is attention_tc's (common/attention_tc_tiles.cuh): S = Q K^T and
//   O += P V with mma.sync m16n8k16 and ldmatrix, online softmax in registers, K/V through a
//   STAGES-deep cp.async ring.
//   Each block writes its rows' normalised partial output and base-2 log-sum-exp (-inf for a row
//   that saw no key in this split) to fp32 workspaces.
// attention_decode_combine: one warp per output row merges the splits: weights exp2(lse_s - max),
//   output = sum_s w_s O_s / sum_s w_s, rounded once to T.
//
// Expected bound (a prediction; no GPU has run it): memory bandwidth, K and V read once. Each of
// the R = group * seq_q packed rows costs 4 FLOP per key against 4 bytes of fp16/bf16 K and V, so a
// block does R FLOP per byte (1-8 at seq_q 1, 128 at GQA 8:1 with seq_q 16; the mma computes at least
// 16 rows), below a tensor-core GPU's ridge point (H100 SXM: ~295 FLOP/B). Above 64 packed rows each
// row block of a split reads that split's K/V. The workspaces add splits * rows * (HD + 1) * 4 bytes,
// written and read once: small next to K and V at long seq_k.
//
// Layouts: q/k/v/o are [batch, heads, seq, head_dim] with unit stride along head_dim and the other
// strides (elements) passed in. Rows of q, k, v start 16-byte aligned and hold a multiple of 8
// elements (the launcher pads head_dim with zeros when needed, as for attention_tc). Workspaces:
// o_part [splits, batch * heads_q * seq_q, HD] and lse_part [splits, batch * heads_q * seq_q]:
// packed rows of KV head kvh of batch b are exactly rows (b * heads_kv + kvh) * group * seq_q + r
// of [batch, heads_q, seq_q] order, so the combine kernel reads them by output row.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/attention_tc_tiles.cuh"
#include "common/bilinear.cuh"
#include "common/cp_async.cuh"
#include "common/online_softmax.cuh"
#include "common/smem.cuh"
#include "common/tensor_core.cuh"

// T: __half or __nv_bfloat16. HD: head-dim tile (multiple of 16, >= head_dim). BN keys per tile,
// NWARPS warps of 16 packed rows each, STAGES K/V buffers (>= 2).
// Launch: grid (batch * heads_kv, splits, ceil(group * seq_q / (16 * NWARPS))), block NWARPS * 32
// threads, dynamic shared memory 2 * (HD + 8) * (16 * NWARPS + 2 * STAGES * BN) bytes.
// Split s covers keys [s * keys_per_split, (s + 1) * keys_per_split) of those any row may see
// (keys_per_split a multiple of BN, so only the last split has a partial tile).
template <typename T, int HD, int BN, int NWARPS, int STAGES>
__global__ void __launch_bounds__(NWARPS * 32)
    attention_decode_split(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                           float* __restrict__ o_part, float* __restrict__ lse_part, int heads_q, int heads_kv,
                           int seq_q, int seq_k, int head_dim, long long q_sb, long long q_sh, long long q_ss,
                           long long k_sb, long long k_sh, long long k_ss, long long v_sb, long long v_sh,
                           long long v_ss, float scale_log2, int causal, int causal_offset, int keys_per_split) {
  using namespace attention_tc_detail;
  constexpr int NTHREADS = NWARPS * 32;
  constexpr int BM = 16 * NWARPS;  // packed rows per block
  constexpr int NT = BN / 8;       // n8 tiles of S
  constexpr int DT = HD / 8;       // n8 tiles of O
  constexpr int CHUNKS = HD / 8;   // 16-byte chunks per row
  constexpr int LD = HD + 8;       // row pitch, padded by 16 bytes as in attention_tc (ldmatrix banks)
  static_assert(BN % 16 == 0 && HD % 16 == 0 && STAGES >= 2, "unsupported tile configuration");

  SUITE_DYNAMIC_SMEM(uint4, smem);
  T* q_tile = reinterpret_cast<T*>(smem);  // BM x LD
  T* k_ring = q_tile + BM * LD;            // STAGES x BN x LD
  T* v_ring = k_ring + STAGES * BN * LD;   // STAGES x BN x LD

  const int group = heads_q / heads_kv, rows = group * seq_q;
  const int batch = blockIdx.x / heads_kv, head_kv = blockIdx.x % heads_kv, split = blockIdx.y;
  const int m0 = blockIdx.z * BM;
  const T* k_head = k + batch * k_sb + head_kv * k_sh;
  const T* v_head = v + batch * v_sb + head_kv * v_sh;

  // The keys this split covers; causal rows see no key past seq_q - 1 + causal_offset.
  const int kv_begin = split * keys_per_split;
  const int kv_end = min(causal ? min(seq_k, seq_q + causal_offset) : seq_k, kv_begin + keys_per_split);
  const int n_tiles = kv_end > kv_begin ? (kv_end - kv_begin + BN - 1) / BN : 0;
  auto load_kv = [&](int tile) {
    const int stage = tile % STAGES;
    load_tile_async<BN, HD, LD, NTHREADS>(k_ring + stage * BN * LD, k_head, k_ss, kv_begin + tile * BN, kv_end,
                                          head_dim);
    load_tile_async<BN, HD, LD, NTHREADS>(v_ring + stage * BN * LD, v_head, v_ss, kv_begin + tile * BN, kv_end,
                                          head_dim);
  };

  // Packed rows are not one strided sequence (the head changes every seq_q rows), so Q is copied
  // chunk by chunk with each row's own address; it is read once per block, bank conflicts are moot.
  const T* q_group = q + batch * q_sb + (long long)head_kv * group * q_sh;
  for (int c = threadIdx.x; c < BM * CHUNKS; c += NTHREADS) {
    const int r = c / CHUNKS, col = c % CHUNKS * 8, row = m0 + r;
    const bool valid = row < rows && col < head_dim;
    const T* src = valid ? q_group + (row / seq_q) * q_sh + (row % seq_q) * q_ss + col : q;
    cp_async_16_zfill(q_tile + r * LD + col, src, valid);
  }
  // Prologue: Q travels in the first group, with K/V tile 0; then tiles up to STAGES-2.
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < n_tiles) load_kv(s);
    cp_async_commit();
  }

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates: row group and thread in group
  const int warp_row0 = m0 + warp * 16;  // first packed row of this warp
  const bool computes = warp_row0 < rows;
  // Query positions of this lane's rows g and g + 8 (the causal mask depends on them only).
  const int query[2] = {(warp_row0 + g) % seq_q, (warp_row0 + g + 8) % seq_q};

  float o_acc[1][DT][4];
  float row_max[1][2] = {{-INFINITY, -INFINITY}}, row_sum[1][2] = {{0.f, 0.f}};  // row_sum: the lane's share
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int i = 0; i < 4; ++i) o_acc[0][dt][i] = 0.f;
  uint32_t q_frag[HD / 16][4];  // 16 rows: at most 32 registers up to HD = 128, kept for all tiles

  for (int tile = 0; tile < n_tiles; ++tile) {
    // Group `tile` is complete when at most STAGES-2 newer groups are pending; the barrier makes it
    // visible to every warp and ensures all warps finished tile-1, whose stage is refilled next.
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    if (tile + STAGES - 1 < n_tiles) load_kv(tile + STAGES - 1);
    cp_async_commit();  // possibly empty, so the group count per iteration stays fixed
    if (!computes) continue;

    const T* k_tile = k_ring + (tile % STAGES) * BN * LD;
    const T* v_tile = v_ring + (tile % STAGES) * BN * LD;
    const int kv0 = kv_begin + tile * BN;

    if (tile == 0) {
#pragma unroll
      for (int kk = 0; kk < HD / 16; ++kk)
        ldmatrix_x4(q_frag[kk], q_tile + (warp * 16 + lane % 16) * LD + kk * 16 + 8 * (lane / 16));
    }

    float s[1][NT][4];  // S = Q K^T (raw scores, fp32), then P
    tile_scores<T, 1, NT, HD, LD>(s, k_tile, lane, [&](int, int kk, uint32_t (&a)[4]) {
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = q_frag[kk][i];
    });
    // Masks only on a split's partial last tile and where the tile may cross the causal diagonal
    // of the earliest query position (0).
    const bool needs_mask = kv0 + BN > kv_end || (causal && kv0 + BN - 1 > causal_offset);
    tile_softmax(s, o_acc, row_max, row_sum, scale_log2, kv0, lane, needs_mask, [&](int, int h, int key) {
      return attention_key_visible(query[h], key, kv_end, causal, causal_offset);
    });
    tile_accumulate_pv<T, 1, NT, DT, LD>(o_acc, s, v_tile, lane);
  }
  // Only empty groups can still be pending here, except Q's when this split has no tile at all
  // (not launched by the suite, but the copies must land before the block's shared memory goes).
  cp_async_wait_all();
  if (!computes) return;

  // Partial results: each lane's accumulator pairs go straight to the fp32 workspace (8-byte stores;
  // the workspace row pitch is HD, so every pair is aligned).
  const long long out_row0 = (long long)split * gridDim.x * rows + (long long)blockIdx.x * rows;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float sum = group_sum<4>(row_sum[0][h]);  // before the row test: a shuffle needs every lane
    const int row = warp_row0 + g + 8 * h;
    if (row >= rows) continue;
    const float inv = softmax_inverse_sum(sum);
    if (t == 0) lse_part[out_row0 + row] = sum > 0.f ? softmax_log2_sum_exp(row_max[0][h], sum) : -INFINITY;
    float* o_row = o_part + (out_row0 + row) * HD;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
      *reinterpret_cast<float2*>(o_row + dt * 8 + 2 * t) =
          make_float2(o_acc[0][dt][2 * h] * inv, o_acc[0][dt][2 * h + 1] * inv);
  }
}

// Merges the splits of every output row: one warp per row of [batch, heads_q, seq_q] (`rows` of
// them), DECODE_COMBINE_WARPS warps per block, at most DECODE_MAX_SPLITS splits (the launcher's
// limits). A row no split saw a key of gets zeros.
// The workspace row pitch is `pitch` (the split kernel's HD); o is written with its own strides.
constexpr int DECODE_COMBINE_WARPS = 4;
constexpr int DECODE_MAX_SPLITS = 128;

template <typename T>
__global__ void __launch_bounds__(DECODE_COMBINE_WARPS * 32)
    attention_decode_combine(const float* __restrict__ o_part, const float* __restrict__ lse_part,
                             T* __restrict__ o, int splits, int rows, int heads_q, int seq_q, int head_dim, int pitch,
                             long long o_sb, long long o_sh, long long o_ss) {
  __shared__ float weights[DECODE_COMBINE_WARPS][DECODE_MAX_SPLITS];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * DECODE_COMBINE_WARPS + warp;
  if (row >= rows) return;  // the whole warp: no collective below misses a lane

  float lse_max = -INFINITY;
  for (int s = lane; s < splits; s += 32) lse_max = fmaxf(lse_max, lse_part[(long long)s * rows + row]);
  const float base = softmax_exp_base(group_max<32>(lse_max));
  float total = 0.f;
  for (int s = lane; s < splits; s += 32) {
    weights[warp][s] = exp2f(lse_part[(long long)s * rows + row] - base);  // 0 for a split that saw no key
    total += weights[warp][s];
  }
  const float inv = softmax_inverse_sum(group_sum<32>(total));
  __syncwarp();

  const int position = row % seq_q, head = row / seq_q % heads_q, batch = row / seq_q / heads_q;
  T* o_row = o + batch * o_sb + head * o_sh + position * o_ss;
  for (int col = lane; col < head_dim; col += 32) {  // adjacent lanes read adjacent columns
    float acc = 0.f;
    for (int s = 0; s < splits; ++s) acc += weights[warp][s] * o_part[((long long)s * rows + row) * pitch + col];
    store_rounded(o_row + col, acc * inv);
  }
}
