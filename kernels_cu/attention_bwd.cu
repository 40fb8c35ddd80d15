// Attention backward, FlashAttention-2's algorithm, on the SIMT cores (fp32 arithmetic; inputs fp32,
// fp16 or bf16), plus the two small kernels every backward path uses.
//
// Forward: S = scale Q K^T (masked), P = softmax(S) by row, O = P V. Given dO and the forward's row
// log-sum-exp of the base-2 scores (lse), P is recomputed tile by tile and never stored:
//   delta_i = sum_d dO_id O_id            attention_bwd_delta (equals sum_j P_ij dP_ij)
//   dP = dO V^T,  dS = P o (dP - delta)   dS: the gradient of the scaled scores S
//   dV = P^T dO,  dK = scale dS^T Q,  dQ = scale dS K
// attention_bwd_dkdv: one block per BN keys of one (batch, KV head) keeps its keys' dK and dV in
// registers while it walks over the query blocks of every query head of the group, so GQA/MQA
// gradients are summed inside the block (no atomics across heads). In the fast mode it also adds
// each tile's dQ share to an fp32 buffer with atomics (then attention_bwd_dq_convert rounds it).
// Deterministic mode leaves dQ to attention_bwd_dq: one block per BM query rows walks over the key
// blocks, like the forward, and writes each dQ element once.
//
// Layouts: q, o, dO, dQ [batch, heads_q, seq_q, head_dim], k, v, dK, dV [batch, heads_kv, seq_k,
// head_dim], all contiguous; lse, delta [batch, heads_q, seq_q] fp32. Query head h reads KV head
// h / (heads_q / heads_kv).
#include "common/bilinear.cuh"  // to_compute, store_rounded: fp32/fp16/bf16 conversions
#include "common/float_tile.cuh"
#include "common/online_softmax.cuh"
#include "common/smem.cuh"

namespace attention_bwd_detail {

constexpr int TPR = 8;  // threads per key row (dkdv) or query row (dq)

template <int HD>
__device__ __forceinline__ float dot_row(const float* a, const float* b) {
  float s = 0.f;
#pragma unroll 8
  for (int d = 0; d < HD; ++d) s = fmaf(a[d], b[d], s);
  return s;
}

// The recomputed probability p = P_ij and the score gradient dS_ij of one (query, key) pair, from
// shared-memory rows of Q, dO (query) and K, V (key). Masked pairs (and padding) give 0, 0.
template <int HD>
__device__ __forceinline__ void prob_and_grad(const float* q_row, const float* do_row, const float* k_row,
                                              const float* v_row, float lse, float delta, float scale_log2,
                                              bool visible, float& p, float& ds) {
  p = visible ? exp2f(dot_row<HD>(q_row, k_row) * scale_log2 - lse) : 0.f;
  ds = visible ? p * (dot_row<HD>(do_row, v_row) - delta) : 0.f;
}

// lse and delta of rows [row0, row0 + ROWS) into shared memory; rows past seq get +inf and 0 (p = 0).
template <int ROWS>
__device__ __forceinline__ void load_row_stats(float* lse_s, float* delta_s, const float* lse, const float* delta,
                                               int row0, int seq) {
  for (int r = threadIdx.x; r < ROWS; r += blockDim.x) {
    const bool valid = row0 + r < seq;
    lse_s[r] = valid ? lse[row0 + r] : INFINITY;
    delta_s[r] = valid ? delta[row0 + r] : 0.f;
  }
}

}  // namespace attention_bwd_detail

