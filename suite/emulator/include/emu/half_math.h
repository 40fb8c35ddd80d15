// The fp16 and bf16 functions that NVIDIA's cuda_fp16.h / cuda_bf16.h declare for the device
// only, for both types at once (Half<T> says how to reach each type's bits and floats).
//
// __hfma rounds once, as the hardware's fma.rn.f16/bf16 does: a*b is exact in double (11- or
// 8-bit significands), the sum with c is split into s + t exactly (TwoSum), s is rounded to odd
// (its last bit set when t != 0), and that 53-bit value rounds to the 11- or 8-bit result as the
// exact value would (round-to-odd needs only 2 extra bits; Boldo & Melquiond, 2008).
// The transcendental functions (hexp, hsin, ...) compute in float and round to the type, as the
// GPU's do; their last bit can differ from the GPU's approximations.
#pragma once

#include <math.h>
#include <string.h>

#include <limits>

#include "conversions.h"

namespace suite_host {

template <typename H> struct Half;
template <> struct Half<__half> {
    using Pair = __half2;
    static float to_float(__half h) { return __half2float(h); }
    static __half from_float(float f) { return __float2half_rn(f); }
    static __half from_double(double d) { return __double2half(d); }
    static unsigned short bits(__half h) { return __half_as_ushort(h); }
    static __half from_bits(unsigned short b) { return __ushort_as_half(b); }
    static __half low(Pair p) { return __low2half(p); }
    static __half high(Pair p) { return __high2half(p); }
    static Pair pair(__half lo, __half hi) { return __halves2half2(lo, hi); }
};
template <> struct Half<__nv_bfloat16> {
    using Pair = __nv_bfloat162;
    static float to_float(__nv_bfloat16 h) { return __bfloat162float(h); }
    static __nv_bfloat16 from_float(float f) { return __float2bfloat16_rn(f); }
    static __nv_bfloat16 from_double(double d) { return __double2bfloat16(d); }
    static unsigned short bits(__nv_bfloat16 h) { return __bfloat16_as_ushort(h); }
    static __nv_bfloat16 from_bits(unsigned short b) { return __ushort_as_bfloat16(b); }
    static __nv_bfloat16 low(Pair p) { return __low2bfloat16(p); }
    static __nv_bfloat16 high(Pair p) { return __high2bfloat16(p); }
    static Pair pair(__nv_bfloat16 lo, __nv_bfloat16 hi) { return __halves2bfloat162(lo, hi); }
};

// a*b + c with one rounding to H (see the top of this file).
template <typename H>
inline H fma_once(H a, H b, H c) {
    using T = Half<H>;
    const double p = double(T::to_float(a)) * double(T::to_float(b));  // exact
    const double q = double(T::to_float(c));
    const double s = p + q;
    if (!isfinite(s) || s == 0.0) return T::from_double(s);  // inf, NaN, or an exact zero (signs as IEEE)
    const double z = s - p;
    const double t = (p - (s - z)) + (q - z);  // s + t == p + q exactly (TwoSum)
    unsigned long long u;
    memcpy(&u, &s, sizeof u);
    double odd = s;
    if (t != 0.0 && !(u & 1)) odd = nextafter(s, t > 0 ? INFINITY : -INFINITY);
    return T::from_double(odd);
}

template <typename H>
inline H sat01(H x) {  // fma.rn.sat: clamp to [0, 1], NaN -> +0
    const float f = Half<H>::to_float(x);
    return Half<H>::from_float(f >= 1.0f ? 1.0f : f > 0.0f ? f : 0.0f);
}
template <typename H>
inline H relu(H x) {  // fma.rn.relu: a negative result is +0; NaN stays NaN (canonical)
    const float f = Half<H>::to_float(x);
    if (f != f) return Half<H>::from_bits(0x7fff);
    return f < 0.0f ? Half<H>::from_float(0.0f) : x;
}

template <typename H, typename F>
inline typename Half<H>::Pair each(typename Half<H>::Pair a, F f) {
    return Half<H>::pair(f(Half<H>::low(a)), f(Half<H>::high(a)));
}
template <typename H, typename F>
inline typename Half<H>::Pair each(typename Half<H>::Pair a, typename Half<H>::Pair b, typename Half<H>::Pair c, F f) {
    using T = Half<H>;
    return T::pair(f(T::low(a), T::low(b), T::low(c)), f(T::high(a), T::high(b), T::high(c)));
}

// An integer in H under a directed rounding mode: the nearest H, moved one step when it lies on
// the wrong side of the exact value (long double holds every 64-bit integer exactly).
template <typename H, typename I>
inline H from_integer(I x, Round mode) {
    using T = Half<H>;
    const long double exact = (long double)x;
    H r = T::from_double(double(x));  // nearest for |x| < 2^53; beyond, a step fixes any double rounding
    const long double got = (long double)T::to_float(r);
    const bool up = mode == Round::Up || (mode == Round::Zero && exact < 0);
    const bool down = mode == Round::Down || (mode == Round::Zero && exact > 0);
    if ((up && got < exact) || (down && got > exact)) {
        const unsigned short b = T::bits(r);
        const bool negative = b & 0x8000;
        // Away from zero is one more in the magnitude bits, toward zero one less.
        const bool away = (up && !negative) || (down && negative);
        r = T::from_bits(away ? b + 1 : b - 1);  // never zero: a nonzero integer is at least 1
    }
    return r;
}

}  // namespace suite_host

