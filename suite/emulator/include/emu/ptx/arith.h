// Arithmetic of translated inline PTX: rounding modes (.rn .rz .rm .rp) from the exact residual of
// each operation (an error-free transformation: the round-to-nearest result is moved one ulp
// toward the exact value when the mode asks), .ftz, .sat, 16-bit floats computed in double (exact
// for one f16/bf16 sum or product) and rounded once, integer forms (.lo/.hi/.wide, .sat).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

enum __suite_ptx_rnd { __SUITE_RN = 0, __SUITE_RZ = 1, __SUITE_RM = 2, __SUITE_RP = 3 };

// A value the optimiser must materialise: keeps g++ from contracting a separate PTX mul and add
// into an fma (contraction is the user's C++ choice, never a PTX instruction's).
template <typename T>
__forceinline__ T __suite_ptx_opaque(T v) {
    asm("" : "+x"(v));
    return v;
}

template <typename T>
__forceinline__ bool __suite_ptx_unordered(T a, T b) {
    if constexpr (std::is_floating_point<T>::value) return std::isnan(a) || std::isnan(b);
    else return false;
}

// Moves the round-to-nearest result `r` of an operation to the result of `mode`, given the sign of
// (exact - r): -1, 0 or +1.
template <typename T>
__forceinline__ T __suite_ptx_directed(T r, int residual, int mode) {
    if (residual == 0 || mode == __SUITE_RN || std::isnan(r)) return r;
    const T inf = std::numeric_limits<T>::infinity();
    switch (mode) {
        case __SUITE_RZ: return (residual < 0) == (r > 0) ? std::nextafter(r, T(0)) : r;
        case __SUITE_RM: return residual < 0 ? std::nextafter(r, -inf) : r;
        default: return residual > 0 ? std::nextafter(r, inf) : r;
    }
}

template <typename T>
__forceinline__ int __suite_ptx_sign(T v) { return (v > 0) - (v < 0); }

// Overflow to infinity under RZ/RM/RP: the largest finite value where the mode rounds toward it.
template <typename T>
__forceinline__ T __suite_ptx_overflow(T r, int mode) {
    if (!std::isinf(r) || mode == __SUITE_RN) return r;
    const bool toward = mode == __SUITE_RZ || (mode == __SUITE_RM && r > 0) || (mode == __SUITE_RP && r < 0);
    return toward ? std::copysign(std::numeric_limits<T>::max(), r) : r;
}

template <typename T>
__forceinline__ T __suite_ptx_add(T a, T b, int mode) {
    const T s = __suite_ptx_opaque(a + b);
    if (mode == __SUITE_RN) return s;
    if (std::isinf(s)) return std::isinf(a) || std::isinf(b) ? s : __suite_ptx_overflow(s, mode);
    const T bb = s - a, err = (a - (s - bb)) + (b - bb);  // TwoSum: s + err == a + b exactly
    return __suite_ptx_directed(s, __suite_ptx_sign(err), mode);
}
template <typename T>
__forceinline__ T __suite_ptx_sub(T a, T b, int mode) { return __suite_ptx_add(a, T(-b), mode); }

template <typename T>
__forceinline__ T __suite_ptx_mul(T a, T b, int mode) {
    const T p = __suite_ptx_opaque(a * b);
    if (mode == __SUITE_RN) return p;
    if (std::isinf(p)) return std::isinf(a) || std::isinf(b) ? p : __suite_ptx_overflow(p, mode);
    return __suite_ptx_directed(p, __suite_ptx_sign(std::fma(a, b, -p)), mode);
}

template <typename T>
__forceinline__ T __suite_ptx_fma(T a, T b, T c, int mode) {
    const T r = std::fma(a, b, c);
    if (mode == __SUITE_RN) return r;
    static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "fma type");
    if constexpr (std::is_same<T, float>::value) {
        const double p = double(a) * double(b), s = p + double(c);  // p exact
        const double bb = s - p, err = (p - (s - bb)) + (double(c) - bb);
        if (std::isinf(r)) return std::isinf(s) && !std::isinf(a) && !std::isinf(b) && !std::isinf(c) ? __suite_ptx_overflow(r, mode) : r;
        const double residual = (s - double(r)) + err;
        return __suite_ptx_directed(r, __suite_ptx_sign(residual), mode);
    } else {
        // The exact residual of a double fma needs wider arithmetic: __float128 holds a*b exactly.
        const __float128 exact = __float128(a) * __float128(b) + __float128(c);
        if (std::isinf(r)) return __suite_ptx_overflow(r, mode);
        return __suite_ptx_directed(r, exact > __float128(r) ? 1 : exact < __float128(r) ? -1 : 0, mode);
    }
}

template <typename T>
__forceinline__ T __suite_ptx_div(T a, T b, int mode) {
    const T q = a / b;
    if (mode == __SUITE_RN || !std::isfinite(q) || q == 0) return mode == __SUITE_RN ? q : __suite_ptx_overflow(q, mode);
    const T r = std::fma(-q, b, a);  // exact: a - q b
    return __suite_ptx_directed(q, __suite_ptx_sign(r) * __suite_ptx_sign(b), mode);
}
template <typename T>
__forceinline__ T __suite_ptx_rcp(T a, int mode) { return __suite_ptx_div(T(1), a, mode); }

