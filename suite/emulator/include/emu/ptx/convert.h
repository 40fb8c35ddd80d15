// cvt and the packed conversions of translated inline PTX: every rounding mode, .sat/.satfinite,
// 16-bit floats, tf32 and the fp8 formats (e4m3: bias 7, no infinities, max 448; e5m2: bias 15, max
// 57344), each conversion rounded once from the exact source value.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "arith.h"

// ---- fp8 ---------------------------------------------------------------------------------------------

template <int MantBits, int Bias, bool E4M3>
__forceinline__ float __suite_ptx_fp8_to_f(uint8_t b) {
    const int e = (b & 0x7f) >> MantBits, m = b & ((1 << MantBits) - 1);
    const float sign = (b & 0x80) ? -1.0f : 1.0f;
    if (E4M3 ? (b & 0x7f) == 0x7f : e == (1 << (7 - MantBits)) - 1)
        return E4M3 || m ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
    if (e == 0) return sign * std::ldexp(float(m), 1 - Bias - MantBits);
    return sign * std::ldexp(float((1 << MantBits) + m), e - Bias - MantBits);
}
__forceinline__ float __suite_ptx_e4m3_to_f(uint8_t b) { return __suite_ptx_fp8_to_f<3, 7, true>(b); }
__forceinline__ float __suite_ptx_e5m2_to_f(uint8_t b) { return __suite_ptx_fp8_to_f<2, 15, false>(b); }

// Round to nearest even, .satfinite: beyond the largest finite value (infinities too) -> it; NaN -> NaN.
template <int MantBits, int Bias, int MaxCode>
__forceinline__ uint8_t __suite_ptx_f_to_fp8(double v) {
    if (std::isnan(v)) return 0x7f;
    const uint8_t sign = std::signbit(v) ? 0x80 : 0;
    const double a = std::fabs(v);
    const int min_exp = 1 - Bias;
    int code;
    if (std::isinf(a)) {
        code = MaxCode;
    } else if (a < std::ldexp(1.0, min_exp)) {
        code = int(std::nearbyint(std::ldexp(a, -(min_exp - MantBits))));
    } else {
        int e;
        const double frac = std::frexp(a, &e);  // a = frac 2^e, frac in [0.5, 1)
        const double scaled = std::ldexp(frac, MantBits + 1);  // in [2^m, 2^(m+1))
        const int q = int(std::nearbyint(scaled));
        code = e > 64 ? MaxCode + 1 : ((e - 1 + Bias) << MantBits) + (q - (1 << MantBits));
    }
    return uint8_t(sign | (code > MaxCode ? MaxCode : code));
}
__forceinline__ uint8_t __suite_ptx_f_to_e4m3(double v) { return __suite_ptx_f_to_fp8<3, 7, 0x7e>(v); }
__forceinline__ uint8_t __suite_ptx_f_to_e5m2(double v) { return __suite_ptx_f_to_fp8<2, 15, 0x7b>(v); }

// ---- 16-bit floats with a rounding mode ------------------------------------------------------------------

// The next 16-bit float code above (up) or below a code, in value order.
__forceinline__ uint16_t __suite_ptx_half_step(uint16_t code, bool up) {
    const bool negative = code & 0x8000;
    if ((code & 0x7fff) == 0) return up ? 0x0001 : 0x8001;
    return negative == up ? uint16_t(code - 1) : uint16_t(code + 1);
}

template <bool Bf16>
__forceinline__ uint16_t __suite_ptx_to_half(double v, int mode, bool satfinite = false) {
    uint16_t r = Bf16 ? __suite_ptx_d2bf(v) : __suite_ptx_d2h(v);
    if (std::isnan(v)) return r;
    const double dv = Bf16 ? __suite_ptx_bf2f(r) : __suite_ptx_h2f(r);
    const int residual = (v > dv) - (v < dv);
    if (residual != 0 && mode != __SUITE_RN) {
        const bool toward = mode == __SUITE_RZ ? (residual < 0) == (dv > 0) : mode == __SUITE_RM ? residual < 0 : residual > 0;
        if (toward) r = __suite_ptx_half_step(r, residual > 0);
    }
    if (satfinite && (r & 0x7fff) == (Bf16 ? 0x7f80 : 0x7c00)) r = uint16_t((r & 0x8000) | (Bf16 ? 0x7f7f : 0x7bff));
    return r;
}

// ---- cvt ---------------------------------------------------------------------------------------------------

// To f32 or f64 from a value exact in long double (every PTX integer and float type), rounded once.
template <typename T>
__forceinline__ T __suite_ptx_to_float(long double v, int mode) {
    const T r = T(v);
    if (std::isnan(v) || mode == __SUITE_RN) return r;
    const long double back = r;
    return __suite_ptx_directed(r, (v > back) - (v < back), mode);
}

// rni, rzi, rmi, rpi: to an integral value (mode as __SUITE_RN/RZ/RM/RP).
template <typename T>
__forceinline__ T __suite_ptx_round_integral(T v, int mode) {
    switch (mode) {
        case __SUITE_RZ: return std::trunc(v);
        case __SUITE_RM: return std::floor(v);
        case __SUITE_RP: return std::ceil(v);
        default: return std::nearbyint(v);
    }
}

// Float to integer: rounded, clamped to the type's range (PTX saturates these always), NaN -> 0.
template <typename D>
__forceinline__ D __suite_ptx_f2i(long double v, int mode) {
    if (std::isnan(v)) return D(0);
    const long double r = __suite_ptx_round_integral(v, mode);
    if (r <= (long double)std::numeric_limits<D>::min()) return std::numeric_limits<D>::min();
    if (r >= (long double)std::numeric_limits<D>::max()) return std::numeric_limits<D>::max();
    return D(r);
}

// Integer to integer: truncated or sign/zero-extended; .sat clamps to the destination's range.
template <typename D, typename S>
__forceinline__ D __suite_ptx_i2i(S v, bool sat) {
    if (!sat) return D(v);
    const __int128 w = v, lo = std::numeric_limits<D>::min(), hi = std::numeric_limits<D>::max();
    return D(w < lo ? lo : w > hi ? hi : w);
}

// tf32 from f32, .rna: to nearest, ties away from zero, in the 19 bits a tensor core reads.
__forceinline__ uint32_t __suite_ptx_f2tf32_rna(float v) {
    const uint32_t bits = __suite_ptx_get<uint32_t>(v);
    if (!std::isfinite(v)) return bits & 0xffffe000u;
    return (bits + 0x1000u) & 0xffffe000u;
}