// FMA and its saturating/ReLU forms, for __half and __nv_bfloat16 and their pairs.
#define __SUITE_HALF_FMA(H, H2)                                                                      \
    inline H __hfma(H a, H b, H c) { return ::suite_host::fma_once(a, b, c); }                        \
    inline H __hfma_sat(H a, H b, H c) { return ::suite_host::sat01(::suite_host::fma_once(a, b, c)); } \
    inline H __hfma_relu(H a, H b, H c) { return ::suite_host::relu(::suite_host::fma_once(a, b, c)); } \
    inline H2 __hfma2(H2 a, H2 b, H2 c) { return ::suite_host::each<H>(a, b, c, [](H x, H y, H z) { return __hfma(x, y, z); }); } \
    inline H2 __hfma2_sat(H2 a, H2 b, H2 c) { return ::suite_host::each<H>(a, b, c, [](H x, H y, H z) { return __hfma_sat(x, y, z); }); } \
    inline H2 __hfma2_relu(H2 a, H2 b, H2 c) { return ::suite_host::each<H>(a, b, c, [](H x, H y, H z) { return __hfma_relu(x, y, z); }); } \
    /* complex a*b + c, in NVIDIA's order: re = fma(-a.im, b.im, fma(a.re, b.re, c.re)), im likewise */ \
    inline H2 __hcmadd(H2 a, H2 b, H2 c) {                                                           \
        using T = ::suite_host::Half<H>;                                                             \
        const H re = __hfma(T::low(a), T::low(b), T::low(c)), im = __hfma(T::low(a), T::high(b), T::high(c)); \
        const H neg = T::from_bits(T::bits(T::high(a)) ^ 0x8000);                                    \
        return T::pair(__hfma(neg, T::high(b), re), __hfma(T::high(a), T::low(b), im));              \
    }
__SUITE_HALF_FMA(__half, __half2)
__SUITE_HALF_FMA(__nv_bfloat16, __nv_bfloat162)
#undef __SUITE_HALF_FMA

// name(x) and its pair form h2name: computed in float, rounded once to the type.
#define __SUITE_HALF_UNARY(name, pair_name, expr)                                                    \
    inline __half name(__half h) { const float x = __half2float(h); return __float2half_rn(expr); }   \
    inline __nv_bfloat16 name(__nv_bfloat16 h) { const float x = __bfloat162float(h); return __float2bfloat16_rn(expr); } \
    inline __half2 pair_name(__half2 a) { return ::suite_host::each<__half>(a, [](__half v) { return name(v); }); } \
    inline __nv_bfloat162 pair_name(__nv_bfloat162 a) { return ::suite_host::each<__nv_bfloat16>(a, [](__nv_bfloat16 v) { return name(v); }); }