template <typename T>
__forceinline__ T __suite_ptx_sqrt(T a, int mode) {
    const T s = std::sqrt(a);
    if (mode == __SUITE_RN || !std::isfinite(s) || s == 0) return s;
    return __suite_ptx_directed(s, __suite_ptx_sign(std::fma(-s, s, a)), mode);
}

// .ftz: subnormal inputs and results of f32 instructions become zero of the same sign.
__forceinline__ float __suite_ptx_ftz(float v) {
    return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v;
}
template <typename T>
__forceinline__ T __suite_ptx_ftz(T v) { return v; }
// .sat on floats: clamp to [0, 1], NaN -> 0.
template <typename T>
__forceinline__ T __suite_ptx_satf(T v) { return std::isnan(v) ? T(0) : v < T(0) ? T(0) : v > T(1) ? T(1) : v; }

template <typename T>
__forceinline__ T __suite_ptx_min(T a, T b, bool nan) {
    if constexpr (std::is_floating_point<T>::value) {
        if (std::isnan(a) || std::isnan(b)) return nan || (std::isnan(a) && std::isnan(b)) ? std::numeric_limits<T>::quiet_NaN() : std::isnan(a) ? b : a;
        if (a == b) return std::signbit(a) ? a : b;  // -0 < +0
    }
    return a < b ? a : b;
}
template <typename T>
__forceinline__ T __suite_ptx_max(T a, T b, bool nan) {
    if constexpr (std::is_floating_point<T>::value) {
        if (std::isnan(a) || std::isnan(b)) return nan || (std::isnan(a) && std::isnan(b)) ? std::numeric_limits<T>::quiet_NaN() : std::isnan(a) ? b : a;
        if (a == b) return std::signbit(a) ? b : a;
    }
    return a > b ? a : b;
}

// ---- 16-bit floats: bits <-> float, rounded to nearest even ----------------------------------------

__forceinline__ float __suite_ptx_h2f(uint16_t bits) {
    __half_raw r;
    r.x = bits;
    return __half2float(__half(r));
}
__forceinline__ float __suite_ptx_bf2f(uint16_t bits) {
    const uint32_t w = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
}
__forceinline__ uint16_t __suite_ptx_d2h(double v) { return __half_raw(__double2half(v)).x; }
__forceinline__ uint16_t __suite_ptx_d2bf(double v) { return __nv_bfloat16_raw(__double2bfloat16(v)).x; }
__forceinline__ uint16_t __suite_ptx_f2h(float v) { return __half_raw(__float2half_rn(v)).x; }
__forceinline__ uint16_t __suite_ptx_f2bf(float v) { return __nv_bfloat16_raw(__float2bfloat16_rn(v)).x; }

// A packed pair op: the low halves and the high halves of a and b through f, each rounded once.
template <bool Bf16, typename F>
__forceinline__ uint32_t __suite_ptx_x2(uint32_t a, uint32_t b, uint32_t c, F f) {
    auto dec = [](uint32_t r, int h) { const uint16_t x = uint16_t(h ? r >> 16 : r); return double(Bf16 ? __suite_ptx_bf2f(x) : __suite_ptx_h2f(x)); };
    auto enc = [](double v) { return uint32_t(Bf16 ? __suite_ptx_d2bf(v) : __suite_ptx_d2h(v)); };
    return enc(f(dec(a, 0), dec(b, 0), dec(c, 0))) | enc(f(dec(a, 1), dec(b, 1), dec(c, 1))) << 16;
}
// One 16-bit value op, in double, rounded once.
template <bool Bf16, typename F>
__forceinline__ uint16_t __suite_ptx_x1(uint16_t a, uint16_t b, uint16_t c, F f) {
    auto dec = [](uint16_t x) { return double(Bf16 ? __suite_ptx_bf2f(x) : __suite_ptx_h2f(x)); };
    const double v = f(dec(a), dec(b), dec(c));
    return Bf16 ? __suite_ptx_d2bf(v) : __suite_ptx_d2h(v);
}

// ---- integers ----------------------------------------------------------------------------------------

