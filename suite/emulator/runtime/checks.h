// The checks of a launch (memcheck, racecheck, initcheck) and the per-access hook that feeds them.
// Modules built for checking are compiled with g++'s -fsanitize=thread instrumentation
// (suite/emulator/build.py, CHECKED_FLAGS): every load and store of kernel code calls __tsan_readN /
// __tsan_writeN, defined in checks.cpp, which classify the address and apply the checks.
// Python (suite/emulator/checks.py) fills suite_host_checks and reads the findings back.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

enum suite_host_check_flag {
    SUITE_HOST_MEMCHECK = 1,
    SUITE_HOST_RACECHECK = 2,
    SUITE_HOST_INITCHECK = 4,
};

enum suite_host_access_kind { SUITE_HOST_LOAD = 0, SUITE_HOST_STORE = 1, SUITE_HOST_ATOMIC = 2 };
// Or'ed into the kind by the hooks of volatile accesses: relaxed and morally strong on sm_70+ (PTX
// memory model), so two of them never race (a spin on a volatile flag is not a data race).
enum { SUITE_HOST_VOLATILE = 16 };

enum suite_host_space { SUITE_HOST_GLOBAL = 0, SUITE_HOST_SHARED = 1, SUITE_HOST_LOCAL = 2, SUITE_HOST_OTHER_SPACE = 3 };

enum suite_host_range_kind {
    SUITE_HOST_ARGUMENT = 0,       // [start, end): absolute addresses of an array argument
    SUITE_HOST_STATIC_SHARED = 1,  // [start, end): offsets in the module's TLS segment
    SUITE_HOST_EXTERN_SHARED = 2,  // `extern __shared__ T x[];`: start is the offset; the launch's shared_mem bytes
    SUITE_HOST_DYNAMIC_SHARED = 3, // SUITE_DYNAMIC_SMEM: added by the runtime, never passed in
    SUITE_HOST_UNCHECKED_TLS = 4,  // [start, end): offsets in the TLS segment of g++'s own state (the
                                   // guard of a function-scope __shared__ array of a class type)
};

struct suite_host_range {
    uint64_t start, end;
    int kind;      // suite_host_range_kind
    int index;     // argument index, or the position of a shared array in Python's list
    uint8_t* written;  // initcheck of arguments: one byte per byte of the range, set when written
};

enum suite_host_finding_kind {
    SUITE_HOST_OUT_OF_BOUNDS = 1,    // access not inside any allocation the launch may touch
    SUITE_HOST_MISALIGNED = 2,       // address not a multiple of the access size
    SUITE_HOST_RACE = 3,             // racecheck: conflicting accesses, not ordered
    SUITE_HOST_ASYNC_READ = 4,       // racecheck: a cp.async destination read before its wait
    SUITE_HOST_UNINITIALIZED = 5,    // initcheck: shared memory read before any thread wrote it
};

struct suite_host_finding {
    int kind;       // suite_host_finding_kind
    int access;     // suite_host_access_kind of this access
    int space;      // suite_host_space
    unsigned size;  // bytes of the access
    uint64_t address;
    unsigned block[3], thread[3];
    uint64_t pc;    // offset of the access's code in the module (a return address)
    int range;      // out of bounds: the nearest range (index into ranges, or -1 for dynamic shared / none)
    int range_kind;
    int64_t offset; // address - start of that range
    // The earlier access of a race.
    int other_access;
    unsigned other_block[3], other_thread[3];
    uint64_t other_pc;
};

// One memory access of kernel code, for an observer (a profiler): what the hook saw.
struct suite_host_access {
    uint64_t address;
    unsigned size;
    int kind;   // suite_host_access_kind
    int space;  // suite_host_space
    uint64_t pc;  // absolute return address in the module
    unsigned block_linear, thread_linear, warp, lane;
};
typedef void (*suite_host_observer)(const struct suite_host_access* access, void* data);

struct suite_host_checks {
    unsigned flags;  // suite_host_check_flag
    const suite_host_range* ranges;
    int range_count;
    uint64_t tls_anchor_offset;  // of suite_host::tls_anchor in the module's TLS segment
    suite_host_observer observer;  // called for every access of kernel code (NULL: none)
    void* observer_data;
    suite_host_finding* findings;  // the first max_findings distinct findings
    int max_findings;
    int finding_count;  // distinct findings, also those not stored
    int occurrences;    // every finding, duplicates included
};

// An atomic of kernel code (device_atomics.h in checked builds): exempt from racecheck, a write
// for initcheck, bounds- and alignment-checked by memcheck.
void suite_host_atomic_access(const void* address, unsigned size, const void* pc);

}  // extern "C"

namespace suite_rt {
struct Worker;
struct Job;
// A checked launch: the shared state before the workers start, and its release after.
void checks_prepare(Job& job);
void checks_finish(Job& job);
// Before a worker's first block of a checked launch, and after its last.
void checks_begin(Worker& w, Job& job);
void checks_end(Worker& w);
// A new block (epoch), a __syncthreads that opened (epoch), a warp collective that completed.
void checks_block_start(Worker& w);
void checks_barrier(Worker& w);
void checks_warp_sync(Worker& w, unsigned warp, unsigned mask);
// A warp collective's completion runs module code on other lanes' records: not kernel accesses.
void checks_enter_runtime(Worker& w);
void checks_leave_runtime(Worker& w);
// An access made by the runtime on behalf of the current thread (cp.async), with its code address.
void checks_access(Worker& w, uintptr_t address, unsigned size, int kind, uintptr_t pc);
// Whether the worker's launch runs memcheck, which reports misaligned accesses itself.
bool checks_memcheck(const Worker& w);
}  // namespace suite_rt
