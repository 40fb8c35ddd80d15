// The per-access hook of `suite profile` (compiled without instrumentation, linked into each
// profiled module). g++'s -fsanitize=kernel-address with a call threshold of 0 turns every load and
// store of the module into a call to __asan_{load,store}N_noabort(address); the hook keeps those
// that reach the launch's global arrays or the block's shared memory, with the calling CUDA thread
// and the code address, and counts each block's records when the block is done (memory_model.h).
// Fiber stacks (local variables) and the emulation's own memory are neither, and are dropped.
//
// A profiled launch runs on one worker thread (the records need no lock; blocks run one after the
// other, so a block's records are complete when the next block's first one arrives).
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>

#include <unordered_map>
#include <vector>

#include "../host/runtime_api.h"
#include "memory_model.h"

namespace {

using suite_profile::Access;
using suite_profile::Counter;
using suite_profile::Row;

struct Range {
    uint64_t start, end;
};

struct State {
    bool active = false;
    pthread_t caller;  // the thread that launches (Python's): module code it runs is no CUDA thread's
    std::vector<Range> globals;
    uint64_t dynamic_smem = 0;
    uint64_t module_base = 0;
    std::vector<Access> records;  // of the running block
    Counter counter;
    std::vector<Row> rows;
    // Per thread of the running block: how often it executed each code address.
    std::unordered_map<uint64_t, uint32_t> occurrences;
    uint64_t block_seen = ~0ull;
};
State state;

// This module's thread-local storage on the calling (worker) thread: its static __shared__ arrays
// (the emulation defines __shared__ as thread_local). Found once per thread.
thread_local Range tls_range;
thread_local bool tls_known = false;
thread_local volatile char tls_anchor;  // touching it makes the module's TLS block exist on this thread

int find_tls(dl_phdr_info* info, size_t, void* data) {
    if (info->dlpi_addr != state.module_base) return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_TLS && info->dlpi_tls_data) {
            const uint64_t start = reinterpret_cast<uint64_t>(info->dlpi_tls_data);
            *static_cast<Range*>(data) = {start, start + info->dlpi_phdr[i].p_memsz};
        }
    return 1;
}

// 0 global, 1 shared, -1 neither.
int space_of(uint64_t a) {
    for (const Range& r : state.globals)
        if (a >= r.start && a < r.end) return 0;
    if (!tls_known) {
        tls_anchor = 0;
        dl_iterate_phdr(find_tls, &tls_range);
        tls_known = true;
    }
    if (a >= tls_range.start && a < tls_range.end) return 1;
    const uint64_t dyn = reinterpret_cast<uint64_t>(suite_host_dynamic_smem());
    if (a >= dyn && a < dyn + state.dynamic_smem) return 1;
    return -1;
}

void record(uint64_t address, unsigned size, int space, unsigned kind, unsigned op, uint64_t pc) {
    const suite_host_thread* t = suite_host_self();
    const uint64_t block = t->block_idx[0] + uint64_t(t->grid_dim[0]) * (t->block_idx[1] + uint64_t(t->grid_dim[1]) * t->block_idx[2]);
    if (block != state.block_seen) {
        state.counter.add_block(state.records);
        state.records.clear();
        state.occurrences.clear();
        state.block_seen = block;
    }
    const uint64_t rel = pc - state.module_base;
    uint32_t& seen = state.occurrences[rel << 10 | t->linear];
    state.records.push_back(Access{address, rel, uint32_t(block), seen++, uint16_t(t->warp), uint8_t(t->lane),
                                   uint8_t(size), uint8_t(space), uint8_t(kind), uint8_t(op), 0});
}

inline bool in_kernel() { return state.active && !pthread_equal(pthread_self(), state.caller); }

inline void access(uint64_t address, unsigned size, unsigned kind, void* pc) {
    if (!in_kernel()) return;
    const int space = space_of(address);
    if (space >= 0) record(address, size, space, kind, 0, reinterpret_cast<uint64_t>(pc));
}

}  // namespace

