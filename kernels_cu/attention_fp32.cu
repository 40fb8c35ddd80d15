// Flash-style attention in fp32 on the SIMT cores: the readable reference design.
//
// One block computes BM query rows of one (batch, head). The Q tile stays in shared memory while
// K and V stream through in tiles of BN keys; an online softmax (running max and sum per row)
// rescales the output accumulator, so the score matrix only ever exists one tile at a time, on chip.
//
// Thread layout: TPR = 8 adjacent threads share a query row. For scores, thread c of a row takes the
// keys c, c+8, ...; for the output, it owns the head-dim columns c, c+8, ... . The row's
// probabilities pass through shared memory (P) between the two products.
//
// Layouts: q/k/v/o are [batch, heads, seq, head_dim] with unit stride along head_dim and the other
// strides (in elements) passed in; query head h reads KV head h / (heads_q / heads_kv).
// lse: null, or [batch, heads_q, seq_q] contiguous fp32 that receives each row's log-sum-exp of
// the base-2 scaled scores (softmax_log2_sum_exp), which the backward kernels read.
#include "common/float_tile.cuh"
#include "common/online_softmax.cuh"
#include "common/smem.cuh"

namespace attention_fp32_detail {

constexpr int TPR = 8;  // threads per query row

}  // namespace attention_fp32_detail

// HD: head-dim tile (a multiple of 8, >= head_dim). BM query rows and BN keys per tile.
// Launch: grid (ceil(seq_q / BM), heads_q, batch), block BM * 8 threads, dynamic shared memory
// 4 * (BM*(HD+1) + BN*(HD+1) + BN*HD + BM*(BN+8)) bytes.
template <int HD, int BM, int BN>
__global__ void attention_fp32(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                               float* __restrict__ o, float* __restrict__ lse, int heads_q, int heads_kv,
                               int seq_q, int seq_k, int head_dim, long long q_sb, long long q_sh, long long q_ss,
                               long long k_sb, long long k_sh, long long k_ss, long long v_sb, long long v_sh,
                               long long v_ss, long long o_sb, long long o_sh, long long o_ss, float scale_log2,
                               int causal, int causal_offset) {
  using namespace attention_fp32_detail;
  constexpr int NTHREADS = BM * TPR;
  constexpr int KEYS_PER_THREAD = BN / TPR;
  constexpr int COLS_PER_THREAD = HD / TPR;
  // +1 padding: the 4 rows a warp covers then start in different banks (Q), and the 8 keys a row's
  // threads read at the same column do too (K). P is written by a row's 8 threads at 8 adjacent
  // columns, so its 4 rows must start 8 banks apart (+8; +1 made the writes 4-way conflicts, which
  // `suite profile` counts). V is read along a row, conflict-free as is.
  constexpr int LDQ = HD + 1, LDK = HD + 1, LDV = HD, LDP = BN + 8;
  static_assert(HD % TPR == 0 && BN % TPR == 0, "tile sizes must be multiples of the threads per row");

  SUITE_DYNAMIC_SMEM(float, smem);
  float* q_tile = smem;
  float* k_tile = q_tile + BM * LDQ;
  float* v_tile = k_tile + BN * LDK;
  float* p_tile = v_tile + BN * LDV;

  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (heads_q / heads_kv);
  // Causal blocks further down see more keys; start those first so the tail of the grid is short.
  const int m0 = (causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x) * BM;
  const float* q_head = q + batch * q_sb + head * q_sh;
  const float* k_head = k + batch * k_sb + head_kv * k_sh;
  const float* v_head = v + batch * v_sb + head_kv * v_sh;

  const int row = threadIdx.x / TPR, part = threadIdx.x % TPR;
  const int query = m0 + row;

  load_float_tile<BM, HD, LDQ, NTHREADS>(q_tile, q_head, q_ss, m0, seq_q, head_dim);

  float acc[COLS_PER_THREAD];
#pragma unroll
  for (int c = 0; c < COLS_PER_THREAD; ++c) acc[c] = 0.f;
  float row_max = -INFINITY, row_sum = 0.f;  // row_sum: this thread's share, reduced at the end

  // Keys past kv_end are masked for every row of the block.
  const int kv_end = causal ? min(seq_k, m0 + BM + causal_offset) : seq_k;
  for (int kv0 = 0; kv0 < kv_end; kv0 += BN) {
    __syncthreads();  // the previous tile's K, V and P are no longer read
    load_float_tile<BN, HD, LDK, NTHREADS>(k_tile, k_head, k_ss, kv0, seq_k, head_dim);
    load_float_tile<BN, HD, LDV, NTHREADS>(v_tile, v_head, v_ss, kv0, seq_k, head_dim);
    __syncthreads();

    float s[KEYS_PER_THREAD];
    float tile_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < KEYS_PER_THREAD; ++j) {
      const int key = part + j * TPR;
      float dot = 0.f;
#pragma unroll 8
      for (int d = 0; d < HD; ++d) dot = fmaf(q_tile[row * LDQ + d], k_tile[key * LDK + d], dot);
      s[j] = attention_key_visible(query, kv0 + key, seq_k, causal, causal_offset) ? dot * scale_log2 : -INFINITY;
      tile_max = fmaxf(tile_max, s[j]);
    }
    const float alpha = online_softmax_rescale(row_max, group_max<TPR>(tile_max));
    const float base = softmax_exp_base(row_max);
    row_sum *= alpha;
#pragma unroll
    for (int c = 0; c < COLS_PER_THREAD; ++c) acc[c] *= alpha;
#pragma unroll
    for (int j = 0; j < KEYS_PER_THREAD; ++j) {
      const float p = exp2f(s[j] - base);
      row_sum += p;
      p_tile[row * LDP + part + j * TPR] = p;
    }
    __syncwarp();  // a row's P is written and read by the same 8 lanes of one warp

    for (int key = 0; key < BN; ++key) {
      const float p = p_tile[row * LDP + key];
#pragma unroll
      for (int c = 0; c < COLS_PER_THREAD; ++c) acc[c] = fmaf(p, v_tile[key * LDV + part + c * TPR], acc[c]);
    }
  }

  const float sum = group_sum<TPR>(row_sum);
  const float inv = softmax_inverse_sum(sum);
  if (lse != nullptr && part == 0 && query < seq_q)
    lse[((long long)batch * heads_q + head) * seq_q + query] = softmax_log2_sum_exp(row_max, sum);
  if (query < seq_q) {
    float* o_row = o + batch * o_sb + head * o_sh + query * o_ss;
#pragma unroll
    for (int c = 0; c < COLS_PER_THREAD; ++c) {
      const int col = part + c * TPR;
      if (col < head_dim) o_row[col] = acc[c] * inv;
    }
  }
}
