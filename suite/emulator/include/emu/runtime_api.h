// The C interface between a compiled kernel module and the host runtime library (rt/*.cpp).
// The runtime is built once and shared by every module of a process: it owns the worker threads,
// the fibers (one per CUDA thread), the barriers and the fault handling. Modules call it for every
// built-in that needs other threads of the block; everything else is inline in the module.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

// Where a built-in was called (file:line of the kernel source), for fault messages.
struct suite_host_site {
    const char* file;
    int line;
};

// What one CUDA thread knows of itself; x, y, z in that order.
struct suite_host_thread {
    unsigned thread_idx[3];
    unsigned block_idx[3];
    unsigned block_dim[3];
    unsigned grid_dim[3];
    unsigned linear;  // thread index in the block, x fastest
    unsigned lane;    // linear % 32
    unsigned warp;    // linear / 32
};

// Every fiber stack lies in a region of this many bytes aligned to its size, and the region's last
// bytes hold this header: code running on a fiber finds its thread from the stack pointer alone,
// without a call or a thread-local lookup (emu/lanes.h reads it; the runtime writes it whenever a
// thread gets a stack).
#define SUITE_HOST_STACK_REGION ((size_t)1 << 19)
struct suite_host_stack_header {
    const struct suite_host_thread* thread;  // the CUDA thread (in lane mode: the lane) running here
    void* lanes;                             // lane mode: the module's lane state (emu/lanes.h)
};

// The calling CUDA thread. Constant for the whole life of a thread, so `const` lets the compiler
// hoist it out of loops (a fiber never sees another fiber's answer).
const suite_host_thread* suite_host_self(void) __attribute__((const));

// The block's dynamic shared memory (the launch's shared_mem bytes, 1024-byte aligned: the
// alignment of sm_90 swizzled tiles).
void* suite_host_dynamic_smem(void);

// The address space of a generic pointer, as the runtime knows it (runtime/address_space.cpp): LOCAL
// in a fiber stack of the calling worker or the OS thread's own stack, SHARED in the worker's
// dynamic shared memory, else GLOBAL. The module's TLS block (its __shared__ arrays) is the
// module's to test (include/emu/ptx/shared_window.h).
enum suite_host_pointer_space { SUITE_HOST_POINTER_GLOBAL = 0, SUITE_HOST_POINTER_LOCAL = 1, SUITE_HOST_POINTER_SHARED = 2 };
int suite_host_space_of(const void* p);

// bar.sync / barrier.sync: named barrier `id` (0..15) opens when `count` threads have arrived
// (count 0: every thread of the block, where a thread that exited counts as arrived). op: -1 plain,
// 0 count, 1 and, 2 or (of `predicate != 0` over the threads that arrived); returns that result.
// Arrivals are counted, not call sites (sm_70+): threads may arrive from different lines.
int suite_host_barrier(suite_host_site site, unsigned id, unsigned count, int op, int predicate);
// bar.arrive: counts the caller at barrier `id` without waiting for it to open.
void suite_host_barrier_arrive(suite_host_site site, unsigned id, unsigned count);
// __syncthreads and its _count/_and/_or forms: barrier 0 over the whole block.
int suite_host_syncthreads(suite_host_site site, int op, int predicate);

// The calling CUDA thread lets the other threads of its block run first (a spin loop on a flag,
// an mbarrier try_wait, __nanosleep): it continues after them.
void suite_host_yield(suite_host_site site);

// this_grid().sync(): every thread of every block of a cooperative launch arrives before any goes
// on (a thread that exited counts as arrived). Outside a cooperative launch it is a fault.
void suite_host_grid_sync(suite_host_site site);

// A warp collective: every lane named in `mask` must call it at the same site with the same
// mask and `complete`; the last to arrive calls complete(records, mask), where records[lane] is
// what each lane passed (the waiting lanes' records live on their stacks, intact while they wait).
typedef void (*suite_host_warp_op)(void* const* records, unsigned mask);
void suite_host_warp_collective(suite_host_site site, const char* name, unsigned mask, void* record,
                                suite_host_warp_op complete);

