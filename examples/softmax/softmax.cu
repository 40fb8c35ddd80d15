// softmax over each row of a [rows, cols] tensor: out = exp(x - max) / sum(exp(x - max)).
// One block per row; every thread walks the row with a stride of the block size, the block
// reduces the row's maximum and then its sum through warp shuffles and one shared slot per warp.
// Templated on the element type T (float, __half, __nv_bfloat16); arithmetic is float throughout.
// Launch: grid (rows), block a multiple of 32 threads up to 1024, no dynamic shared memory.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace softmax_detail {

__device__ inline float to_float(float v) { return v; }
__device__ inline float to_float(__half v) { return __half2float(v); }
__device__ inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ inline T from_float(float v);
template <>
__device__ inline float from_float<float>(float v) { return v; }
template <>
__device__ inline __half from_float<__half>(float v) { return __float2half(v); }
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16(v); }

// -infinity without INFINITY, which NVRTC does not define.
__device__ inline float negative_infinity() { return __int_as_float(0xff800000); }

template <bool MAX>
__device__ inline float warp_reduce(float v) {
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = MAX ? fmaxf(v, other) : v + other;
  }
  return v;
}

// The maximum (MAX) or the sum of v over the block; every thread gets it. `scratch` holds one
// float per warp; the closing barrier lets the next call write it again.
template <bool MAX>
__device__ float block_reduce(float v, float* scratch) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  v = warp_reduce<MAX>(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : (MAX ? negative_infinity() : 0.0f);
  v = warp_reduce<MAX>(v);
  __syncthreads();
  return v;
}

}  // namespace softmax_detail

template <typename T>
__global__ void softmax(const T* __restrict__ x, T* __restrict__ out, int cols) {
  using namespace softmax_detail;
  __shared__ float scratch[32];
  const T* row = x + static_cast<long long>(blockIdx.x) * cols;
  T* out_row = out + static_cast<long long>(blockIdx.x) * cols;

  float row_max = negative_infinity();
  for (int c = threadIdx.x; c < cols; c += blockDim.x) row_max = fmaxf(row_max, to_float(row[c]));
  row_max = block_reduce<true>(row_max, scratch);

  float sum = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(to_float(row[c]) - row_max);
  const float inverse = 1.0f / block_reduce<false>(sum, scratch);

  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    out_row[c] = from_float<T>(expf(to_float(row[c]) - row_max) * inverse);
  }
}