extern "C" {

#define SUITE_PROFILE_SIZED(n)                                                                      \
    __attribute__((visibility("hidden"))) void __asan_load##n##_noabort(uintptr_t a) {             \
        access(a, n, 0, __builtin_return_address(0));                                               \
    }                                                                                               \
    __attribute__((visibility("hidden"))) void __asan_store##n##_noabort(uintptr_t a) {            \
        access(a, n, 1, __builtin_return_address(0));                                              \
    }
SUITE_PROFILE_SIZED(1)
SUITE_PROFILE_SIZED(2)
SUITE_PROFILE_SIZED(4)
SUITE_PROFILE_SIZED(8)
SUITE_PROFILE_SIZED(16)
#undef SUITE_PROFILE_SIZED

__attribute__((visibility("hidden"))) void __asan_loadN_noabort(uintptr_t a, size_t n) {
    access(a, unsigned(n), 0, __builtin_return_address(0));
}
__attribute__((visibility("hidden"))) void __asan_storeN_noabort(uintptr_t a, size_t n) {
    access(a, unsigned(n), 1, __builtin_return_address(0));
}
__attribute__((visibility("hidden"))) void __asan_handle_no_return(void) {}

__attribute__((visibility("hidden"))) void suite_profile_mark(const void* address, unsigned size, unsigned space,
                                                              unsigned kind, unsigned op) {
    if (in_kernel()) record(reinterpret_cast<uint64_t>(address), size, int(space), kind, op,
                             reinterpret_cast<uint64_t>(__builtin_return_address(0)));
}

// Python's side: begin (the launch's global arrays as [start, end) pairs and its dynamic shared
// memory size), launch on one worker, finish (the counts per code address), end.
__attribute__((visibility("default"))) void suite_profile_begin(const uint64_t* ranges, int n, uint64_t dynamic_smem) {
    Dl_info info;
    dladdr(reinterpret_cast<void*>(&suite_profile_begin), &info);
    state.module_base = reinterpret_cast<uint64_t>(info.dli_fbase);
    state.globals.clear();
    for (int i = 0; i < n; ++i) state.globals.push_back({ranges[2 * i], ranges[2 * i + 1]});
    state.counter.set_regions(ranges, n);
    state.dynamic_smem = dynamic_smem;
    state.records.clear();
    state.occurrences.clear();
    state.block_seen = ~0ull;
    state.caller = pthread_self();
    state.active = true;
}

__attribute__((visibility("default"))) const Row* suite_profile_finish(uint64_t* count, uint64_t* loaded,
                                                                       uint64_t* stored) {
    state.active = false;
    state.counter.add_block(state.records);
    state.rows = state.counter.rows();
    *count = state.rows.size();
    *loaded = state.counter.unique_bytes(false);
    *stored = state.counter.unique_bytes(true);
    return state.rows.data();
}

__attribute__((visibility("default"))) void suite_profile_end(void) {
    state.active = false;
    state.records = std::vector<Access>();
    state.occurrences = std::unordered_map<uint64_t, uint32_t>();
    state.counter.set_regions(nullptr, 0);
}

// The same counting for records made up by a caller (the model's tests): any order, any blocks.
__attribute__((visibility("default"))) const Row* suite_profile_count(const Access* records, uint64_t n,
                                                                      const uint64_t* ranges, int nranges,
                                                                      uint64_t* count, uint64_t* loaded,
                                                                      uint64_t* stored) {
    static Counter counter;
    static std::vector<Row> rows;
    std::vector<Access> all(records, records + n);
    std::stable_sort(all.begin(), all.end(), [](const Access& a, const Access& b) { return a.block < b.block; });
    counter.set_regions(ranges, nranges);
    for (size_t i = 0; i < all.size();) {
        size_t j = i;
        while (j < all.size() && all[j].block == all[i].block) ++j;
        std::vector<Access> block(all.begin() + long(i), all.begin() + long(j));
        counter.add_block(block);
        i = j;
    }
    rows = counter.rows();
    *count = rows.size();
    *loaded = counter.unique_bytes(false);
    *stored = counter.unique_bytes(true);
    return rows.data();
}

}  // extern "C"
