// Hopper (sm_90a) building blocks of a warp-specialized pipeline, each one inline-PTX statement in
// the form CUTLASS uses (cutlass/arch/barrier.h, cute/arch/copy_sm90_tma.hpp, mma_sm90_gmma.hpp),
// so that the GPU runs exactly this text and the host backend's PTX translator sees the standard
// forms: mbarriers, TMA tile loads, named barriers, setmaxnreg, wgmma's fence/commit/wait and the
// 64-bit shared-memory matrix descriptor (shared/reference/hopper-wgmma-tma.md, sections 1-4).
#pragma once

#if defined(__CUDACC_RTC__)
typedef unsigned int uint32_t;  // NVRTC has no <stdint.h>; a repeated identical typedef is legal C++
typedef unsigned long long uint64_t;
#else
#include <stdint.h>
#endif

namespace hopper {

// A CUtensorMap as the kernel receives it (`const __grid_constant__ TensorMap`): 128 opaque bytes,
// 64-byte aligned. <cuda.h> is a host header NVRTC does not take (CUTLASS declares its own too).
struct alignas(64) TensorMap {
  unsigned long long opaque[16];
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarrier (an 8-byte object in shared memory) ----
__device__ __forceinline__ void mbarrier_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}

// Makes the inits visible to the async proxy (TMA); a block-wide barrier must follow.
__device__ __forceinline__ void mbarrier_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(bar)) : "memory");
}

// The producer's arrival, announcing `bytes` that TMA copies will complete on this barrier.
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)), "r"(bytes) : "memory");
}

__device__ __forceinline__ bool mbarrier_try_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done;
  asm volatile(
      "{\n.reg .pred p;\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
      "selp.b32 %0, 1, 0, p;\n}\n"
      : "=r"(done)
      : "r"(smem_addr(bar)), "r"(parity)
      : "memory");
  return done != 0;
}

// Waits until the phase of parity `parity` has completed (try_wait blocks for a while in hardware).
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  while (!mbarrier_try_wait(bar, parity)) {
  }
}

// ---- TMA: one 4-D box (coordinates innermost first, in elements) into shared memory, completing
// its bytes on `bar`. Elements outside the tensor arrive as zeros.
__device__ __forceinline__ void tma_load_4d(void* dst, const TensorMap* map, uint64_t* bar, int c0, int c1, int c2,
                                            int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], [%2];"
      ::"r"(smem_addr(dst)), "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2),
      "r"(c3)
      : "memory");
}

// ---- named barriers (id 1..15; 0 is __syncthreads), `count` threads, a multiple of 32 ----
__device__ __forceinline__ void named_barrier_sync(uint32_t id, uint32_t count) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(count) : "memory");
}

__device__ __forceinline__ void named_barrier_arrive(uint32_t id, uint32_t count) {
  asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(count) : "memory");
}

// ---- register reallocation between warpgroups (all 128 threads of a warpgroup execute it) ----
template <int REGS>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(REGS));
}

template <int REGS>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(REGS));
}

// ---- wgmma ordering ----
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }

__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }

// The count is literal text (not an "n" operand): the host backend translates the asm before
// templates are instantiated, where a template parameter is not yet a number.
template <int PENDING>
__device__ __forceinline__ void wgmma_wait() {
  static_assert(PENDING == 0 || PENDING == 1, "wgmma_wait<0> or <1>");
  if constexpr (PENDING == 0)
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  else
    asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
}

// Keeps the compiler from moving reads or writes of registers an in-flight wgmma owns across the
// wait (CUTLASS's warpgroup_fence_operand): no instruction, only a dependence. The host backend's
// wgmma writes the registers at the wait itself, so there it has nothing to order.
template <int N>
__device__ __forceinline__ void fence_operands(float (&r)[N]) {
#ifndef SUITE_HOST
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
#endif
}

template <int N>
__device__ __forceinline__ void fence_operands(uint32_t (&r)[N][4]) {
#ifndef SUITE_HOST
#pragma unroll
  for (int i = 0; i < N; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) asm volatile("" : "+r"(r[i][j])::"memory");
#endif
}

// The 64-bit shared-memory matrix descriptor with the 128-byte swizzle (layout type 1 in bits
// 62-63): start address, leading and stride byte offsets, all in 16-byte units; base offset 0, so
// each 8-row x 128-byte swizzle atom must start 1024-byte aligned (the start may step inside it
// along K, as CUTLASS's descriptor iterator does).
__device__ __forceinline__ uint64_t smem_desc_sw128(uint32_t start, uint32_t leading_bytes, uint32_t stride_bytes) {
  return static_cast<uint64_t>((start & 0x3FFFF) >> 4) | static_cast<uint64_t>((leading_bytes >> 4) & 0x3FFF) << 16 |
         static_cast<uint64_t>((stride_bytes >> 4) & 0x3FFF) << 32 | 1ull << 62;
}

}  // namespace hopper
