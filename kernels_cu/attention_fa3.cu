// FlashAttention-3-style forward attention for Hopper (sm_90a only): fp16/bf16 in, fp32 accumulation.
//
// Warp specialization (FA3, fa:hopper/flash_fwd_kernel_sm90.h): a block of 128 * (1 + CWG) threads
// computes BM = 64 * CWG query rows of one (batch, head).
//   warpgroup 0, the producer: setmaxnreg.dec to PRODUCER_REGS; its first warp's lane 0 issues TMA
//     loads of Q once and of K and V tiles (BN keys) into a STAGES-deep ring, each stage with a
//     "full" mbarrier (TMA completes its bytes there) and an "empty" one (consumers release it).
//     The other producer warps exit.
//   warpgroups 1..CWG, the consumers: setmaxnreg.inc to CONSUMER_REGS; each owns 64 query rows.
//     S = Q K^T is wgmma SS (both operands from shared memory through descriptors), O += P V is
//     wgmma RS (P from the S accumulators in registers, V read MN-major: tnspB = 1).
// Key tiles are visited from the last to the first, so the tiles that need masking come first.
// Intra-warpgroup overlap (FA3's IntraWGOverlap): iteration i issues S(i) = Q K(i)^T and then
// O += P(i-1) V(i-1) before waiting for either; wait_group 1 waits for S(i) only, so the softmax of
// S(i) runs on the CUDA cores while the tensor cores still do the PV product.
// Ping-pong between consumer warpgroups (FA3's warp scheduler barriers, when PINGPONG): a warpgroup
// issues its GEMMs only after bar.sync on its own named barrier, and right after issuing passes
// the turn with bar.arrive on the next warpgroup's: one warpgroup's GEMMs overlap the other's softmax.
// The output is normalised, staged through the warpgroup's own rows of Q's shared memory and
// written with 16-byte stores (rows past seq_q and columns past head_dim are skipped).
//
// Shared memory (all tiles in TMA's 128-byte swizzle, read by wgmma through descriptors): Q is
// HD/64 column chunks of BM rows x 128 bytes; each K and V stage HD/64 chunks of BN rows; then the
// mbarriers. Every chunk is a multiple of 1024 bytes, so every swizzle atom is 1024-byte aligned.
//
// Arguments: q_map, k_map, v_map are CUtensorMaps of 4-D tensors (head dim, seq, heads, batch),
// innermost first, 128-byte swizzle, box (64, BM or BN, 1, 1), zero fill (odd lengths and head dims
// below HD read zeros); o is [batch, heads_q, seq_q, head_dim] with the strides (elements) given,
// unit stride along head_dim; lse null or [batch, heads_q, seq_q] fp32 (base-2 log-sum-exp, as
// attention_tc); scale_log2 > 0; causal / causal_offset as attention_tc (0 top-left, seq_k - seq_q
// bottom-right). Query head h reads KV head h / (heads_q / heads_kv).
// Launch: grid (ceil(seq_q / BM), heads_q, batch), block 128 * (1 + CWG), dynamic shared memory
// fa3_shared_bytes (suite/kernels/attention_fa3.py).
//
// PTX forms used (the host backend's translator must support each):
//   mbarrier.init.shared::cta.b64 [r], r;            fence.mbarrier_init.release.cluster;
//   mbarrier.arrive.shared::cta.b64 _, [r];          mbarrier.arrive.expect_tx.shared::cta.b64 _, [r], r;
//   mbarrier.try_wait.parity.shared::cta.b64 p, [r], r;  selp.b32 r, 1, 0, p;
//   cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [r], [l, {r, r, r, r}], [r];
//   bar.sync r, r;   bar.arrive r, r;
//   setmaxnreg.dec.sync.aligned.u32 n;   setmaxnreg.inc.sync.aligned.u32 n;
//   wgmma.fence.sync.aligned;   wgmma.commit_group.sync.aligned;   wgmma.wait_group.sync.aligned n;
//   setp.ne.b32 p, r, 0;
//   wgmma.mma_async.sync.aligned.m64n{80,128,176}k16.f32.{f16,bf16}.{f16,bf16} {f x N/2}, l, l, p, 1, 1, 0, 0;
//   wgmma.mma_async.sync.aligned.m64n{64,128,256}k16.f32.{f16,bf16}.{f16,bf16} {f x N/2}, {r, r, r, r}, l, p, 1, 1, 1;
//   and the empty asm("" : "+f"/"+r") operand fences.
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL) && !defined(SUITE_HOST)
#error attention_fa3 needs sm_90a (wgmma and setmaxnreg): compile with --gpu-architecture=sm_90a
#endif

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/hopper_pipeline.cuh"
#include "common/hopper_wgmma.cuh"
#include "common/online_softmax.cuh"
#include "common/tensor_core.cuh"

