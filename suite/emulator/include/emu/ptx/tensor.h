// The warp-level matrix instructions (mma.sync, ldmatrix, stmatrix, movmatrix) as warp collectives:
// every lane hands its registers to suite_host_warp_collective, the last to arrive computes all
// lanes' results with the fragment layouts of the PTX ISA ("Matrix Fragments for mma.m16n8k*",
// "ldmatrix"; shared/reference/ptx-and-limits.md sections 1 and 2), so layout mistakes in a kernel
// give wrong results on the CPU too.
//
// Layouts, for an element of `bits` in a 32-bit register (p = 32 / bits per register), lane = 4g + t:
//   A (16 x K, row):  element i at row g + 8 ((i / p) % 2), col p t + i % p + 4 p (i / 2p)
//   B (K x 8, col):   element i at k p t + i % p + 4 p (i / p), n g
//   C, D (16 x 8):    element i at row g + 8 (i / 2), col 2 t + i % 2 (f32/s32: one per register,
//                     f16: two per register, the even one in the low half)
#pragma once

#include <cstdint>
#include <cstring>

#include "../runtime_api.h"
#include "../lanes.h"
#include "arith.h"
#include "convert.h"
#include "profile_hooks.h"

enum __suite_ptx_elem { __SUITE_F16, __SUITE_BF16, __SUITE_TF32, __SUITE_S8, __SUITE_U8, __SUITE_E4M3,
                        __SUITE_E5M2, __SUITE_F32, __SUITE_S32 };

template <int E>
constexpr int __suite_ptx_elem_bits() {
    return E == __SUITE_F16 || E == __SUITE_BF16 ? 16 : E == __SUITE_TF32 || E == __SUITE_F32 || E == __SUITE_S32 ? 32 : 8;
}

// Element i of a register array holding elements of type E, as the value the tensor core multiplies.
template <int E>
__forceinline__ auto __suite_ptx_elem(const uint32_t* regs, int i) {
    constexpr int bits = __suite_ptx_elem_bits<E>(), per = 32 / bits;
    const uint32_t raw = (regs[i / per] >> (bits * (i % per))) & (bits == 32 ? 0xffffffffu : (1u << bits) - 1);
    if constexpr (E == __SUITE_F16) return __suite_ptx_h2f(uint16_t(raw));
    else if constexpr (E == __SUITE_BF16) return __suite_ptx_bf2f(uint16_t(raw));
    else if constexpr (E == __SUITE_TF32) return __suite_ptx_get<float>(raw & 0xffffe000u);  // the 19 bits used
    else if constexpr (E == __SUITE_E4M3) return __suite_ptx_e4m3_to_f(uint8_t(raw));
    else if constexpr (E == __SUITE_E5M2) return __suite_ptx_e5m2_to_f(uint8_t(raw));
    else if constexpr (E == __SUITE_S8) return int32_t(int8_t(raw));
    else return int32_t(raw);  // U8
}

template <int K>
struct __suite_ptx_mma_record {
    const uint32_t* a;
    const uint32_t* b;
    const uint32_t* c;
    uint32_t* d;
};

