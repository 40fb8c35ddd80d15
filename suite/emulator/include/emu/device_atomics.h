// CUDA's atomics on the CPU. Blocks run in parallel on several OS threads, so every atomic is a
// real atomic read-modify-write (relaxed, as CUDA's are). Floating-point and 16-bit types use a
// compare-and-swap loop on the bits.
#pragma once

#include <stdint.h>
#include <string.h>

// Checked builds (-DSUITE_HOST_CHECKED, every access instrumented): an atomic tells the checks
// it is one, with its caller's code address, and its own accesses are not instrumented (they
// would count as plain loads and stores). noinline keeps that caller address the kernel's.
#ifdef SUITE_HOST_CHECKED
#define SUITE_HOST_ATOMIC inline __attribute__((no_sanitize_thread, noinline))
#define SUITE_HOST_ATOMIC_NOTE(a) suite_host_atomic_access((a), sizeof(*(a)), __builtin_return_address(0))
extern "C" void suite_host_atomic_access(const void* address, unsigned size, const void* pc);
#else
#define SUITE_HOST_ATOMIC inline
#define SUITE_HOST_ATOMIC_NOTE(a) ((void)0)
#endif

namespace suite_host {

template <int Size> struct BitsOf;
template <> struct BitsOf<2> { using type = uint16_t; };
template <> struct BitsOf<4> { using type = uint32_t; };
template <> struct BitsOf<8> { using type = uint64_t; };

// Replaces *address by update(old) atomically; returns old.
template <typename T, typename Update>
inline __attribute__((always_inline)) T atomic_update(T* address, Update update) {
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
    SUITE_HOST_ATOMIC T atomicAdd(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }                         \
    SUITE_HOST_ATOMIC T atomicAnd(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }                         \
    SUITE_HOST_ATOMIC T atomicOr(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }                           \
    SUITE_HOST_ATOMIC T atomicXor(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }                         \
    SUITE_HOST_ATOMIC T atomicExch(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }                       \
    SUITE_HOST_ATOMIC T atomicMin(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return ::suite_host::atomic_update(a, [v](T o) { return v < o ? v : o; }); } \
    SUITE_HOST_ATOMIC T atomicMax(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return ::suite_host::atomic_update(a, [v](T o) { return o < v ? v : o; }); } \
    SUITE_HOST_ATOMIC T atomicCAS(T* a, T compare, T v) { SUITE_HOST_ATOMIC_NOTE(a);                                                                    \
        __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                   \
        return compare;                                                                                           \
    }
SUITE_HOST_ATOMIC_INTEGER(int)
SUITE_HOST_ATOMIC_INTEGER(unsigned int)
SUITE_HOST_ATOMIC_INTEGER(unsigned long long)
SUITE_HOST_ATOMIC_INTEGER(long long)
#undef SUITE_HOST_ATOMIC_INTEGER

SUITE_HOST_ATOMIC int atomicSub(int* a, int v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
SUITE_HOST_ATOMIC unsigned atomicSub(unsigned* a, unsigned v) { SUITE_HOST_ATOMIC_NOTE(a); return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
SUITE_HOST_ATOMIC unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short v) {
    SUITE_HOST_ATOMIC_NOTE(a);
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;
}
SUITE_HOST_ATOMIC unsigned atomicInc(unsigned* a, unsigned limit) { SUITE_HOST_ATOMIC_NOTE(a);
    return suite_host::atomic_update(a, [limit](unsigned o) { return o >= limit ? 0u : o + 1; });
}
SUITE_HOST_ATOMIC unsigned atomicDec(unsigned* a, unsigned limit) { SUITE_HOST_ATOMIC_NOTE(a);
    return suite_host::atomic_update(a, [limit](unsigned o) { return o == 0 || o > limit ? limit : o - 1; });
}
SUITE_HOST_ATOMIC float atomicExch(float* a, float v) { SUITE_HOST_ATOMIC_NOTE(a);
    return suite_host::atomic_update(a, [v](float) { return v; });
}

#define SUITE_HOST_ATOMIC_ADD(T) \
    SUITE_HOST_ATOMIC T atomicAdd(T* a, T v) { SUITE_HOST_ATOMIC_NOTE(a); return ::suite_host::atomic_update(a, [v](T o) { return T(o + v); }); }
SUITE_HOST_ATOMIC_ADD(float)
SUITE_HOST_ATOMIC_ADD(double)
SUITE_HOST_ATOMIC_ADD(__half)
SUITE_HOST_ATOMIC_ADD(__nv_bfloat16)
#undef SUITE_HOST_ATOMIC_ADD
SUITE_HOST_ATOMIC __half2 atomicAdd(__half2* a, __half2 v) { SUITE_HOST_ATOMIC_NOTE(a);
    return suite_host::atomic_update(a, [v](__half2 o) { return __hadd2(o, v); });
}
SUITE_HOST_ATOMIC __nv_bfloat162 atomicAdd(__nv_bfloat162* a, __nv_bfloat162 v) { SUITE_HOST_ATOMIC_NOTE(a);
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