namespace fa3_detail {

constexpr int WG = 128;           // threads per warpgroup
constexpr int CHUNK = 64;         // head-dim columns per 128-byte swizzled chunk (16-bit elements)
constexpr int CHUNK_ROW = 128;    // bytes per row of a chunk
constexpr int SCHED_BARRIER = 1;  // named barriers 1..CWG: the consumers' turns; CWG+1..2*CWG: per warpgroup

// Byte offset of element (row, col) in a swizzled tile of `rows` rows (Swizzle<3,4,3>: the 16-byte
// unit of a 128-byte row is XORed with the row's index mod 8).
__device__ __forceinline__ int swizzled(int rows, int row, int col) {
  return (col / CHUNK) * rows * CHUNK_ROW + row * CHUNK_ROW + (((col % CHUNK) * 2) ^ ((row % 8) << 4));
}

// Masks the scores of a tile (when needed), folds its row maxima into the running ones and turns
// S into exp2(S * scale - max) in place. alpha: per thread row (h = 0, 1: rows g and g + 8 of the
// warp), the factor the previous sum (done here) and O (by the caller, once the PV product that
// still reads it has completed) must be scaled by.
template <int NACC, typename Visible>
__device__ __forceinline__ void softmax_step(float (&s)[NACC], float (&row_max)[2], float (&row_sum)[2],
                                             float (&alpha)[2], float scale_log2, int kv0, int t, bool needs_mask,
                                             Visible visible) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float tile_max = -INFINITY;
#pragma unroll
    for (int i = 2 * h; i < NACC; i += (i & 1) ? 3 : 1) {  // the accumulators of row h: i % 4 in {2h, 2h+1}
      if (needs_mask && !visible(h, kv0 + 8 * (i >> 2) + 2 * t + (i & 1))) s[i] = -INFINITY;
      tile_max = fmaxf(tile_max, s[i]);
    }
    alpha[h] = online_softmax_rescale(row_max[h], group_max<4>(tile_max) * scale_log2);
    const float base = softmax_exp_base(row_max[h]);
    row_sum[h] *= alpha[h];
#pragma unroll
    for (int i = 2 * h; i < NACC; i += (i & 1) ? 3 : 1) {
      s[i] = exp2f(s[i] * scale_log2 - base);
      row_sum[h] += s[i];
    }
  }
}

// P as wgmma A fragments: k slice kk (keys 16kk..16kk+15) is accumulators 8kk..8kk+7 rounded to T.
template <typename T, int NACC>
__device__ __forceinline__ void scores_to_a(uint32_t (&p)[NACC / 8][4], const float (&s)[NACC]) {
#pragma unroll
  for (int kk = 0; kk < NACC / 8; ++kk)
#pragma unroll
    for (int j = 0; j < 4; ++j) p[kk][j] = pack2<T>(s[8 * kk + 2 * j], s[8 * kk + 2 * j + 1]);
}

}  // namespace fa3_detail

// The dynamic shared memory: a plain extern array at file scope (one element type, so no clash
// between instantiations; the host backend's PTX addresses shared memory inside the window of the
// module's __shared__ arrays, which common/smem.cuh's host buffer is not part of).
extern __shared__ __align__(1024) unsigned char fa3_smem[];

