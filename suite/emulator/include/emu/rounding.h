// CUDA's IEEE intrinsics with an explicit rounding mode (__fadd_rz, __fmul_ru, __fdiv_rd,
// __fsqrt_rn, __fma_rz, ...). Each runs under that rounding mode of the host FPU (fesetround):
// x86-64 and AArch64 round every IEEE operation as the mode says, as the GPU's .rz/.ru/.rd do.
// An empty asm statement pins the operands and the result (`pin`), so the compiler neither folds
// the operation at compile time under the default mode nor moves it out of the mode switch, and
// never contracts an _rn multiply or add into a fused multiply-add (CUDA: "never merged into an
// FMA"), whatever -ffp-contract says.
#pragma once

#include <fenv.h>
#include <math.h>

namespace suite_host {

template <typename T>
inline __attribute__((always_inline)) void pin(T& value) {
#if defined(__x86_64__)
    asm volatile("" : "+x"(value));
#elif defined(__aarch64__)
    asm volatile("" : "+w"(value));
#else
    asm volatile("" : "+m"(value));
#endif
}

template <int Mode, typename Op, typename... T>
inline __attribute__((always_inline)) auto rounded(Op op, T... x) {
    if constexpr (Mode == FE_TONEAREST) {
        (pin(x), ...);
        auto r = op(x...);
        pin(r);
        return r;
    } else {
        const int old = fegetround();
        fesetround(Mode);
        (pin(x), ...);
        auto r = op(x...);
        pin(r);
        fesetround(old);
        return r;
    }
}

}  // namespace suite_host

#define __SUITE_ROUNDED_2(name, T, mode, expr)                                                  \
    inline T name(T x, T y) { return ::suite_host::rounded<mode>([](T a, T b) { return expr; }, x, y); }
#define __SUITE_ROUNDED_1(name, T, mode, expr)                                                  \
    inline T name(T x) { return ::suite_host::rounded<mode>([](T a) { return expr; }, x); }
#define __SUITE_ROUNDED_3(name, T, mode, expr)                                                  \
    inline T name(T x, T y, T z) { return ::suite_host::rounded<mode>([](T a, T b, T c) { return expr; }, x, y, z); }
// One operation in the four modes: name_rn, name_rz, name_ru, name_rd.
#define __SUITE_ROUNDED_ALL(arity, name, T, expr)                                               \
    __SUITE_ROUNDED_##arity(name##_rn, T, FE_TONEAREST, expr)                                   \
    __SUITE_ROUNDED_##arity(name##_rz, T, FE_TOWARDZERO, expr)                                  \
    __SUITE_ROUNDED_##arity(name##_ru, T, FE_UPWARD, expr)                                      \
    __SUITE_ROUNDED_##arity(name##_rd, T, FE_DOWNWARD, expr)

__SUITE_ROUNDED_ALL(2, __fadd, float, a + b)
__SUITE_ROUNDED_ALL(2, __fsub, float, a - b)
__SUITE_ROUNDED_ALL(2, __fmul, float, a * b)
__SUITE_ROUNDED_ALL(2, __fdiv, float, a / b)
__SUITE_ROUNDED_ALL(1, __frcp, float, 1.0f / a)
__SUITE_ROUNDED_ALL(1, __fsqrt, float, sqrtf(a))
__SUITE_ROUNDED_ALL(3, __fmaf, float, fmaf(a, b, c))
__SUITE_ROUNDED_ALL(3, __fmaf_ieee, float, fmaf(a, b, c))
__SUITE_ROUNDED_ALL(2, __dadd, double, a + b)
__SUITE_ROUNDED_ALL(2, __dsub, double, a - b)
__SUITE_ROUNDED_ALL(2, __dmul, double, a * b)
__SUITE_ROUNDED_ALL(2, __ddiv, double, a / b)
__SUITE_ROUNDED_ALL(1, __drcp, double, 1.0 / a)
__SUITE_ROUNDED_ALL(1, __dsqrt, double, sqrt(a))
__SUITE_ROUNDED_ALL(3, __fma, double, fma(a, b, c))
// 1/sqrt(x) rounded once to float: the double quotient is within 2^-52 of the exact value, so its
// rounding to float is the correctly rounded result unless that value lies that close to a tie.
inline float __frsqrt_rn(float x) {
    return ::suite_host::rounded<FE_TONEAREST>([](double a) { return float(1.0 / sqrt(a)); }, double(x));
}

#undef __SUITE_ROUNDED_ALL
#undef __SUITE_ROUNDED_1
#undef __SUITE_ROUNDED_2
#undef __SUITE_ROUNDED_3
