// Thread identity, block barriers, fences, traps: the built-ins that involve the block.
#pragma once

#include <chrono>

#include "runtime_api.h"
#include "lanes.h"

#define SUITE_HOST_SITE (::suite_host_site{__FILE__, __LINE__})

namespace suite_host {
inline uint3 as_uint3(const unsigned v[3]) { return make_uint3(v[0], v[1], v[2]); }
inline dim3 as_dim3(const unsigned v[3]) { return dim3(v[0], v[1], v[2]); }
}  // namespace suite_host

#define threadIdx (::suite_host::as_uint3(::suite_host::lanes::self()->thread_idx))
#define blockIdx (::suite_host::as_uint3(::suite_host::lanes::self()->block_idx))
#define blockDim (::suite_host::as_dim3(::suite_host::lanes::self()->block_dim))
#define gridDim (::suite_host::as_dim3(::suite_host::lanes::self()->grid_dim))
constexpr int warpSize = 32;

// Barrier 0 over the whole block (bar.sync 0), counted by arrivals as on sm_70+.
#define __syncthreads() ((void)suite_host_barrier(SUITE_HOST_SITE, 0, 0, -1, 0))
#define __syncthreads_count(predicate) suite_host_barrier(SUITE_HOST_SITE, 0, 0, 0, (predicate) != 0)
#define __syncthreads_and(predicate) suite_host_barrier(SUITE_HOST_SITE, 0, 0, 1, (predicate) != 0)
#define __syncthreads_or(predicate) suite_host_barrier(SUITE_HOST_SITE, 0, 0, 2, (predicate) != 0)

// Blocks of one launch run in parallel on several OS threads: fences are real fences.
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#define __trap() suite_host_trap(SUITE_HOST_SITE, "__trap() called")
#define __brkpt() suite_host_trap(SUITE_HOST_SITE, "__brkpt() called")
// A thread that sleeps waits for others (a back-off in a spin loop): they run meanwhile.
inline void __nanosleep(unsigned) { suite_host_yield(SUITE_HOST_SITE); }
inline long long clock64() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A failed assert() in a kernel is a fault of the launch, as on the GPU, not an abort of Python.
// glibc's assert calls __assert_fail; this hidden definition takes those calls within the module.
extern "C" __attribute__((visibility("hidden"), noreturn)) inline void __assert_fail(
    const char* assertion, const char* file, unsigned int line, const char*) noexcept {
    static thread_local char message[512];
    snprintf(message, sizeof message, "assertion failed: %s", assertion);
    suite_host_trap(::suite_host_site{file, int(line)}, message);
}
