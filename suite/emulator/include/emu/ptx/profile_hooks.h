// What `suite profile` cannot see as memory accesses of the thread that issues them, marked by the
// emulated instructions: ldmatrix (one lane's 16-byte row, read on the host by the lane that
// completes the warp collective), mma (no memory at all), cp.async (observed by the runtime: tagged
// as one), and the special-function instructions (one MUFU operation per thread on the GPU).
//
// Only in the host backend's profiled builds (SUITE_HOST_PROFILED, loaded by suite/profile/backend.py
// after it loaded the profiler's library globally); the hooks are weak symbols all the same.
#pragma once

#if defined(SUITE_HOST_PROFILED)

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

#else

#define SUITE_PROFILE_MARK(address, size, space, kind, op) ((void)0)
#define SUITE_PROFILE_TAG(op, accesses) ((void)0)

#endif

// For translated PTX, which is compiled after preprocessing: a special-function instruction.
__forceinline__ void __suite_ptx_mark_sfu() { SUITE_PROFILE_MARK(nullptr, 0, 2, 0, 4); }