// D = A B + C over the whole warp. Floating point: products exact, sums in double in k order after
// C, one rounding to the accumulator type. Integers: exact sums, wrapped (or clamped: .satfinite).
// (The build's -O3/-march flags vectorise this loop nest as it is; measured faster than the same
// sums column-innermost with an AVX2 instance chosen at run time: benchmarks/ptx_mma.py.)
template <int K, int AE, int BE, int CE, int DE, bool Sat>
void __suite_ptx_mma_complete(void* const* records, unsigned) {
    constexpr bool integer = DE == __SUITE_S32;
    using V = std::conditional_t<integer, int32_t, float>;
    using Acc = std::conditional_t<integer, int64_t, double>;
    constexpr int pa = 32 / __suite_ptx_elem_bits<AE>(), pb = 32 / __suite_ptx_elem_bits<BE>();
    V A[16][K], B[K][8];
    Acc C[16][8];
    for (int lane = 0; lane < 32; ++lane) {
        const auto& r = *static_cast<const __suite_ptx_mma_record<K>*>(records[lane]);
        const int g = lane / 4, t = lane % 4;
        for (int i = 0; i < 16 * K / 32; ++i)
            A[g + 8 * ((i / pa) % 2)][pa * t + i % pa + 4 * pa * (i / (2 * pa))] = __suite_ptx_elem<AE>(r.a, i);
        for (int i = 0; i < 8 * K / 32; ++i) B[pb * t + i % pb + 4 * pb * (i / pb)][g] = __suite_ptx_elem<BE>(r.b, i);
        for (int i = 0; i < 4; ++i) {
            const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
            if constexpr (CE == __SUITE_F16) C[row][col] = __suite_ptx_h2f(uint16_t(r.c[i / 2] >> (16 * (i % 2))));
            else if constexpr (CE == __SUITE_F32) C[row][col] = __suite_ptx_get<float>(r.c[i]);
            else C[row][col] = int32_t(r.c[i]);
        }
    }
    for (int lane = 0; lane < 32; ++lane) {
        const auto& r = *static_cast<const __suite_ptx_mma_record<K>*>(records[lane]);
        const int g = lane / 4, t = lane % 4;
        for (int i = 0; i < 4; ++i) {
            const int row = g + 8 * (i / 2), col = 2 * t + i % 2;
            Acc sum = C[row][col];
            for (int k = 0; k < K; ++k) sum += Acc(A[row][k]) * Acc(B[k][col]);
            if constexpr (DE == __SUITE_F16) {
                const uint32_t h = __suite_ptx_d2h(sum);
                r.d[i / 2] = i % 2 ? (r.d[i / 2] & 0xffffu) | h << 16 : h;
            } else if constexpr (DE == __SUITE_F32) {
                r.d[i] = __suite_ptx_get<uint32_t>(float(sum));
            } else {
                r.d[i] = uint32_t(Sat ? (sum > INT32_MAX ? INT32_MAX : sum < INT32_MIN ? INT32_MIN : sum) : sum);
            }
        }
    }
}

template <int K, int AE, int BE, int CE, int DE, bool Sat>
__forceinline__ void __suite_ptx_mma(suite_host_site site, uint32_t* d, const uint32_t* a, const uint32_t* b,
                                     const uint32_t* c) {
    SUITE_PROFILE_MARK(nullptr, 0, 2, 0, 3);
    __suite_ptx_mma_record<K> record{a, b, c, d};
    suite_host_warp_collective(site, "mma.sync", 0xffffffffu, &record, __suite_ptx_mma_complete<K, AE, BE, CE, DE, Sat>);
}

// ---- ldmatrix / stmatrix / movmatrix (m8n8 of 16-bit elements) ------------------------------------

// The lane that completes the collective moves every lane's row; the checks see each row access as
// its own lane's, at its own instruction (the calls g++ -fsanitize=thread makes for an access).
// Profiled builds count the rows through their marks instead (once each).
#if defined(SUITE_HOST_CHECKED) && !defined(SUITE_HOST_PROFILED)
extern "C" void __tsan_read16(void*);
extern "C" void __tsan_write16(void*);
#define __SUITE_PTX_CHECK_ROW(kind, row) __tsan_##kind##16(const_cast<void*>(static_cast<const void*>(row)))
#else
#define __SUITE_PTX_CHECK_ROW(kind, row) ((void)0)
#endif

struct __suite_ptx_ldmatrix_record {
    const uint16_t* row;  // this lane's row address (lanes 8j..8j+7 give the rows of matrix j)
    uint32_t* r;
};

template <int Matrices, bool Transpose>
void __suite_ptx_ldmatrix_complete(void* const* records, unsigned) {
    uint16_t m[4][8][8];
    for (int j = 0; j < Matrices; ++j)
        for (int row = 0; row < 8; ++row)
            std::memcpy(m[j][row], static_cast<const __suite_ptx_ldmatrix_record*>(records[8 * j + row])->row, 16);
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        uint32_t* out = static_cast<const __suite_ptx_ldmatrix_record*>(records[lane])->r;
        for (int j = 0; j < Matrices; ++j) {
            const uint16_t lo = Transpose ? m[j][2 * t][g] : m[j][g][2 * t];
            const uint16_t hi = Transpose ? m[j][2 * t + 1][g] : m[j][g][2 * t + 1];
            out[j] = uint32_t(lo) | uint32_t(hi) << 16;
        }
    }
}

