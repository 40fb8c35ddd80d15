// The DPX intrinsics (sm_90's three-way max/min, add-then-max/min, max/min with predicate; CUDA
// Math API, "SIMD Intrinsics"), for 32-bit words and for two 16-bit halves, signed or unsigned.
// Sums wrap around in the lane's width before the comparison, as documented; _relu clamps at 0.
#pragma once

#include "simd_video.h"

namespace suite_host {

// Lane i of w as a signed or unsigned value of its width (32: the word itself).
template <int W, bool Signed>
inline long long lane(unsigned w, int i) {
    if (W == 32) return Signed ? (long long)int(w) : (long long)w;
    return Signed ? (long long)Lanes<16>::s(w, i) : (long long)Lanes<16>::u(w, i);
}
template <int W, bool Signed>
inline long long wrap(long long v) {  // v in the lane's width, as the hardware's sum wraps
    const long long m = 1ll << W;
    v &= m - 1;
    return Signed && v >= m / 2 ? v - m : v;
}
// f(lane of a, of b, of c) for each lane, joined back into a word.
template <int W, bool Signed, typename F>
inline unsigned each3(unsigned a, unsigned b, unsigned c, F f) {
    unsigned out = 0;
    for (int i = 0; i < 32 / W; ++i)
        out |= unsigned(f(lane<W, Signed>(a, i), lane<W, Signed>(b, i), lane<W, Signed>(c, i)) &
                        (W == 32 ? 0xffffffffll : 0xffffll)) << (W * i);
    return out;
}
inline long long max3(long long a, long long b, long long c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }
inline long long min3(long long a, long long b, long long c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }
inline long long at_least_zero(long long v) { return v > 0 ? v : 0; }

}  // namespace suite_host

// name(a, b, c) over the lanes of W bits: T is int for signed 32-bit words, unsigned otherwise.
#define __SUITE_DPX3(name, T, W, Signed, expr)                                                           \
    inline T name(T a, T b, T c) {                                                                       \
        using namespace ::suite_host;                                                                    \
        return T(each3<W, Signed>(unsigned(a), unsigned(b), unsigned(c),                                 \
                                  [](long long x, long long y, long long z) { return (expr); }));       \
    }
#define __SUITE_DPX3_ALL(prefix, expr, relu_expr)                                                        \
    __SUITE_DPX3(prefix##_s32, int, 32, true, expr) __SUITE_DPX3(prefix##_u32, unsigned, 32, false, expr) \
    __SUITE_DPX3(prefix##_s16x2, unsigned, 16, true, expr) __SUITE_DPX3(prefix##_u16x2, unsigned, 16, false, expr) \
    __SUITE_DPX3(prefix##_s32_relu, int, 32, true, relu_expr) __SUITE_DPX3(prefix##_s16x2_relu, unsigned, 16, true, relu_expr)
__SUITE_DPX3_ALL(__vimax3, max3(x, y, z), at_least_zero(max3(x, y, z)))
__SUITE_DPX3_ALL(__vimin3, min3(x, y, z), at_least_zero(min3(x, y, z)))
__SUITE_DPX3(__viaddmax_s32, int, 32, true, max3(wrap<32, true>(x + y), z, z))
__SUITE_DPX3(__viaddmax_u32, unsigned, 32, false, max3(wrap<32, false>(x + y), z, z))
__SUITE_DPX3(__viaddmax_s16x2, unsigned, 16, true, max3(wrap<16, true>(x + y), z, z))
__SUITE_DPX3(__viaddmax_u16x2, unsigned, 16, false, max3(wrap<16, false>(x + y), z, z))
__SUITE_DPX3(__viaddmax_s32_relu, int, 32, true, at_least_zero(max3(wrap<32, true>(x + y), z, z)))
__SUITE_DPX3(__viaddmax_s16x2_relu, unsigned, 16, true, at_least_zero(max3(wrap<16, true>(x + y), z, z)))
__SUITE_DPX3(__viaddmin_s32, int, 32, true, min3(wrap<32, true>(x + y), z, z))
__SUITE_DPX3(__viaddmin_u32, unsigned, 32, false, min3(wrap<32, false>(x + y), z, z))
__SUITE_DPX3(__viaddmin_s16x2, unsigned, 16, true, min3(wrap<16, true>(x + y), z, z))
__SUITE_DPX3(__viaddmin_u16x2, unsigned, 16, false, min3(wrap<16, false>(x + y), z, z))
__SUITE_DPX3(__viaddmin_s32_relu, int, 32, true, at_least_zero(min3(wrap<32, true>(x + y), z, z)))
__SUITE_DPX3(__viaddmin_s16x2_relu, unsigned, 16, true, at_least_zero(min3(wrap<16, true>(x + y), z, z)))
#undef __SUITE_DPX3_ALL
#undef __SUITE_DPX3

// Two-operand forms: max/min with ReLU, and with the predicate a >= b (max) or a <= b (min).
inline int __vimax_s32_relu(int a, int b) { return ::suite_host::at_least_zero(a > b ? a : b); }
inline int __vimin_s32_relu(int a, int b) { return int(::suite_host::at_least_zero(a < b ? a : b)); }
inline unsigned __vimax_s16x2_relu(unsigned a, unsigned b) { return __vimax3_s16x2_relu(a, b, b); }
inline unsigned __vimin_s16x2_relu(unsigned a, unsigned b) { return __vimin3_s16x2_relu(a, b, b); }
#define __SUITE_VIB(name, T, W, Signed, op)                                                              \
    inline T name(T a, T b, bool* pred) {                                                                \
        *pred = ::suite_host::lane<W, Signed>(unsigned(a), 0) op ::suite_host::lane<W, Signed>(unsigned(b), 0); \
        return *pred ? a : b;                                                                            \
    }
__SUITE_VIB(__vibmax_s32, int, 32, true, >=)
__SUITE_VIB(__vibmax_u32, unsigned, 32, false, >=)
__SUITE_VIB(__vibmin_s32, int, 32, true, <=)
__SUITE_VIB(__vibmin_u32, unsigned, 32, false, <=)
#undef __SUITE_VIB
#define __SUITE_VIB16(name, Signed, op)                                                                  \
    inline unsigned name(unsigned a, unsigned b, bool* pred_hi, bool* pred_lo) {                         \
        using ::suite_host::lane;                                                                        \
        *pred_lo = lane<16, Signed>(a, 0) op lane<16, Signed>(b, 0);                                     \
        *pred_hi = lane<16, Signed>(a, 1) op lane<16, Signed>(b, 1);                                     \
        return (*pred_lo ? a : b) & 0xffffu | (*pred_hi ? a : b) & 0xffff0000u;                          \
    }
__SUITE_VIB16(__vibmax_s16x2, true, >=)
__SUITE_VIB16(__vibmax_u16x2, false, >=)
__SUITE_VIB16(__vibmin_s16x2, true, <=)
__SUITE_VIB16(__vibmin_u16x2, false, <=)
#undef __SUITE_VIB16

inline unsigned long long ullmin(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long ullmax(unsigned long long a, unsigned long long b) { return a < b ? b : a; }
