// What `suite profile` cannot see as memory accesses of the thread that issues them, marked by the
// wrappers of this folder: ldmatrix (one lane's 16-byte row, read on the host by the lane that
// completes the warp collective), mma (no memory at all), cp.async (observed by the runtime: tagged
// as one), and the special-function built-ins (one MUFU operation per thread on the GPU).
//
// Only in the host backend's profiled builds (SUITE_HOST_PROFILED, loaded by suite/profile/backend.py
// after it loaded the profiler's library globally); the hooks are weak symbols all the same.
#pragma once

#if defined(SUITE_HOST) && defined(SUITE_HOST_PROFILED)

extern "C" {
// One lane's part of a warp instruction at the caller's code address. space: 0 global, 1 shared,
// 2 none; kind: 0 load, 1 store; op: 1 ldmatrix, 3 mma, 4 special function.
void suite_profile_mark(const void* address, unsigned size, unsigned space, unsigned kind, unsigned op)
    __attribute__((weak));
// The calling thread's next `accesses` global/shared accesses are parts of instruction `op`.
void suite_profile_tag(unsigned op, unsigned accesses) __attribute__((weak));
}

#define SUITE_PROFILE_MARK(address, size, space, kind, op) \
    (::suite_profile_mark ? ::suite_profile_mark((address), (size), (space), (kind), (op)) : (void)0)
#define SUITE_PROFILE_TAG(op, accesses) (::suite_profile_tag ? ::suite_profile_tag((op), (accesses)) : (void)0)

// Function-like macros, so `using ::exp2f;` in a later <cmath> is untouched; the inner call is not
// expanded again.
#define SUITE_PROFILE_SFU(call) (SUITE_PROFILE_MARK(nullptr, 0, 2, 0, 4), ::call)
#define exp2f(x) SUITE_PROFILE_SFU(exp2f(x))
#define __expf(x) SUITE_PROFILE_SFU(__expf(x))
#define expf(x) SUITE_PROFILE_SFU(expf(x))
#define __log2f(x) SUITE_PROFILE_SFU(__log2f(x))
#define log2f(x) SUITE_PROFILE_SFU(log2f(x))
#define rsqrtf(x) SUITE_PROFILE_SFU(rsqrtf(x))
#define __sinf(x) SUITE_PROFILE_SFU(__sinf(x))
#define __cosf(x) SUITE_PROFILE_SFU(__cosf(x))

#else

#define SUITE_PROFILE_MARK(address, size, space, kind, op) ((void)0)
#define SUITE_PROFILE_TAG(op, accesses) ((void)0)

#endif
