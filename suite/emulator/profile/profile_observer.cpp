// The observer of `suite profile`: a library loaded globally before any profiled module. The host
// backend's instrumented builds report every access of kernel code to an observer
// (suite_host_checks.observer, suite/emulator/runtime/checks.h); this one keeps those that reach global
// or shared memory, numbers each thread's executions of each code address (the dynamic occurrence
// that makes lanes' accesses one warp request), and counts each block's records once the block is
// done (memory_model.h). The wrappers of kernels_cu/common/ add what is no access of the issuing
// thread here (profile_marks.cuh): ldmatrix rows, mma, special functions, and cp.async tags.
//
// A profiled launch runs on one worker thread: blocks run one after the other, so a block's records
// are complete when the next block's first one arrives, and nothing needs a lock.
#include <dlfcn.h>
#include <stdint.h>

#include <unordered_map>
#include <vector>

#include "../runtime/checks.h"
#include "../include/emu/runtime_api.h"
#include "memory_model.h"

namespace {

using suite_profile::Access;
using suite_profile::Counter;
using suite_profile::Row;

struct Session {
    bool active = false;
    uint64_t module_base = 0;
    std::vector<Access> records;  // of the running block
    Counter counter;
    std::vector<Row> rows;
    std::unordered_map<uint64_t, uint32_t> occurrences;  // (pc, space, kind, thread) of the running block -> count
    uint64_t block_seen = ~0ull;
    // cp.async: the next accesses the runtime reports for this thread belong to that instruction.
    unsigned tag_op = 0, tag_left = 0, tag_thread = 0;
    bool tag_skips_read = false;  // a zero-filled cp.async: its write comes without a read
};
Session session;
constexpr unsigned kCpAsync = 2;  // the op of cp.async tags (common/cp_async.cuh)

// Executions of one instruction by one thread so far. Per space and kind: a cp.async's global read
// and shared write share a code address.
uint32_t& occurrence(uint64_t rel, unsigned space, unsigned kind, unsigned thread) {
    return session.occurrences[((rel << 2 | space) << 2 | kind) << 10 | thread];
}

void record(uint64_t address, unsigned size, unsigned space, unsigned kind, unsigned op, uint64_t pc,
            uint64_t block, unsigned thread, unsigned warp, unsigned lane) {
    if (block != session.block_seen) {
        session.counter.add_block(session.records);
        session.records.clear();
        session.occurrences.clear();
        session.block_seen = block;
    }
    const uint64_t rel = pc - session.module_base;
    uint32_t& seen = occurrence(rel, space, kind, thread);
    session.records.push_back(Access{address, rel, uint32_t(block), seen++, uint16_t(warp), uint8_t(lane),
                                     uint8_t(size), uint8_t(space), uint8_t(kind), uint8_t(op), 0});
}

uint64_t block_of(const suite_host_thread* t) {
    return t->block_idx[0] + uint64_t(t->grid_dim[0]) * (t->block_idx[1] + uint64_t(t->grid_dim[1]) * t->block_idx[2]);
}

}  // namespace

extern "C" {

// suite_host_observer: every access of kernel code in a launch with this observer.
__attribute__((visibility("default"))) void suite_profile_observe(const suite_host_access* a, void*) {
    if (!session.active || (a->space != SUITE_HOST_GLOBAL && a->space != SUITE_HOST_SHARED)) return;
    unsigned op = 0;
    if (session.tag_left && session.tag_thread == a->thread_linear) {
        op = session.tag_op, --session.tag_left;
        // The lane still executed the instruction: its read count moves on, so that its next read
        // joins the same execution of the other lanes (one warp request per cp.async, as on a GPU).
        if (session.tag_skips_read)
            ++occurrence(a->pc - session.module_base, SUITE_HOST_GLOBAL, SUITE_HOST_LOAD, a->thread_linear);
        session.tag_skips_read = false;
    }
    record(a->address, a->size, unsigned(a->space), unsigned(a->kind), op, a->pc, a->block_linear, a->thread_linear,
           a->warp, a->lane);
}

__attribute__((visibility("default"))) void suite_profile_mark(const void* address, unsigned size, unsigned space,
                                                               unsigned kind, unsigned op) {
    if (!session.active) return;
    const suite_host_thread* t = suite_host_self();
    record(reinterpret_cast<uint64_t>(address), size, space, kind, op,
           reinterpret_cast<uint64_t>(__builtin_return_address(0)), block_of(t), t->linear, t->warp, t->lane);
}

__attribute__((visibility("default"))) void suite_profile_tag(unsigned op, unsigned accesses) {
    if (!session.active) return;
    session.tag_op = op, session.tag_left = accesses, session.tag_thread = suite_host_self()->linear;
    session.tag_skips_read = op == kCpAsync && accesses == 1;
}

// Python's side: begin (any address inside the module; its global arrays as [start, end) pairs),
// launch with suite_profile_observe as the observer, finish (the counts per code address), end.
__attribute__((visibility("default"))) void suite_profile_begin(const void* in_module, const uint64_t* ranges, int n) {
    Dl_info info;
    session.module_base = dladdr(in_module, &info) ? reinterpret_cast<uint64_t>(info.dli_fbase) : 0;
    session.counter.set_regions(ranges, n);
    session.records.clear();
    session.occurrences.clear();
    session.block_seen = ~0ull;
    session.tag_left = 0;
    session.active = true;
}

__attribute__((visibility("default"))) const Row* suite_profile_finish(uint64_t* count, uint64_t* loaded,
                                                                       uint64_t* stored) {
    session.active = false;
    session.counter.add_block(session.records);
    session.rows = session.counter.rows();
    *count = session.rows.size();
    *loaded = session.counter.unique_bytes(false);
    *stored = session.counter.unique_bytes(true);
    return session.rows.data();
}

__attribute__((visibility("default"))) void suite_profile_end(void) {
    session.active = false;
    session.records = std::vector<Access>();
    session.occurrences = std::unordered_map<uint64_t, uint32_t>();
    session.counter.set_regions(nullptr, 0);
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
