// CUDA's float/double <-> integer conversion intrinsics as the GPU's cvt instructions compute
// them: the value is rounded as the suffix says (rn: to nearest even, rz: toward zero, ru: up,
// rd: down), then saturated to the integer type's range, and NaN converts to 0 (PTX ISA, cvt:
// "saturate to MININT/MAXINT, NaN results in 0"). The host's own instructions (cvttss2si) give
// INT_MIN for every out-of-range value instead. Plain C++ casts, `(int)x`, stay the host's: g++
// has no flag that makes its float-to-int conversion saturate, and rewriting every cast in a
// kernel's source needs a C++ parser; an out-of-range cast is undefined behaviour in C++ anyway.
#pragma once

#include <limits>
#include <math.h>

#include "rounding.h"

namespace suite_host {

enum class Round { Nearest, Zero, Up, Down };

template <typename F>
inline F round_integral(F x, Round mode) {
    switch (mode) {
        case Round::Nearest: return nearbyint(x);  // the default mode: ties to even
        case Round::Zero: return trunc(x);
        case Round::Up: return ceil(x);
        case Round::Down: return floor(x);
    }
    return x;
}

// x rounded to an integer of type I, saturated, NaN -> 0.
template <typename I, typename F>
inline I saturate(F x, Round mode) {
    if (x != x) return I(0);
    const F r = round_integral(x, mode);
    // F(max) rounds up to a power of two (or is max itself): r >= it is out of range or max.
    if (r >= F(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
    if (r <= F(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
    return I(r);
}

// An integer converted to F under a rounding mode (int64 -> float/double and int32 -> float can be inexact).
template <int Mode, typename F, typename I>
inline F int_to_float(I x) {
    return rounded<Mode>([](I v) { return F(v); }, x);
}

}  // namespace suite_host

#define __SUITE_F2I(name, F, I, mode) \
    inline I name(F x) { return ::suite_host::saturate<I>(x, ::suite_host::Round::mode); }
#define __SUITE_F2I_ALL(prefix, F, I)                                                          \
    __SUITE_F2I(prefix##_rn, F, I, Nearest) __SUITE_F2I(prefix##_rz, F, I, Zero)                \
    __SUITE_F2I(prefix##_ru, F, I, Up) __SUITE_F2I(prefix##_rd, F, I, Down)
__SUITE_F2I_ALL(__float2int, float, int)
__SUITE_F2I_ALL(__float2uint, float, unsigned)
__SUITE_F2I_ALL(__float2ll, float, long long)
__SUITE_F2I_ALL(__float2ull, float, unsigned long long)
__SUITE_F2I_ALL(__double2int, double, int)
__SUITE_F2I_ALL(__double2uint, double, unsigned)
__SUITE_F2I_ALL(__double2ll, double, long long)
__SUITE_F2I_ALL(__double2ull, double, unsigned long long)
#undef __SUITE_F2I_ALL
#undef __SUITE_F2I

#define __SUITE_I2F(name, I, F, mode) \
    inline F name(I x) { return ::suite_host::int_to_float<mode, F>(x); }
#define __SUITE_I2F_ALL(prefix, I, F)                                                          \
    __SUITE_I2F(prefix##_rn, I, F, FE_TONEAREST) __SUITE_I2F(prefix##_rz, I, F, FE_TOWARDZERO)  \
    __SUITE_I2F(prefix##_ru, I, F, FE_UPWARD) __SUITE_I2F(prefix##_rd, I, F, FE_DOWNWARD)
__SUITE_I2F_ALL(__int2float, int, float)
__SUITE_I2F_ALL(__uint2float, unsigned, float)
__SUITE_I2F_ALL(__ll2float, long long, float)
__SUITE_I2F_ALL(__ull2float, unsigned long long, float)
__SUITE_I2F_ALL(__ll2double, long long, double)
__SUITE_I2F_ALL(__ull2double, unsigned long long, double)
#undef __SUITE_I2F_ALL
#undef __SUITE_I2F
inline double __int2double_rn(int x) { return double(x); }
inline double __uint2double_rn(unsigned x) { return double(x); }

inline float __double2float_rn(double x) { return ::suite_host::rounded<FE_TONEAREST>([](double v) { return float(v); }, x); }
inline float __double2float_rz(double x) { return ::suite_host::rounded<FE_TOWARDZERO>([](double v) { return float(v); }, x); }
inline float __double2float_ru(double x) { return ::suite_host::rounded<FE_UPWARD>([](double v) { return float(v); }, x); }
inline float __double2float_rd(double x) { return ::suite_host::rounded<FE_DOWNWARD>([](double v) { return float(v); }, x); }
