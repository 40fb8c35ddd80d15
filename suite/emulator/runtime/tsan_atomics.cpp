// ThreadSanitizer's hooks for the read-modify-write atomics of checked builds (checks.cpp has the
// loads, stores and fences): g++ -fsanitize=thread turns every __atomic builtin in kernel code,
// such as libcu++'s cuda::atomic_ref and cuda::barrier, into these calls. Each tells the checks
// that the access is atomic (never a race with another atomic) and then does the operation.
#include <stdint.h>

extern "C" {

void suite_host_atomic_access(const void* address, unsigned size, const void* pc);

#define SUITE_HOST_TSAN_RMW(bits, op, builtin)                                                                   \
    uint##bits##_t __tsan_atomic##bits##_##op(volatile uint##bits##_t* a, uint##bits##_t v, int) {              \
        suite_host_atomic_access(const_cast<uint##bits##_t*>(a), bits / 8, __builtin_return_address(0));       \
        return builtin(a, v, __ATOMIC_SEQ_CST);                                                                  \
    }
#define SUITE_HOST_TSAN_ATOMICS(bits)                                                                            \
    SUITE_HOST_TSAN_RMW(bits, exchange, __atomic_exchange_n)                                                     \
    SUITE_HOST_TSAN_RMW(bits, fetch_add, __atomic_fetch_add)                                                     \
    SUITE_HOST_TSAN_RMW(bits, fetch_sub, __atomic_fetch_sub)                                                     \
    SUITE_HOST_TSAN_RMW(bits, fetch_and, __atomic_fetch_and)                                                     \
    SUITE_HOST_TSAN_RMW(bits, fetch_or, __atomic_fetch_or)                                                       \
    SUITE_HOST_TSAN_RMW(bits, fetch_xor, __atomic_fetch_xor)                                                     \
    SUITE_HOST_TSAN_RMW(bits, fetch_nand, __atomic_fetch_nand)                                                   \
    int __tsan_atomic##bits##_compare_exchange_strong(volatile uint##bits##_t* a, uint##bits##_t* expected,     \
                                                      uint##bits##_t v, int, int) {                              \
        suite_host_atomic_access(const_cast<uint##bits##_t*>(a), bits / 8, __builtin_return_address(0));       \
        return __atomic_compare_exchange_n(a, expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);           \
    }                                                                                                            \
    int __tsan_atomic##bits##_compare_exchange_weak(volatile uint##bits##_t* a, uint##bits##_t* expected,       \
                                                    uint##bits##_t v, int, int) {                                \
        suite_host_atomic_access(const_cast<uint##bits##_t*>(a), bits / 8, __builtin_return_address(0));       \
        return __atomic_compare_exchange_n(a, expected, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);            \
    }                                                                                                            \
    uint##bits##_t __tsan_atomic##bits##_compare_exchange_val(volatile uint##bits##_t* a, uint##bits##_t expected, \
                                                              uint##bits##_t v, int, int) {                      \
        suite_host_atomic_access(const_cast<uint##bits##_t*>(a), bits / 8, __builtin_return_address(0));       \
        __atomic_compare_exchange_n(a, &expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                 \
        return expected;                                                                                         \
    }
SUITE_HOST_TSAN_ATOMICS(8)
SUITE_HOST_TSAN_ATOMICS(16)
SUITE_HOST_TSAN_ATOMICS(32)
SUITE_HOST_TSAN_ATOMICS(64)
#undef SUITE_HOST_TSAN_ATOMICS
#undef SUITE_HOST_TSAN_RMW

}  // extern "C"
