// CUDA's SIMD intrinsics (__vadd2, __vcmpgtu4, __vsads2, ...; CUDA Math API, "SIMD Intrinsics"):
// a 32-bit word as two 16-bit or four 8-bit lanes. Each is written once, lane by lane, over the
// lane's exact integer value; `Lanes<W>` splits and joins the words.
#pragma once

#include <stdint.h>

namespace suite_host {

template <int W>  // lane width in bits: 16 or 8
struct Lanes {
    static constexpr int count = 32 / W;
    static constexpr unsigned mask = (1u << W) - 1;
    static constexpr int smax = (1 << (W - 1)) - 1, smin = -(1 << (W - 1));
    static unsigned u(unsigned word, int i) { return word >> (W * i) & mask; }
    static int s(unsigned word, int i) { const int v = int(u(word, i)); return v > smax ? v - (1 << W) : v; }
    template <typename F> static unsigned map(unsigned a, unsigned b, F f) {
        unsigned out = 0;
        for (int i = 0; i < count; ++i) out |= (unsigned(f(i, a, b)) & mask) << (W * i);
        return out;
    }
    static int clamp_s(int v) { return v < smin ? smin : v > smax ? smax : v; }
    static int clamp_u(int v) { return v < 0 ? 0 : v > int(mask) ? int(mask) : v; }
};

}  // namespace suite_host

#define __SUITE_SIMD(name2, name4, expr)                                                              \
    inline unsigned name2(unsigned a, unsigned b) {                                                   \
        using L = ::suite_host::Lanes<16>;                                                            \
        return L::map(a, b, [](int i, unsigned a, unsigned b) { (void)a; (void)b; return (expr); });   \
    }                                                                                                 \
    inline unsigned name4(unsigned a, unsigned b) {                                                   \
        using L = ::suite_host::Lanes<8>;                                                             \
        return L::map(a, b, [](int i, unsigned a, unsigned b) { (void)a; (void)b; return (expr); });   \
    }
#define __SUITE_SIMD1(name2, name4, expr)                                                             \
    __SUITE_SIMD(__suite_##name2##_binary, __suite_##name4##_binary, expr)                           \
    inline unsigned name2(unsigned a) { return __suite_##name2##_binary(a, 0); }                      \
    inline unsigned name4(unsigned a) { return __suite_##name4##_binary(a, 0); }

// In every expression: L::s(a, i) / L::u(a, i) is lane i of a, signed / unsigned.
__SUITE_SIMD(__vadd2, __vadd4, L::u(a, i) + L::u(b, i))
__SUITE_SIMD(__vsub2, __vsub4, L::u(a, i) - L::u(b, i))
__SUITE_SIMD(__vaddss2, __vaddss4, L::clamp_s(L::s(a, i) + L::s(b, i)))
__SUITE_SIMD(__vsubss2, __vsubss4, L::clamp_s(L::s(a, i) - L::s(b, i)))
__SUITE_SIMD(__vaddus2, __vaddus4, L::clamp_u(int(L::u(a, i) + L::u(b, i))))
__SUITE_SIMD(__vsubus2, __vsubus4, L::clamp_u(int(L::u(a, i)) - int(L::u(b, i))))
__SUITE_SIMD(__vabsdiffs2, __vabsdiffs4, L::s(a, i) > L::s(b, i) ? L::s(a, i) - L::s(b, i) : L::s(b, i) - L::s(a, i))
__SUITE_SIMD(__vabsdiffu2, __vabsdiffu4, L::u(a, i) > L::u(b, i) ? L::u(a, i) - L::u(b, i) : L::u(b, i) - L::u(a, i))
// Signed rounded average rounds half away from zero: (a + b + (a + b >= 0)) >> 1.
__SUITE_SIMD(__vavgs2, __vavgs4, (L::s(a, i) + L::s(b, i) + (L::s(a, i) + L::s(b, i) >= 0)) >> 1)
__SUITE_SIMD(__vavgu2, __vavgu4, (L::u(a, i) + L::u(b, i) + 1) >> 1)
__SUITE_SIMD(__vhaddu2, __vhaddu4, (L::u(a, i) + L::u(b, i)) >> 1)
__SUITE_SIMD(__vmaxs2, __vmaxs4, L::s(a, i) > L::s(b, i) ? L::s(a, i) : L::s(b, i))
__SUITE_SIMD(__vmaxu2, __vmaxu4, L::u(a, i) > L::u(b, i) ? L::u(a, i) : L::u(b, i))
__SUITE_SIMD(__vmins2, __vmins4, L::s(a, i) < L::s(b, i) ? L::s(a, i) : L::s(b, i))
__SUITE_SIMD(__vminu2, __vminu4, L::u(a, i) < L::u(b, i) ? L::u(a, i) : L::u(b, i))
// Comparisons: __vcmp* give all ones for true, __vset* give 1.
#define __SUITE_SIMD_COMPARE(op, sign, suffix2, suffix4)                                              \
    __SUITE_SIMD(__vcmp##suffix2, __vcmp##suffix4, L::sign(a, i) op L::sign(b, i) ? L::mask : 0u)     \
    __SUITE_SIMD(__vset##suffix2, __vset##suffix4, L::sign(a, i) op L::sign(b, i) ? 1u : 0u)
__SUITE_SIMD_COMPARE(==, u, eq2, eq4)
__SUITE_SIMD_COMPARE(!=, u, ne2, ne4)
__SUITE_SIMD_COMPARE(>=, s, ges2, ges4)
__SUITE_SIMD_COMPARE(>=, u, geu2, geu4)
__SUITE_SIMD_COMPARE(>, s, gts2, gts4)
__SUITE_SIMD_COMPARE(>, u, gtu2, gtu4)
__SUITE_SIMD_COMPARE(<=, s, les2, les4)
__SUITE_SIMD_COMPARE(<=, u, leu2, leu4)
__SUITE_SIMD_COMPARE(<, s, lts2, lts4)
__SUITE_SIMD_COMPARE(<, u, ltu2, ltu4)
#undef __SUITE_SIMD_COMPARE
__SUITE_SIMD1(__vabs2, __vabs4, L::s(a, i) < 0 ? -L::s(a, i) : L::s(a, i))
__SUITE_SIMD1(__vabsss2, __vabsss4, L::clamp_s(L::s(a, i) < 0 ? -L::s(a, i) : L::s(a, i)))
__SUITE_SIMD1(__vneg2, __vneg4, -L::s(a, i))
__SUITE_SIMD1(__vnegss2, __vnegss4, L::clamp_s(-L::s(a, i)))
#undef __SUITE_SIMD1
#undef __SUITE_SIMD

// Sums of absolute differences over the lanes (one integer, not lane by lane).
namespace suite_host {
template <int W, bool Signed>
inline unsigned sad(unsigned a, unsigned b) {
    using L = Lanes<W>;
    unsigned sum = 0;
    for (int i = 0; i < L::count; ++i) {
        const int x = Signed ? L::s(a, i) : int(L::u(a, i)), y = Signed ? L::s(b, i) : int(L::u(b, i));
        sum += unsigned(x > y ? x - y : y - x);
    }
    return sum;
}
}  // namespace suite_host
inline unsigned __vsads2(unsigned a, unsigned b) { return ::suite_host::sad<16, true>(a, b); }
inline unsigned __vsads4(unsigned a, unsigned b) { return ::suite_host::sad<8, true>(a, b); }
inline unsigned __vsadu2(unsigned a, unsigned b) { return ::suite_host::sad<16, false>(a, b); }
inline unsigned __vsadu4(unsigned a, unsigned b) { return ::suite_host::sad<8, false>(a, b); }