// T: __half or __nv_bfloat16. HD: head-dim tile (64, 128 or 256). CWG: consumer warpgroups (BM =
// 64 * CWG). BN: keys per tile (a multiple of 16). STAGES: K/V ring depth. PINGPONG: the consumers
// take turns issuing GEMMs. PRODUCER_REGS / CONSUMER_REGS: setmaxnreg targets (FA3's 24/240 for two
// consumer warpgroups, 32/160 for three).
template <typename T, int HD, int CWG, int BN, int STAGES, bool PINGPONG, int PRODUCER_REGS, int CONSUMER_REGS>
__global__ void __launch_bounds__(128 * (1 + CWG), 1)
    attention_fa3(const __grid_constant__ hopper::TensorMap q_map, const __grid_constant__ hopper::TensorMap k_map,
                  const __grid_constant__ hopper::TensorMap v_map, T* __restrict__ o, float* __restrict__ lse,
                  int heads_q, int heads_kv, int seq_q, int seq_k, int head_dim, long long o_sb, long long o_sh,
                  long long o_ss, float scale_log2, int causal, int causal_offset) {
  using namespace fa3_detail;
  using namespace hopper;
  constexpr int BM = 64 * CWG;
  constexpr int CHUNKS = HD / CHUNK;
  constexpr int Q_BYTES = BM * HD * 2, KV_BYTES = BN * HD * 2;
  constexpr int S_ACC = BN / 2, O_ACC = HD / 2;  // f32 accumulators per thread
  static_assert(HD % CHUNK == 0 && BN % 16 == 0 && BN <= 256 && BM <= 256 && CWG >= 1 && CWG <= 3,
                "unsupported tile configuration");
  static_assert(sizeof(T) == 2, "16-bit inputs");

  // Tiles from a 1024-byte aligned base (the 128-byte swizzle's atom), barriers after them.
  unsigned char* smem = fa3_smem + ((1024 - smem_addr(fa3_smem) % 1024) % 1024);
  unsigned char* q_tile = smem;
  unsigned char* k_ring = q_tile + Q_BYTES;
  unsigned char* v_ring = k_ring + STAGES * KV_BYTES;
  uint64_t* bars = reinterpret_cast<uint64_t*>(v_ring + STAGES * KV_BYTES);
  uint64_t* q_full = bars;
  uint64_t* k_full = bars + 1;
  uint64_t* v_full = k_full + STAGES;
  uint64_t* k_empty = v_full + STAGES;
  uint64_t* v_empty = k_empty + STAGES;

  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (heads_q / heads_kv);
  // Causal blocks further down see more keys; start those first so the tail of the grid is short.
  const int m0 = (causal ? gridDim.x - 1 - blockIdx.x : blockIdx.x) * BM;
  const int kv_end = causal ? min(seq_k, m0 + BM + causal_offset) : seq_k;  // keys past it: masked for all rows
  const int n_tiles = kv_end > 0 ? (kv_end + BN - 1) / BN : 0;

  // Read from lane 0 so that ptxas sees a warp-uniform value (CUTLASS's canonical_warp_group_idx):
  // wgmma under a branch it thinks divergent gets serialized (ptxas C7520).
  const int warpgroup = __shfl_sync(0xffffffffu, threadIdx.x / WG, 0);
  if (threadIdx.x == 0) {
    mbarrier_init(q_full, 1);
    for (int s = 0; s < STAGES; ++s) {
      mbarrier_init(&k_full[s], 1);
      mbarrier_init(&v_full[s], 1);
      mbarrier_init(&k_empty[s], 4 * CWG);  // one arrival per consumer warp
      mbarrier_init(&v_empty[s], 4 * CWG);
    }
    mbarrier_init_fence();
  }
  __syncthreads();

  if (warpgroup == 0) {  // ---- producer ----
    setmaxnreg_dec<PRODUCER_REGS>();
    if (threadIdx.x != 0) return;
    mbarrier_arrive_expect_tx(q_full, Q_BYTES);
#pragma unroll
    for (int c = 0; c < CHUNKS; ++c) tma_load_4d(q_tile + c * BM * CHUNK_ROW, &q_map, q_full, c * CHUNK, m0, head, batch);
    for (int i = 0; i < n_tiles; ++i) {
      const int tile = n_tiles - 1 - i, s = i % STAGES;
      const uint32_t free_parity = ((i / STAGES) & 1) ^ 1;  // the first pass over the ring finds it free
      mbarrier_wait(&k_empty[s], free_parity);
      mbarrier_arrive_expect_tx(&k_full[s], KV_BYTES);
#pragma unroll
      for (int c = 0; c < CHUNKS; ++c)
        tma_load_4d(k_ring + s * KV_BYTES + c * BN * CHUNK_ROW, &k_map, &k_full[s], c * CHUNK, tile * BN, head_kv, batch);
      mbarrier_wait(&v_empty[s], free_parity);
      mbarrier_arrive_expect_tx(&v_full[s], KV_BYTES);
#pragma unroll
      for (int c = 0; c < CHUNKS; ++c)
        tma_load_4d(v_ring + s * KV_BYTES + c * BN * CHUNK_ROW, &v_map, &v_full[s], c * CHUNK, tile * BN, head_kv, batch);
    }
    return;
  }

  // ---- consumers ----
  setmaxnreg_inc<CONSUMER_REGS>();
  const int wg = warpgroup - 1;  // this consumer's 64 rows: m0 + 64 wg ...
  const int tid = threadIdx.x % WG, warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;
  const int row0 = m0 + 64 * wg + 16 * warp + g;  // the thread's rows: row0 (h = 0) and row0 + 8 (h = 1)

  // Token passing: the turn goes WG 0 -> 1 -> ... -> CWG-1 -> 0. Barrier `SCHED_BARRIER + w` takes
  // 256 threads: warpgroup w's bar.sync and the previous warpgroup's bar.arrive (WG 0's first turn:
  // the last warpgroup's arrive below, as FA3's mma_init). The last warpgroup passes no turn after
  // its last step, so no barrier is left half-arrived at exit. Every consumer takes n_tiles + 1 turns.
  const int turns = n_tiles + 1;
  int turn = 0;
  auto take_turn = [&] {
    if constexpr (PINGPONG) named_barrier_sync(SCHED_BARRIER + wg, 2 * WG);
  };
  auto pass_turn = [&] {
    ++turn;
    if constexpr (PINGPONG)
      if (!(wg == CWG - 1 && turn == turns)) named_barrier_arrive(SCHED_BARRIER + (wg + 1) % CWG, 2 * WG);
  };
  if (PINGPONG && wg == CWG - 1 && n_tiles > 0) named_barrier_arrive(SCHED_BARRIER, 2 * WG);

  const uint32_t q_base = smem_addr(q_tile) + 64 * wg * CHUNK_ROW;
  // S = Q K(stage)^T: HD/16 k steps; a step moves 32 bytes along a 128-byte row, or to the next chunk.
  // The descriptors are formed next to each wgmma: the opaque copy of q_base keeps the compiler from
  // hoisting Q's loop-invariant descriptors out of the loop, 2 registers each held for the whole loop.
  auto issue_qk = [&](float (&s)[S_ACC], int stage) {
    const uint32_t k_base = smem_addr(k_ring + stage * KV_BYTES);
    uint32_t q_base_now = q_base;
#ifndef SUITE_HOST
    asm volatile("" : "+r"(q_base_now));
#endif
#pragma unroll
    for (int kk = 0; kk < HD / 16; ++kk) {
      const uint32_t step = (kk % 4) * 32;
      const uint64_t a = smem_desc_sw128(q_base_now + (kk / 4) * BM * CHUNK_ROW + step, 16, 1024);
      const uint64_t b = smem_desc_sw128(k_base + (kk / 4) * BN * CHUNK_ROW + step, 16, 1024);
      wgmma_ss<T>(s, a, b, kk > 0);
    }
  };
  // O += P V(stage): BN/16 k steps of 16 keys (16 rows of 128 bytes); V is MN-major: 8-key groups
  // 1024 bytes apart (stride offset), 64-column chunks BN * 128 bytes apart (leading offset).
  auto issue_pv = [&](float (&o_acc)[O_ACC], const uint32_t (&p)[S_ACC / 8][4], int stage) {
    const uint32_t v_base = smem_addr(v_ring + stage * KV_BYTES);
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      wgmma_rs<T>(o_acc, p[kk], smem_desc_sw128(v_base + kk * 16 * CHUNK_ROW, BN * CHUNK_ROW, 1024), 1);
  };
  // One arrival per warp, after the warp's wait for the wgmma that read the stage. On the GPU the
  // aligned wait_group converges the warp; the __syncwarp says so for the host backend, whose lanes
  // run apart and compute their share of a wgmma at their own wait.
  auto release = [&](uint64_t* bar) {
    __syncwarp();
    if (lane == 0) mbarrier_arrive(bar);
  };
  // Masking state in three integers (registers are scarce next to S, P and O): key_limit[h], the
  // first key row h may not see, and mask_from, the first key some row of this warpgroup may not see.
  int key_limit[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) key_limit[h] = causal ? min(seq_k, row0 + 8 * h + 1 + causal_offset) : seq_k;
  const int mask_from = causal ? min(seq_k, m0 + 64 * wg + 1 + causal_offset) : seq_k;
  auto visible = [&](int h, int key) { return key < key_limit[h]; };
  auto needs_mask = [&](int tile) { return (tile + 1) * BN > mask_from; };

  float o_acc[O_ACC];
#pragma unroll
  for (int i = 0; i < O_ACC; ++i) o_acc[i] = 0.f;
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f}, alpha[2];
  float s[S_ACC];
  uint32_t p[S_ACC / 8][4];

  mbarrier_wait(q_full, 0);
  if (n_tiles > 0) {
    // First tile (the last keys): S only.
    mbarrier_wait(&k_full[0], 0);
    take_turn();
    wgmma_fence();
    issue_qk(s, 0);
    wgmma_commit();
    pass_turn();
    wgmma_wait<0>();
    fence_operands(s);
    release(&k_empty[0]);
    softmax_step(s, row_max, row_sum, alpha, scale_log2, (n_tiles - 1) * BN, t, needs_mask(n_tiles - 1), visible);
    scores_to_a<T>(p, s);

    for (int i = 1; i < n_tiles; ++i) {
      const int tile = n_tiles - 1 - i, stage = i % STAGES, prev = (i - 1) % STAGES;
      mbarrier_wait(&k_full[stage], (i / STAGES) & 1);
      take_turn();
      wgmma_fence();
      issue_qk(s, stage);
      wgmma_commit();
      mbarrier_wait(&v_full[prev], ((i - 1) / STAGES) & 1);
      issue_pv(o_acc, p, prev);
      wgmma_commit();
      pass_turn();
      wgmma_wait<1>();  // S(i) is done; P(i-1) V(i-1) may still run during the softmax
      fence_operands(s);
      release(&k_empty[stage]);
      softmax_step(s, row_max, row_sum, alpha, scale_log2, tile * BN, t, needs_mask(tile), visible);
      wgmma_wait<0>();
      fence_operands(o_acc);
      fence_operands(p);
      release(&v_empty[prev]);
#pragma unroll
      for (int i2 = 0; i2 < O_ACC; ++i2) o_acc[i2] *= alpha[(i2 >> 1) & 1];
      scores_to_a<T>(p, s);
    }

    // Last P V.
    const int last = (n_tiles - 1) % STAGES;
    mbarrier_wait(&v_full[last], ((n_tiles - 1) / STAGES) & 1);
    take_turn();
    wgmma_fence();
    issue_pv(o_acc, p, last);
    wgmma_commit();
    pass_turn();
    wgmma_wait<0>();
    fence_operands(o_acc);
    release(&v_empty[last]);
  }

  // Normalise; the log-sum-exp; O into this warpgroup's rows of Q's tile (same swizzle), then out.
  const int local_row = 16 * warp + g;  // row inside the warpgroup's 64
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float sum = group_sum<4>(row_sum[h]);
    const float inv = softmax_inverse_sum(sum);
    if (lse != nullptr && t == 0 && row0 + 8 * h < seq_q)
      lse[((long long)batch * heads_q + head) * seq_q + row0 + 8 * h] = softmax_log2_sum_exp(row_max[h], sum);
    const int r = 64 * wg + local_row + 8 * h;
