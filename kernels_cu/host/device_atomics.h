// CUDA's atomics on the CPU. Blocks run in parallel on several OS threads, so every atomic is a
// real atomic read-modify-write (relaxed, as CUDA's are). Floating-point and 16-bit types use a
// compare-and-swap loop on the bits.
#pragma once

#include <stdint.h>
#include <string.h>

namespace suite_host {

template <int Size> struct BitsOf;
template <> struct BitsOf<2> { using type = uint16_t; };
template <> struct BitsOf<4> { using type = uint32_t; };
template <> struct BitsOf<8> { using type = uint64_t; };

// Replaces *address by update(old) atomically; returns old.
template <typename T, typename Update>
inline T atomic_update(T* address, Update update) {
    using Bits = typename BitsOf<sizeof(T)>::type;
    Bits* bits = reinterpret_cast<Bits*>(address);
    Bits expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
    for (;;) {
        T old;
        memcpy(&old, &expected, sizeof old);
        const T value = update(old);
        Bits desired;
        memcpy(&desired, &value, sizeof desired);
        if (__atomic_compare_exchange_n(bits, &expected, desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return old;
    }
}

}  // namespace suite_host

#define SUITE_HOST_ATOMIC_INTEGER(T)                                                                              \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }                         \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }                         \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }                           \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }                         \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }                       \
    inline T atomicMin(T* a, T v) { return ::suite_host::atomic_update(a, [v](T o) { return v < o ? v : o; }); } \
    inline T atomicMax(T* a, T v) { return ::suite_host::atomic_update(a, [v](T o) { return o < v ? v : o; }); } \
    inline T atomicCAS(T* a, T compare, T v) {                                                                    \
        __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                   \
        return compare;                                                                                           \
    }
SUITE_HOST_ATOMIC_INTEGER(int)
SUITE_HOST_ATOMIC_INTEGER(unsigned int)
SUITE_HOST_ATOMIC_INTEGER(unsigned long long)
SUITE_HOST_ATOMIC_INTEGER(long long)
#undef SUITE_HOST_ATOMIC_INTEGER

inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
inline unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short v) {
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
inline unsigned atomicInc(unsigned* a, unsigned limit) {
    return suite_host::atomic_update(a, [limit](unsigned o) { return o >= limit ? 0u : o + 1; });
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
    return suite_host::atomic_update(a, [limit](unsigned o) { return o == 0 || o > limit ? limit : o - 1; });
}
inline float atomicExch(float* a, float v) {
    return suite_host::atomic_update(a, [v](float) { return v; });
}

#define SUITE_HOST_ATOMIC_ADD(T) \
    inline T atomicAdd(T* a, T v) { return ::suite_host::atomic_update(a, [v](T o) { return T(o + v); }); }
SUITE_HOST_ATOMIC_ADD(float)
SUITE_HOST_ATOMIC_ADD(double)
SUITE_HOST_ATOMIC_ADD(__half)
SUITE_HOST_ATOMIC_ADD(__nv_bfloat16)
#undef SUITE_HOST_ATOMIC_ADD
inline __half2 atomicAdd(__half2* a, __half2 v) {
    return suite_host::atomic_update(a, [v](__half2 o) { return __hadd2(o, v); });
}
inline __nv_bfloat162 atomicAdd(__nv_bfloat162* a, __nv_bfloat162 v) {
    return suite_host::atomic_update(a, [v](__nv_bfloat162 o) { return __hadd2(o, v); });
}

// Block- and system-scoped variants: every atomic here is already system-wide.
#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd
#define atomicSub_block atomicSub
#define atomicSub_system atomicSub
#define atomicExch_block atomicExch
#define atomicExch_system atomicExch
#define atomicMin_block atomicMin
#define atomicMin_system atomicMin
#define atomicMax_block atomicMax
#define atomicMax_system atomicMax
#define atomicCAS_block atomicCAS
#define atomicCAS_system atomicCAS
#define atomicAnd_block atomicAnd
#define atomicAnd_system atomicAnd
#define atomicOr_block atomicOr
#define atomicOr_system atomicOr
#define atomicXor_block atomicXor
#define atomicXor_system atomicXor
#define atomicInc_block atomicInc
#define atomicInc_system atomicInc
#define atomicDec_block atomicDec
#define atomicDec_system atomicDec