template <typename T>
__forceinline__ T __suite_ptx_shl(T a, uint32_t n) { return n >= sizeof(T) * 8 ? T(0) : T(a << n); }
template <typename T>
__forceinline__ T __suite_ptx_shr(T a, uint32_t n) {
    if (n >= sizeof(T) * 8) return std::is_signed<T>::value && a < 0 ? T(-1) : T(0);
    return T(a >> n);
}
template <typename T>
__forceinline__ uint32_t __suite_ptx_popc(T a) { return uint32_t(__builtin_popcountll(uint64_t(a))); }
template <typename T>
__forceinline__ uint32_t __suite_ptx_clz(T a) {
    return a == 0 ? uint32_t(sizeof(T) * 8) : uint32_t(__builtin_clzll(uint64_t(a)) - (64 - sizeof(T) * 8));
}
template <typename T>
__forceinline__ T __suite_ptx_brev(T a) {
    T r = 0;
    for (unsigned i = 0; i < sizeof(T) * 8; ++i) r |= T((a >> i) & 1) << (sizeof(T) * 8 - 1 - i);
    return r;
}
// bfe and bfi as the PTX ISA defines them (pos and len are taken mod 256).
template <typename T>
__forceinline__ T __suite_ptx_bfe(T a, uint32_t pos, uint32_t len) {
    using U = std::make_unsigned_t<T>;
    constexpr unsigned msb = sizeof(T) * 8 - 1;
    pos &= 0xff, len &= 0xff;
    const U bits = U(a);
    const U sbit = (!std::is_signed<T>::value || len == 0) ? 0 : (bits >> (pos + len - 1 < msb ? pos + len - 1 : msb)) & 1;
    U d = 0;
    for (unsigned i = 0; i <= msb; ++i) d |= U((i < len && pos + i <= msb) ? (bits >> (pos + i)) & 1 : sbit) << i;
    return T(d);
}
template <typename T>
__forceinline__ T __suite_ptx_bfi(T a, T b, uint32_t pos, uint32_t len) {
    constexpr unsigned bits = sizeof(T) * 8;
    pos &= 0xff, len &= 0xff;
    T f = b;
    for (unsigned i = 0; i < len && pos + i < bits; ++i) f = T((f & ~(T(1) << (pos + i))) | (((a >> i) & 1) << (pos + i)));
    return f;
}
__forceinline__ uint32_t __suite_ptx_shf(uint32_t a, uint32_t b, uint32_t n, bool left, bool wrap) {
    n = wrap ? n & 31 : (n > 32 ? 32 : n);
    const uint64_t v = uint64_t(b) << 32 | a;
    return left ? uint32_t((v << n) >> 32) : uint32_t(v >> n);
}
__forceinline__ uint32_t __suite_ptx_lop3(uint32_t a, uint32_t b, uint32_t c, uint32_t lut) {
    uint32_t r = 0;
    for (int i = 0; i < 8; ++i)
        if (lut >> i & 1) r |= ((i & 4) ? a : ~a) & ((i & 2) ? b : ~b) & ((i & 1) ? c : ~c);
    return r;
}
// prmt: bytes of {b, a} (a bytes 0-3, b bytes 4-7) chosen by the selectors in c (PTX ISA, prmt).
__forceinline__ uint32_t __suite_ptx_prmt(uint32_t a, uint32_t b, uint32_t c, const char* mode) {
    const uint64_t x = uint64_t(b) << 32 | a;
    auto byte = [&](unsigned i) { return uint32_t(x >> (8 * (i & 7)) & 0xff); };
    auto sext = [&](unsigned i) { return (byte(i) & 0x80) ? 0xffu : 0u; };
    uint32_t r = 0;
    if (!mode[0]) {
        for (int k = 0; k < 4; ++k) {
            const unsigned s = c >> (4 * k) & 0xf;
            r |= ((s & 8) ? sext(s) : byte(s)) << (8 * k);
        }
        return r;
    }
    const unsigned s = c & 3;
    const char m = mode[0] == 'r' ? (mode[2] == '8' ? '8' : '6') : mode[0] == 'e' ? (mode[2] == 'l' ? 'l' : 'r') : mode[0];
    unsigned sel[4];
    switch (m) {
        case 'f': for (int k = 0; k < 4; ++k) sel[k] = (s + k) & 7; break;  // f4e: forward 4 extract
        case 'b': for (int k = 0; k < 4; ++k) sel[k] = (s - k) & 7; break;  // b4e: backward 4 extract
        case '8': for (int k = 0; k < 4; ++k) sel[k] = s; break;  // rc8: replicate byte
        case '6': for (int k = 0; k < 4; ++k) sel[k] = 2 * (s & 1) + (k & 1); break;  // rc16: replicate half
        case 'l': for (int k = 0; k < 4; ++k) sel[k] = unsigned(k) < s ? s : k; break;  // ecl: edge clamp left
        default: for (int k = 0; k < 4; ++k) sel[k] = unsigned(k) > s ? s : k; break;  // ecr: edge clamp right
    }
    for (int k = 0; k < 4; ++k) r |= byte(sel[k]) << (8 * k);
    return r;
}

// Integer add/sub with .sat (s32 only in PTX): clamp instead of wrapping.
__forceinline__ int32_t __suite_ptx_sat32(int64_t v) {
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : int32_t(v);
}
template <typename T>
__forceinline__ T __suite_ptx_mulhi(T a, T b) {
    if constexpr (sizeof(T) == 8) {
        using W = std::conditional_t<std::is_signed<T>::value, __int128, unsigned __int128>;
        return T((W(a) * W(b)) >> 64);
    } else {
        using W = std::conditional_t<std::is_signed<T>::value, int64_t, uint64_t>;
        return T((W(a) * W(b)) >> (8 * sizeof(T)));
    }
}