#pragma unroll
    for (int j = 0; j < HD / 8; ++j)
      *reinterpret_cast<typename Pair<T>::type*>(q_tile + swizzled(BM, r, 8 * j + 2 * t)) =
          Pair<T>::make(o_acc[4 * j + 2 * h] * inv, o_acc[4 * j + 2 * h + 1] * inv);
  }
  named_barrier_sync(SCHED_BARRIER + CWG + wg, WG);

  T* o_head = o + batch * o_sb + head * o_sh;
  const int query0 = m0 + 64 * wg;
  if (head_dim % 8 == 0 && o_ss % 8 == 0 && reinterpret_cast<size_t>(o_head) % 16 == 0) {
    for (int c = tid; c < 64 * HD / 8; c += WG) {  // 16-byte units, a row's units on adjacent threads
      const int r = c / (HD / 8), col = (c % (HD / 8)) * 8;
      if (query0 + r < seq_q && col < head_dim)
        *reinterpret_cast<uint4*>(o_head + (query0 + r) * o_ss + col) =
            *reinterpret_cast<const uint4*>(q_tile + swizzled(BM, 64 * wg + r, col));
    }
  } else {
    for (int e = tid; e < 64 * HD; e += WG) {
      const int r = e / HD, col = e % HD;
      if (query0 + r < seq_q && col < head_dim)
        o_head[(query0 + r) * o_ss + col] = *reinterpret_cast<const T*>(q_tile + swizzled(BM, 64 * wg + r, col));
    }
  }
}
