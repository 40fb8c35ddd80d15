// What the Hopper emulation (hopper_*.cpp) keeps per running block: its mbarriers, the copies in
// flight in the async proxy, and each thread's wgmma and bulk-copy groups. One block runs on one
// worker at a time, so the state is the worker's (thread_local) and starts over with each block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../include/emu/hopper/hopper_api.h"
#include "worker.h"

namespace suite_rt {

struct Mbarrier {
    int64_t phase = 0;        // phases completed so far; the current one is `phase`
    int64_t pending = 0;      // arrivals the current phase still needs
    int64_t expected = 0;     // arrivals each phase needs (init count)
    int64_t tx = 0;           // transaction bytes still to come (may dip below 0 before expect_tx)
    int64_t observed = -1;    // the latest phase some thread's wait saw complete
    suite_host_site init_site{};
    std::vector<int64_t> waited;  // per thread: the last phase its wait saw complete (-2: none yet)
};

// A copy in flight: it lands (apply) at a seeded later point, then completes `bar`'s bytes.
struct BulkCopy {
    suite_host_site site;  // of the issue
    uint64_t* bar;  // null for a bulk-group store
    unsigned bytes;
    unsigned thread;  // who issued it
    std::function<void()> apply;
};

struct WgmmaPending {
    suite_host_site site;
    __suite_wgmma_op op;
    std::vector<float> a_rows;   // RS: the thread's two A rows (g, g+8) x 16, taken at issue
    std::vector<float> d_in;     // D at issue (scale_d), unless it chains on a pending op's D
    bool chained;
};

struct HopperThread {
    // mbarrier waits: the barrier and phase a failed wait was for, and the epoch it failed in
    uint64_t* waiting_bar = nullptr;
    int64_t waiting_phase = 0;
    uint64_t waiting_epoch = ~0ull;
    unsigned failed_waits = 0;  // in a row, in the same epoch
    suite_host_site waiting_site{};
    // wgmma
    bool fenced = false;
    std::vector<WgmmaPending> wgmma;  // issued, not complete, in order
    std::vector<size_t> wgmma_group_ends;
    // bulk groups (stores): the copies each committed group holds
    std::vector<BulkCopy> bulk_uncommitted;
    std::vector<std::vector<BulkCopy>> bulk_groups;
};

struct HopperBlock {
    uint64_t run = ~0ull;  // the worker's block run (Block::runs) this state is for
    std::map<uintptr_t, Mbarrier> barriers;
    std::vector<BulkCopy> in_flight;  // mbarrier-tracked loads
    std::vector<HopperThread> threads;
    uint64_t epoch = 0;  // bumped by every mbarrier state change: a deadlock is waits without one
    uint64_t rng = 0;
};

// The calling worker's state for the block it runs (reset when the block changes).
HopperBlock& hopper_block(Worker& w);
HopperThread& hopper_thread(Worker& w);
uint64_t hopper_random(HopperBlock& hb);
// The state of the initialised mbarrier at `bar`; a fault naming `op` and `site` otherwise.
Mbarrier& mbarrier_at(Worker& w, suite_host_site site, uint64_t* bar, const char* op);
// complete_tx on a barrier (a landed copy or the instruction); completes the phase when due.
void mbarrier_complete_tx(Worker& w, suite_host_site site, uint64_t* bar, int64_t bytes);
// Lands the in-flight copy at `i`.
void land_copy(Worker& w, size_t i);
// "file:line" for messages.
std::string where(const suite_host_site& site);

}  // namespace suite_rt
