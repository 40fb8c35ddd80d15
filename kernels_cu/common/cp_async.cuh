// Asynchronous global -> shared copies (cp.async, sm_80+): inline PTX on the GPU; on the host,
// per-thread copy groups applied at the wait that covers them (kernels_cu/host/rt/block.cpp),
// with the destination poisoned until then, so a missing wait shows up as NaN.
//
// As on the GPU, the data is guaranteed only to the issuing thread after its wait; other threads
// need a __syncthreads() after the wait before they read it.
#pragma once

#ifdef SUITE_HOST

#include "common/profile_marks.cuh"

#define cp_async_16(dst, src) suite_host_cp_async_16(SUITE_HOST_SITE, (dst), (src), 16)
#define cp_async_16_zfill(dst, src, valid) suite_host_cp_async_16(SUITE_HOST_SITE, (dst), (src), (valid) ? 16 : 0)
// One LDGSTS per lane: the runtime reports its 16-byte global read (none when zero-filled) and
// 16-byte shared write to `suite profile`, which counts them as the cp.async they are.
__forceinline__ void suite_host_cp_async_16(suite_host_site site, void* dst, const void* src, unsigned src_bytes) {
    // An opaque size keeps g++ from duplicating the call for zero-filled and copied chunks: one code
    // address per cp.async, as on the GPU, so `suite profile` groups the lanes of a warp correctly.
    asm volatile("" : "+r"(src_bytes));
    SUITE_PROFILE_TAG(2, src_bytes ? 2 : 1);
    suite_host_cp_async(site, dst, src, 16, src_bytes);
}
inline void cp_async_commit() { suite_host_cp_async_commit(); }
template <int N>
inline void cp_async_wait() {
    static_assert(N >= 0, "cp.async.wait_group takes a non-negative count");
    suite_host_cp_async_wait(N);
}
inline void cp_async_wait_all() {
    suite_host_cp_async_commit();
    suite_host_cp_async_wait(0);
}

#else

__device__ __forceinline__ unsigned suite_smem_address(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// cp.async.cg: 16 bytes, cached in L2 only (global data read once per tile).
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(suite_smem_address(smem_dst)), "l"(gmem_src));
}

// With valid false no byte is read (src may be any mapped address) and the 16 bytes become zero.
__device__ __forceinline__ void cp_async_16_zfill(void* smem_dst, const void* gmem_src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(suite_smem_address(smem_dst)),
                 "l"(gmem_src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::); }

#endif