// Lanes 8j..8j+7 give the 16-byte rows of matrix j: a 16-byte shared load each, in phases of 8.
template <int Matrices, bool Transpose>
__forceinline__ void __suite_ptx_ldmatrix(suite_host_site site, uint32_t* r, const void* row) {
    const unsigned lane = ::suite_host::lanes::self()->linear % 32;
    if (lane < 8 * Matrices) SUITE_PROFILE_MARK(row, 16, 1, 0, 1);
    if (lane < 8 * Matrices && reinterpret_cast<uintptr_t>(row) % 16)
        suite_host_trap(site, "ldmatrix: each row address must be 16-byte aligned");
    if (lane < 8 * Matrices) __SUITE_PTX_CHECK_ROW(read, row);
    __suite_ptx_ldmatrix_record record{static_cast<const uint16_t*>(row), r};
    suite_host_warp_collective(site, Transpose ? "ldmatrix.trans" : "ldmatrix", 0xffffffffu, &record,
                               __suite_ptx_ldmatrix_complete<Matrices, Transpose>);
}

struct __suite_ptx_stmatrix_record {
    uint16_t* row;
    const uint32_t* r;
};

// stmatrix: the inverse of ldmatrix (same fragment, same row addresses), each row a 16-byte store.
template <int Matrices, bool Transpose>
void __suite_ptx_stmatrix_complete(void* const* records, unsigned) {
    uint16_t m[4][8][8];
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        const uint32_t* in = static_cast<const __suite_ptx_stmatrix_record*>(records[lane])->r;
        for (int j = 0; j < Matrices; ++j) {
            (Transpose ? m[j][2 * t][g] : m[j][g][2 * t]) = uint16_t(in[j]);
            (Transpose ? m[j][2 * t + 1][g] : m[j][g][2 * t + 1]) = uint16_t(in[j] >> 16);
        }
    }
    for (int j = 0; j < Matrices; ++j)
        for (int row = 0; row < 8; ++row)
            std::memcpy(static_cast<const __suite_ptx_stmatrix_record*>(records[8 * j + row])->row, m[j][row], 16);
}

template <int Matrices, bool Transpose>
__forceinline__ void __suite_ptx_stmatrix(suite_host_site site, void* row, const uint32_t* r) {
    const unsigned lane = ::suite_host::lanes::self()->linear % 32;
    if (lane < 8 * Matrices && reinterpret_cast<uintptr_t>(row) % 16)
        suite_host_trap(site, "stmatrix: each row address must be 16-byte aligned");
    if (lane < 8 * Matrices) __SUITE_PTX_CHECK_ROW(write, row);
    __suite_ptx_stmatrix_record record{static_cast<uint16_t*>(row), r};
    suite_host_warp_collective(site, Transpose ? "stmatrix.trans" : "stmatrix", 0xffffffffu, &record,
                               __suite_ptx_stmatrix_complete<Matrices, Transpose>);
}

struct __suite_ptx_movmatrix_record {
    uint32_t in;
    uint32_t out;
};

// movmatrix.trans: the 8x8 matrix held one register per lane (lane 4g+t: row g, cols 2t, 2t+1),
// transposed in the same layout.
inline void __suite_ptx_movmatrix_complete(void* const* records, unsigned) {
    uint16_t m[8][8];
    for (int lane = 0; lane < 32; ++lane) {
        const uint32_t v = static_cast<const __suite_ptx_movmatrix_record*>(records[lane])->in;
        m[lane / 4][2 * (lane % 4)] = uint16_t(v), m[lane / 4][2 * (lane % 4) + 1] = uint16_t(v >> 16);
    }
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        static_cast<__suite_ptx_movmatrix_record*>(records[lane])->out = uint32_t(m[2 * t][g]) | uint32_t(m[2 * t + 1][g]) << 16;
    }
}

__forceinline__ uint32_t __suite_ptx_movmatrix(suite_host_site site, uint32_t v) {
    __suite_ptx_movmatrix_record record{v, 0};
    suite_host_warp_collective(site, "movmatrix", 0xffffffffu, &record, __suite_ptx_movmatrix_complete);
    return record.out;
}