// delta = rowsum(dO o O) over `rows` rows of head_dim elements; one warp per row. With dq_accum
// non-null, also zeroes those rows of the fp32 dQ accumulator that the atomics add into.
// Launch: grid ceil(rows / (block / 32)), block a multiple of 32.
template <typename T>
__global__ void attention_bwd_delta(const T* __restrict__ d_o, const T* __restrict__ o, float* __restrict__ delta,
                                    float* __restrict__ dq_accum, long long rows, int head_dim) {
  const long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps leave together: a warp is one row
  float s = 0.f;
  for (int d = lane; d < head_dim; d += 32) {
    s = fmaf(to_compute(d_o[row * head_dim + d]), to_compute(o[row * head_dim + d]), s);
    if (dq_accum != nullptr) dq_accum[row * head_dim + d] = 0.f;
  }
  s = group_sum<32>(s);
  if (lane == 0) delta[row] = s;
}

// dQ rounded to T from the fp32 accumulator (already scaled); grid-stride over n elements.
template <typename T>
__global__ void attention_bwd_dq_convert(const float* __restrict__ dq_accum, T* __restrict__ dq, long long n) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    store_rounded(dq + i, dq_accum[i]);
}

// HD: head-dim tile (multiple of 8, >= head_dim); BN keys per block, BM query rows per step.
// Launch: grid (ceil(seq_k / BN), heads_kv, batch), block BN * 8 threads, dynamic shared memory
// 4 * (2 * (BN + BM) * (HD + 1) + 2 * BN * (BM + 8) + 2 * BM) bytes. dq_accum: null (deterministic
// mode) or the zeroed fp32 [batch, heads_q, seq_q, head_dim] buffer that receives dQ.
template <typename T, int HD, int BM, int BN>
__global__ void attention_bwd_dkdv(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                   const T* __restrict__ d_o, const float* __restrict__ lse,
                                   const float* __restrict__ delta, T* __restrict__ dk, T* __restrict__ dv,
                                   float* __restrict__ dq_accum, int heads_q, int heads_kv, int seq_q, int seq_k,
                                   int head_dim, float scale_log2, float scale, int causal, int causal_offset) {
  using namespace attention_bwd_detail;
  constexpr int NTHREADS = BN * TPR;
  constexpr int QUERIES_PER_THREAD = BM / TPR;
  constexpr int COLS_PER_THREAD = HD / TPR;
  // LD: +1 padding, so the 8 lanes of a key reading one column of 8 query rows hit distinct banks.
  // LDP: a warp stores P and dS for 4 keys x 8 consecutive queries; a pitch of 8 or 24 words mod 32
  // puts the 4 keys' runs of 8 words in 4 distinct quarters of the banks (+1 would overlap them: 2-way).
  constexpr int LD = HD + 1, LDP = BM + 8;
  static_assert(HD % TPR == 0 && BM % TPR == 0, "tile sizes must be multiples of the threads per row");
  static_assert(LDP % 16 == 8, "P/dS pitch must be 8 mod 16 words for conflict-free stores");

  SUITE_DYNAMIC_SMEM(float, smem);
  float* k_tile = smem;
  float* v_tile = k_tile + BN * LD;
  float* q_tile = v_tile + BN * LD;
  float* do_tile = q_tile + BM * LD;
  float* p_tile = do_tile + BM * LD;  // [key][query]
  float* ds_tile = p_tile + BN * LDP;  // [key][query]
  float* lse_s = ds_tile + BN * LDP;
  float* delta_s = lse_s + BM;

  const int batch = blockIdx.z, head_kv = blockIdx.y, n0 = blockIdx.x * BN;
  const int group = heads_q / heads_kv;
  const long long kv_offset = ((long long)batch * heads_kv + head_kv) * seq_k * head_dim;
  load_float_tile<BN, HD, LD, NTHREADS>(k_tile, k + kv_offset, head_dim, n0, seq_k, head_dim);
  load_float_tile<BN, HD, LD, NTHREADS>(v_tile, v + kv_offset, head_dim, n0, seq_k, head_dim);

  const int row = threadIdx.x / TPR, part = threadIdx.x % TPR;
  const int key = n0 + row;
  float dk_acc[COLS_PER_THREAD], dv_acc[COLS_PER_THREAD];
#pragma unroll
  for (int c = 0; c < COLS_PER_THREAD; ++c) dk_acc[c] = dv_acc[c] = 0.f;

  // Causal: query i sees key j when i >= j - causal_offset; earlier query blocks see none of ours.
  const int m_begin = causal ? max(0, n0 - causal_offset) / BM * BM : 0;
  for (int head = head_kv * group; head < (head_kv + 1) * group; ++head) {
    const long long row_offset = ((long long)batch * heads_q + head) * seq_q;
    for (int m0 = m_begin; m0 < seq_q; m0 += BM) {
      __syncthreads();  // the previous step's Q, dO, P and dS are no longer read
      load_float_tile<BM, HD, LD, NTHREADS>(q_tile, q + row_offset * head_dim, head_dim, m0, seq_q, head_dim);
      load_float_tile<BM, HD, LD, NTHREADS>(do_tile, d_o + row_offset * head_dim, head_dim, m0, seq_q, head_dim);
      load_row_stats<BM>(lse_s, delta_s, lse + row_offset, delta + row_offset, m0, seq_q);
      __syncthreads();

#pragma unroll
      for (int qi = 0; qi < QUERIES_PER_THREAD; ++qi) {
        const int i = part + qi * TPR;
        const bool visible = m0 + i < seq_q && attention_key_visible(m0 + i, key, seq_k, causal, causal_offset);
        float p, ds;
        prob_and_grad<HD>(q_tile + i * LD, do_tile + i * LD, k_tile + row * LD, v_tile + row * LD, lse_s[i],
                          delta_s[i], scale_log2, visible, p, ds);
        p_tile[row * LDP + i] = p;
        ds_tile[row * LDP + i] = ds;
      }
      __syncwarp();  // a key's P and dS are written and read by the same 8 lanes of one warp

      for (int i = 0; i < BM; ++i) {
        const float p = p_tile[row * LDP + i], ds = ds_tile[row * LDP + i];
#pragma unroll
        for (int c = 0; c < COLS_PER_THREAD; ++c) {
          const int col = part + c * TPR;
          dv_acc[c] = fmaf(p, do_tile[i * LD + col], dv_acc[c]);
          dk_acc[c] = fmaf(ds, q_tile[i * LD + col], dk_acc[c]);
        }
      }

      if (dq_accum != nullptr) {
        __syncthreads();  // every key's dS is written
        float* dq_rows = dq_accum + row_offset * head_dim;
        for (int e = threadIdx.x; e < BM * HD; e += NTHREADS) {
          const int i = e / HD, col = e % HD;
          if (m0 + i >= seq_q || col >= head_dim) continue;
          float s = 0.f;
#pragma unroll 8
          for (int j = 0; j < BN; ++j) s = fmaf(ds_tile[j * LDP + i], k_tile[j * LD + col], s);
          atomicAdd(dq_rows + (long long)(m0 + i) * head_dim + col, s * scale);
        }
      }
    }
  }

  if (key < seq_k) {
#pragma unroll
    for (int c = 0; c < COLS_PER_THREAD; ++c) {
      const int col = part + c * TPR;
      if (col >= head_dim) continue;
      store_rounded(dk + kv_offset + (long long)key * head_dim + col, dk_acc[c] * scale);
      store_rounded(dv + kv_offset + (long long)key * head_dim + col, dv_acc[c]);
    }
  }
}

