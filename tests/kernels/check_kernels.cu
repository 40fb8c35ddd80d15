// Tiny kernels for tests/test_check.py: each provokes one verdict of `suite check`.
#include <cuda_fp16.h>

template <typename T>
__global__ void check_plain(const T* __restrict__ x, T* __restrict__ y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] * T(2);
}

// 128-bit global loads.
__global__ void check_vector_load(const float4* __restrict__ x, float* __restrict__ y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    float4 v = x[i];
    y[i] = v.x + v.y + v.z + v.w;
  }
}

// A dynamically indexed local array cannot live in registers: it goes to local memory.
__global__ void check_local_array(const float* x, float* y, int n, int k) {
  float buf[256];
  for (int i = 0; i < 256; ++i) buf[i] = x[i * n + threadIdx.x];
  y[threadIdx.x] = buf[k & 255] + buf[(k * 7) & 255];
}

// KB kilobytes of static shared memory; above 48 ptxas refuses it.
template <int KB>
__global__ void check_static_smem(float* y) {
  __shared__ float tile[KB * 256];
  extern __shared__ float more[];
  tile[threadIdx.x] = threadIdx.x;
  more[threadIdx.x] = threadIdx.x;
  __syncthreads();
  y[threadIdx.x] = tile[(threadIdx.x * 3) % (KB * 256)] + more[threadIdx.x ^ 1];
}

// One warp: cp.async a 16x16 half tile to shared memory, ldmatrix it as an A fragment, one mma.sync.
__global__ void check_tensor_core(const half* __restrict__ a, float* __restrict__ d) {
  __shared__ __align__(16) half tile[16 * 16];
  int lane = threadIdx.x;
  unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(tile + lane * 8));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(a + lane * 8));
  asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::);
  __syncthreads();
  unsigned r[4];
  unsigned row = static_cast<unsigned>(__cvta_generic_to_shared(tile + (lane % 16) * 16 + 8 * (lane / 16)));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(row));
  float c[4] = {0.f, 0.f, 0.f, 0.f};
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(r[0]), "r"(r[1]), "r"(r[2]), "r"(r[3]), "r"(r[0]), "r"(r[1]));
  for (int i = 0; i < 4; ++i) d[lane * 4 + i] = c[i];
}
