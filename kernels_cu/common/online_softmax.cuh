// Pieces shared by the attention kernels: the causal masking rule and the online-softmax update
// (running row max and sum, rescaled as each key tile arrives). Scores are in base 2: the kernels
// multiply by scale*log2(e) and use exp2f, which is one instruction on the GPU.
#pragma once

#include "common/profile_marks.cuh"  // exp2f counted by `suite profile`

#ifndef INFINITY  // NVRTC has no <math.h>; the math built-ins need no include
#define INFINITY __int_as_float(0x7f800000)
#endif


// Whether query row i may attend to key j. causal_offset is 0 for top-left alignment and Sk - Sq
// for bottom-right alignment.
__device__ __forceinline__ bool attention_key_visible(int i, int j, int seq_k, int causal, int causal_offset) {
  return j < seq_k && (!causal || j <= i + causal_offset);
}

// Reductions over GROUP adjacent lanes (GROUP a power of two <= 32); every lane gets the result.
template <int GROUP>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int o = GROUP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <int GROUP>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = GROUP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The value subtracted before exponentiating. While every key seen so far is masked the max is
// -inf, and -inf - -inf would be NaN; subtracting 0 instead gives exp2(-inf) = 0 for masked keys.
__device__ __forceinline__ float softmax_exp_base(float row_max) { return row_max == -INFINITY ? 0.f : row_max; }

// Folds a tile's row max into the running max; returns the factor that rescales the running sum
// and output accumulator (0 while nothing was visible before).
__device__ __forceinline__ float online_softmax_rescale(float& running_max, float tile_max) {
  const float new_max = fmaxf(running_max, tile_max);
  const float alpha = exp2f(running_max - softmax_exp_base(new_max));
  running_max = new_max;
  return alpha;
}

// 1/sum, or 0 for a row that saw no key (its output is defined as 0).
__device__ __forceinline__ float softmax_inverse_sum(float sum) { return sum > 0.f ? 1.f / sum : 0.f; }

// The row's log-sum-exp of the base-2 scores (what the backward recomputes P from:
// p = exp2(score - lse)), or +inf for a row that saw no key, so every p of that row becomes 0.
__device__ __forceinline__ float softmax_log2_sum_exp(float row_max, float sum) {
  return sum > 0.f ? row_max + log2f(sum) : INFINITY;
}