__SUITE_HALF_UNARY(hceil, h2ceil, ceilf(x))
__SUITE_HALF_UNARY(hfloor, h2floor, floorf(x))
__SUITE_HALF_UNARY(htrunc, h2trunc, truncf(x))
__SUITE_HALF_UNARY(hrint, h2rint, nearbyintf(x))
__SUITE_HALF_UNARY(hsqrt, h2sqrt, sqrtf(x))
__SUITE_HALF_UNARY(hrsqrt, h2rsqrt, 1.0f / sqrtf(x))
__SUITE_HALF_UNARY(hrcp, h2rcp, 1.0f / x)
__SUITE_HALF_UNARY(hexp, h2exp, expf(x))
__SUITE_HALF_UNARY(hexp2, h2exp2, exp2f(x))
__SUITE_HALF_UNARY(hexp10, h2exp10, exp10f(x))
__SUITE_HALF_UNARY(hlog, h2log, logf(x))
__SUITE_HALF_UNARY(hlog2, h2log2, log2f(x))
__SUITE_HALF_UNARY(hlog10, h2log10, log10f(x))
__SUITE_HALF_UNARY(hsin, h2sin, sinf(x))
__SUITE_HALF_UNARY(hcos, h2cos, cosf(x))
__SUITE_HALF_UNARY(htanh, h2tanh, tanhf(x))
__SUITE_HALF_UNARY(htanh_approx, h2tanh_approx, tanhf(x))
#undef __SUITE_HALF_UNARY

// Conversions to integers with a rounding mode (saturating, NaN -> 0), for both types.
#define __SUITE_HALF_TO_INT(H, prefix, suffix, I, mode)                                              \
    inline I prefix##suffix(H h) { return ::suite_host::saturate<I>(::suite_host::Half<H>::to_float(h), ::suite_host::Round::mode); }
#define __SUITE_HALF_TO_INT_ALL(H, prefix, I)                                                        \
    __SUITE_HALF_TO_INT(H, prefix, _rn, I, Nearest) __SUITE_HALF_TO_INT(H, prefix, _ru, I, Up)         \
    __SUITE_HALF_TO_INT(H, prefix, _rd, I, Down)
__SUITE_HALF_TO_INT_ALL(__half, __half2int, int)
__SUITE_HALF_TO_INT_ALL(__half, __half2uint, unsigned)
__SUITE_HALF_TO_INT_ALL(__half, __half2ll, long long)
__SUITE_HALF_TO_INT_ALL(__half, __half2ull, unsigned long long)
__SUITE_HALF_TO_INT_ALL(__half, __half2short, short)
__SUITE_HALF_TO_INT_ALL(__half, __half2ushort, unsigned short)
__SUITE_HALF_TO_INT_ALL(__nv_bfloat16, __bfloat162int, int)
__SUITE_HALF_TO_INT_ALL(__nv_bfloat16, __bfloat162uint, unsigned)
__SUITE_HALF_TO_INT_ALL(__nv_bfloat16, __bfloat162ll, long long)
__SUITE_HALF_TO_INT_ALL(__nv_bfloat16, __bfloat162ull, unsigned long long)
__SUITE_HALF_TO_INT_ALL(__nv_bfloat16, __bfloat162short, short)
__SUITE_HALF_TO_INT_ALL(__nv_bfloat16, __bfloat162ushort, unsigned short)
#undef __SUITE_HALF_TO_INT_ALL
#undef __SUITE_HALF_TO_INT

// Integers to bf16 with a directed rounding mode (the _rn forms are NVIDIA's, host and device).
#define __SUITE_INT_TO_BF16(prefix, I)                                                               \
    inline __nv_bfloat16 prefix##_rz(I x) { return ::suite_host::from_integer<__nv_bfloat16>(x, ::suite_host::Round::Zero); } \
    inline __nv_bfloat16 prefix##_ru(I x) { return ::suite_host::from_integer<__nv_bfloat16>(x, ::suite_host::Round::Up); } \
    inline __nv_bfloat16 prefix##_rd(I x) { return ::suite_host::from_integer<__nv_bfloat16>(x, ::suite_host::Round::Down); }
__SUITE_INT_TO_BF16(__int2bfloat16, int)
__SUITE_INT_TO_BF16(__uint2bfloat16, unsigned)
__SUITE_INT_TO_BF16(__ll2bfloat16, long long)
__SUITE_INT_TO_BF16(__ull2bfloat16, unsigned long long)
__SUITE_INT_TO_BF16(__short2bfloat16, short)
__SUITE_INT_TO_BF16(__ushort2bfloat16, unsigned short)
#undef __SUITE_INT_TO_BF16