// The lanes of the caller's warp that reach this __activemask together with it.
unsigned suite_host_activemask(suite_host_site site);

// cp.async for the calling thread (kernels reach it through common/cp_async.cuh): the copy of
// src_bytes from src (the rest of `bytes` zero-filled) is applied when a wait covers its group;
// until then the destination holds all-ones bytes, so reading it early shows up as NaN.
void suite_host_cp_async(suite_host_site site, void* dst, const void* src, unsigned bytes, unsigned src_bytes);
void suite_host_cp_async_commit(void);
void suite_host_cp_async_wait(int pending);  // like cp.async.wait_group: at most `pending` groups left

// Stops the launch with a fault that names `site` (assert, __trap, misuse of a wrapper).
[[noreturn]] void suite_host_trap(suite_host_site site, const char* message);

enum suite_host_schedule { SUITE_HOST_FORWARD = 0, SUITE_HOST_REVERSE = 1, SUITE_HOST_RANDOM = 2 };

struct suite_host_checks;

struct suite_host_launch_config {
    unsigned grid[3];
    unsigned block[3];
    uint64_t dynamic_smem;
    int workers;   // OS threads running blocks
    int schedule;  // suite_host_schedule: order of blocks and of threads within a block
    uint64_t seed;  // for SUITE_HOST_RANDOM
    double timeout_s;  // a launch without progress for this long is stopped (0: never)
    struct suite_host_checks* checks;  // NULL: a plain launch (see checks.h)
    int cooperative;  // cudaLaunchCooperativeKernel: all blocks resident at once (grid sync allowed)
    int lanes;  // run each block through the kernel's lane entry (plain launches only; see emu/lanes.h)
};

enum suite_host_fault_kind {
    SUITE_HOST_OK = 0,
    SUITE_HOST_DEVICE_FAULT = 1,   // barrier misuse, deadlock, trap, assert: see message
    SUITE_HOST_SIGNAL = 2,         // the kernel faulted (SIGSEGV, SIGBUS, SIGFPE, SIGILL) at address
    SUITE_HOST_STACK_OVERFLOW = 3, // a CUDA thread overflowed its fiber stack
};

struct suite_host_fault {
    int kind;
    int signal;
    uint64_t address;
    int has_block;   // block is known
    int has_thread;  // thread is known
    unsigned block[3];
    unsigned thread[3];
    uint64_t stack_size;
    char message[4096];
};

// What a module's launcher hands the runtime: entry(context) runs once per CUDA thread of the
// grid; the checks need the bytes of `context` (the kernel's parameters, read by every thread)
// and the module's thread-local storage (where static __shared__ arrays live) of a worker.
typedef void (*suite_host_entry)(void* context);
// A lane entry runs a whole block as loops over its threads (`block` holds its blockIdx, blockDim
// and gridDim); it names the lane it is at in the stack's header (for fault messages).
typedef void (*suite_host_lane_entry)(void* context, const suite_host_thread* block);
struct suite_host_kernel {
    suite_host_entry entry;
    void* context;
    size_t context_bytes;
    void* (*tls_anchor)(void);  // address of the module's anchor variable on the calling thread
    suite_host_lane_entry lanes;
};
// Returns the fault kind (0 on success).
int suite_host_run(const suite_host_launch_config* config, const suite_host_kernel* kernel, suite_host_fault* fault);

// Anonymous memory for memcheck: `bytes` (a multiple of the page size) of read-write memory
// between two inaccessible guard pages. Returns the first usable byte, or NULL.
void* suite_host_guarded_map(size_t bytes);
void suite_host_guarded_unmap(void* data, size_t bytes);
size_t suite_host_page_size(void);

}  // extern "C"
