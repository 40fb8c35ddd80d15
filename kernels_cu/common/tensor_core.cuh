// Warp-level tensor-core operations: mma.sync m16n8k16 (fp32 accumulate) and ldmatrix. Inline PTX
// on the GPU; on the host, thin calls of the emulation of those instructions, which translated inline
// PTX uses as well (warp collectives computing with the PTX ISA's fragment layouts, so layout
// mistakes in a kernel give wrong results on the CPU too). Below both backends' primitives:
// pack2 (two fp32 values rounded into one fragment register) and an n-tile pair of mma on a
// row-major B tile.
//
// Fragments (lane = 32 lanes, g = lane / 4, t = lane % 4; 16-bit elements, even index in the low half):
//   A 16x16 row-major: a[r] holds (row g + 8*(r%2), cols 2t + 8*(r/2) and the next one)
//   B 16x8 (k x n):    b[r] holds (k 2t + 8*r and the next one, col g)
//   C, D 16x8 fp32:    c[i] is (row g + 8*(i/2), col 2t + i%2)
#pragma once

#if defined(__CUDACC_RTC__)
typedef unsigned int uint32_t;  // NVRTC has no <stdint.h>; a repeated identical typedef is legal C++
#else
#include <stdint.h>
#endif

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#ifdef SUITE_HOST

// The host emulation of the same instructions the GPU path below issues as inline PTX
// (suite/emulator/include/emu/ptx/tensor.h), which translated user PTX runs too.
template <typename T>
__forceinline__ void mma_m16n8k16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
    static_assert(std::is_same<T, __half>::value || std::is_same<T, __nv_bfloat16>::value,
                  "mma_m16n8k16<T>: T is __half or __nv_bfloat16");
    constexpr int E = std::is_same<T, __half>::value ? __SUITE_F16 : __SUITE_BF16;
    __suite_ptx_mma<16, E, E, __SUITE_F32, __SUITE_F32, false>(SUITE_HOST_SITE, reinterpret_cast<uint32_t*>(d), a, b,
                                                               reinterpret_cast<const uint32_t*>(c));
}

#define SUITE_HOST_LDMATRIX(name, matrices, transpose)                      \
    __forceinline__ void name(uint32_t r[matrices], const void* smem_row) {        \
        __suite_ptx_ldmatrix<matrices, transpose>(SUITE_HOST_SITE, r, smem_row); \
    }
SUITE_HOST_LDMATRIX(ldmatrix_x1, 1, false)
SUITE_HOST_LDMATRIX(ldmatrix_x2, 2, false)
SUITE_HOST_LDMATRIX(ldmatrix_x4, 4, false)
SUITE_HOST_LDMATRIX(ldmatrix_x1_trans, 1, true)
SUITE_HOST_LDMATRIX(ldmatrix_x2_trans, 2, true)
SUITE_HOST_LDMATRIX(ldmatrix_x4_trans, 4, true)
#undef SUITE_HOST_LDMATRIX

#else  // the GPU

template <typename T>
__device__ __forceinline__ void mma_m16n8k16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]);

template <>
__device__ __forceinline__ void mma_m16n8k16<__half>(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                      const float c[4]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
}

template <>
__device__ __forceinline__ void mma_m16n8k16<__nv_bfloat16>(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                             const float c[4]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%10, %11, %12, %13};\n"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
}

__device__ __forceinline__ uint32_t suite_ldmatrix_address(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n"
                 : "=r"(r[0])
                 : "r"(suite_ldmatrix_address(smem_row)));
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(suite_ldmatrix_address(smem_row)));
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(suite_ldmatrix_address(smem_row)));
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
                 : "=r"(r[0])
                 : "r"(suite_ldmatrix_address(smem_row)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(suite_ldmatrix_address(smem_row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(suite_ldmatrix_address(smem_row)));
}

#endif

template <typename T>
struct Pair;  // two elements in one 32-bit word, first element in the low half
template <>
struct Pair<__half> {
    using type = __half2;
    static __device__ __forceinline__ type make(float lo, float hi) { return __floats2half2_rn(lo, hi); }
};
template <>
struct Pair<__nv_bfloat16> {
    using type = __nv_bfloat162;
    static __device__ __forceinline__ type make(float lo, float hi) { return __floats2bfloat162_rn(lo, hi); }
};

// A register of an mma A fragment holding (lo, hi) rounded to T.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    const typename Pair<T>::type pair = Pair<T>::make(lo, hi);
    uint32_t bits;
    memcpy(&bits, &pair, sizeof(bits));
    return bits;
}

// acc[mt][n0 / 8 + j] += a[mt] x B[k0 .. k0+16, n0 + 8j .. n0 + 8j + 8] for j = 0, 1 and every m tile, where B
// is a row-major [k][n] tile in shared memory with a row pitch of LD elements: one ldmatrix.x4.trans gives
// both n tiles' fragments (matrices 0-1: columns n0.., 2-3: n0+8..) and serves the MT m tiles.
template <typename T, int LD, int MT, int NT>
__device__ __forceinline__ void mma_row_major_b_pair(float (&acc)[MT][NT][4], const uint32_t (&a)[MT][4], const T* tile,
                                                     int k0, int n0, int lane) {
    uint32_t b[4];
    ldmatrix_x4_trans(b, tile + (k0 + lane % 16) * LD + n0 + 8 * (lane / 16));
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
        mma_m16n8k16<T>(acc[mt][n0 / 8], a[mt], b, acc[mt][n0 / 8]);
        mma_m16n8k16<T>(acc[mt][n0 / 8 + 1], a[mt], b + 2, acc[mt][n0 / 8 + 1]);
    }
}