// The deterministic dQ: HD as above; BM query rows per block, BN keys per step.
// Launch: grid (ceil(seq_q / BM), heads_q, batch), block BM * 8 threads, dynamic shared memory
// 4 * (2 * (BM + BN) * (HD + 1) + BM * (BN + 8)) bytes.
template <typename T, int HD, int BM, int BN>
__global__ void attention_bwd_dq(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                 const T* __restrict__ d_o, const float* __restrict__ lse,
                                 const float* __restrict__ delta, T* __restrict__ dq, int heads_q, int heads_kv,
                                 int seq_q, int seq_k, int head_dim, float scale_log2, float scale, int causal,
                                 int causal_offset) {
  using namespace attention_bwd_detail;
  constexpr int NTHREADS = BM * TPR;
  constexpr int KEYS_PER_THREAD = BN / TPR;
  constexpr int COLS_PER_THREAD = HD / TPR;
  constexpr int LD = HD + 1, LDS = BN + 8;  // LDS: as attention_bwd_dkdv's LDP, for 4 rows x 8 keys
  static_assert(HD % TPR == 0 && BN % TPR == 0, "tile sizes must be multiples of the threads per row");
  static_assert(LDS % 16 == 8, "dS pitch must be 8 mod 16 words for conflict-free stores");

  SUITE_DYNAMIC_SMEM(float, smem);
  float* q_tile = smem;
  float* do_tile = q_tile + BM * LD;
  float* k_tile = do_tile + BM * LD;
  float* v_tile = k_tile + BN * LD;
  float* ds_tile = v_tile + BN * LD;  // [query][key]

  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (heads_q / heads_kv);
  // Causal blocks further down see more keys; start those first so the tail of the grid is short.
  const int m0 = (causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x) * BM;
  const long long row_offset = ((long long)batch * heads_q + head) * seq_q;
  const long long kv_offset = ((long long)batch * heads_kv + head_kv) * seq_k * head_dim;
  load_float_tile<BM, HD, LD, NTHREADS>(q_tile, q + row_offset * head_dim, head_dim, m0, seq_q, head_dim);
  load_float_tile<BM, HD, LD, NTHREADS>(do_tile, d_o + row_offset * head_dim, head_dim, m0, seq_q, head_dim);

  const int row = threadIdx.x / TPR, part = threadIdx.x % TPR;
  const int query = m0 + row;
  const float row_lse = query < seq_q ? lse[row_offset + query] : INFINITY;
  const float row_delta = query < seq_q ? delta[row_offset + query] : 0.f;
  float acc[COLS_PER_THREAD];
#pragma unroll
  for (int c = 0; c < COLS_PER_THREAD; ++c) acc[c] = 0.f;

  const int kv_end = causal ? min(seq_k, m0 + BM + causal_offset) : seq_k;
  for (int kv0 = 0; kv0 < kv_end; kv0 += BN) {
    __syncthreads();  // the previous tile's K, V and dS are no longer read
    load_float_tile<BN, HD, LD, NTHREADS>(k_tile, k + kv_offset, head_dim, kv0, seq_k, head_dim);
    load_float_tile<BN, HD, LD, NTHREADS>(v_tile, v + kv_offset, head_dim, kv0, seq_k, head_dim);
    __syncthreads();

#pragma unroll
    for (int kj = 0; kj < KEYS_PER_THREAD; ++kj) {
      const int j = part + kj * TPR;
      const bool visible = query < seq_q && attention_key_visible(query, kv0 + j, seq_k, causal, causal_offset);
      float p, ds;
      prob_and_grad<HD>(q_tile + row * LD, do_tile + row * LD, k_tile + j * LD, v_tile + j * LD, row_lse,
                        row_delta, scale_log2, visible, p, ds);
      ds_tile[row * LDS + j] = ds;
    }
    __syncwarp();  // a row's dS is written and read by the same 8 lanes of one warp

    for (int j = 0; j < BN; ++j) {
      const float ds = ds_tile[row * LDS + j];
#pragma unroll
      for (int c = 0; c < COLS_PER_THREAD; ++c) acc[c] = fmaf(ds, k_tile[j * LD + part + c * TPR], acc[c]);
    }
  }

  if (query < seq_q) {
#pragma unroll
    for (int c = 0; c < COLS_PER_THREAD; ++c) {
      const int col = part + c * TPR;
      if (col < head_dim) store_rounded(dq + (row_offset + query) * head_dim + col, acc[c] * scale);
    }
  }
}
