// mbarrier (PTX "parallel synchronization: mbarrier"): phases, arrival counts, transaction bytes,
// and the waits that let other threads and in-flight copies run. Misuse (an op on a barrier never
// initialised, over-arrival, a wait two phases old, every thread waiting with no copy in flight)
// is a device fault naming the line and each barrier's state.
#include <algorithm>
#include <cstring>

#include "hopper_state.h"

namespace suite_rt {

namespace {

thread_local HopperBlock tls_hopper;

constexpr int64_t kMaxCount = (1 << 20) - 1;  // arrival and tx-count limits of the ISA
constexpr uint64_t kLiveMagic = 0x5355495445424152ull;  // "SUITEBAR": what init writes to the object
constexpr unsigned kDeadlockRounds = 3;  // failed waits in a row with no barrier change, all threads stuck

}  // namespace

Mbarrier& mbarrier_at(Worker& w, suite_host_site site, uint64_t* bar, const char* op) {
    HopperBlock& hb = hopper_block(w);
    auto it = hb.barriers.find(reinterpret_cast<uintptr_t>(bar));
    if (reinterpret_cast<uintptr_t>(bar) % 8)
        device_fault(w, "mbarrier.%s (%s): the barrier at %p is not 8-byte aligned", op, where(site).c_str(),
                     static_cast<void*>(bar));
    if (it == hb.barriers.end())
        device_fault(w, "mbarrier.%s (%s) on %p, which is not an initialised mbarrier of this block "
                     "(mbarrier.init it first; after mbarrier.inval it must be initialised again)",
                     op, where(site).c_str(), static_cast<void*>(bar));
    if (*bar != kLiveMagic)
        device_fault(w, "mbarrier.%s (%s): the barrier at %p (initialised at %s) was overwritten by an ordinary "
                     "store; an mbarrier may only be accessed by mbarrier instructions until mbarrier.inval",
                     op, where(site).c_str(), static_cast<void*>(bar), where(it->second.init_site).c_str());
    return it->second;
}

namespace {

void changed(HopperBlock& hb) { ++hb.epoch; }

void check_tx(Worker& w, suite_host_site site, const Mbarrier& b, uint64_t* bar) {
    if (b.tx > kMaxCount || b.tx < -kMaxCount)
        device_fault(w, "mbarrier (%s): the transaction count of the barrier at %p reached %lld bytes, outside the "
                     "ISA's range +-(2^20-1)", where(site).c_str(), static_cast<void*>(bar), (long long)b.tx);
}

void complete_phase_if_due(Mbarrier& b) {
    if (b.pending != 0 || b.tx != 0) return;
    ++b.phase;
    b.pending = b.expected;
}

std::string barrier_states(Worker& w) {
    HopperBlock& hb = hopper_block(w);
    std::string text;
    for (auto& [address, b] : hb.barriers) {
        char line[320];
        std::snprintf(line, sizeof line, " mbarrier %p (init %s): phase %lld, %lld of %lld arrivals pending, tx %+lld "
                      "bytes%s.", reinterpret_cast<void*>(address), where(b.init_site).c_str(), (long long)b.phase,
                      (long long)b.pending, (long long)b.expected, (long long)b.tx,
                      b.tx > 0 ? " never arrived (expect_tx larger than the bytes copied?)" : "");
        text += line;
    }
    return text;
}

// Every thread of the block waits on an mbarrier phase or at a barrier, and no copy is in flight.
bool block_stuck(Worker& w) {
    HopperBlock& hb = hopper_block(w);
    if (!hb.in_flight.empty()) return false;
    for (unsigned i = 0; i < w.block.size; ++i) {
        const FiberState s = w.block.fibers[i].state;
        if (s == FiberState::Done || s == FiberState::AtBarrier || s == FiberState::AtWarp) continue;
        if (hb.threads[i].waiting_epoch != hb.epoch) return false;
    }
    return true;
}

[[noreturn]] void report_deadlock(Worker& w) {
    HopperBlock& hb = hopper_block(w);
    std::string text = "deadlock: every thread of the block waits and no copy is in flight.";
    for (unsigned i = 0; i < w.block.size; ++i) {
        const HopperThread& t = hb.threads[i];
        const Fiber& f = w.block.fibers[i];
        if (f.state == FiberState::Done) continue;
        char line[256];
        if (f.state == FiberState::AtBarrier || f.state == FiberState::AtWarp)
            std::snprintf(line, sizeof line, " Thread %u waits at %s (%s:%d).", i, f.name, f.site.file, f.site.line);
        else
            std::snprintf(line, sizeof line, " Thread %u waits for phase %lld of mbarrier %p (%s).", i,
                          (long long)t.waiting_phase, static_cast<void*>(t.waiting_bar), where(t.waiting_site).c_str());
        text += line;
        if (text.size() > 1500) {
            text += " ...";
            break;
        }
    }
    text += barrier_states(w);
    device_fault(w, "%s", text.c_str());
}

// The phase a thread's wait refers to: the first phase after the last one it saw complete with
// the parity asked for; the first wait takes the latest phase of that parity (so the producer's
// customary first wait on parity 1 refers to the phase before phase 0, which counts as complete).
int64_t phase_waited_for(const Mbarrier& b, unsigned thread, unsigned parity) {
    const int64_t last = b.waited[thread];
    if (last == -2) return ((b.phase - 1) & 1) == int64_t(parity) ? b.phase - 1 : b.phase;
    return ((last + 1) & 1) == int64_t(parity) ? last + 1 : last + 2;
}

}  // namespace

std::string where(const suite_host_site& site) {
    return std::string(site.file ? site.file : "?") + ":" + std::to_string(site.line);
}

HopperBlock& hopper_block(Worker& w) {
    HopperBlock& hb = tls_hopper;
    const Block& b = w.block;
    if (hb.run != b.runs) {
        hb.run = b.runs;
        hb.barriers.clear();
        hb.in_flight.clear();
        hb.threads.assign(b.size, HopperThread{});
        hb.epoch = 0;
        hb.rng = b.rng ^ 0x484F50504552ull;  // the schedule's seed: the same copies land at the same points
    }
    return hb;
}

HopperThread& hopper_thread(Worker& w) { return hopper_block(w).threads[w.current->info.linear]; }

uint64_t hopper_random(HopperBlock& hb) {  // splitmix64
    uint64_t z = (hb.rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mbarrier_complete_tx(Worker& w, suite_host_site site, uint64_t* bar, int64_t bytes) {
    Mbarrier& b = mbarrier_at(w, site, bar, "complete_tx");
    b.tx -= bytes;
    check_tx(w, site, b, bar);
    changed(hopper_block(w));
    complete_phase_if_due(b);
}

void land_copy(Worker& w, size_t i) {
    HopperBlock& hb = hopper_block(w);
    BulkCopy copy = std::move(hb.in_flight[i]);
    hb.in_flight.erase(hb.in_flight.begin() + long(i));
    copy.apply();
    if (copy.bar) mbarrier_complete_tx(w, copy.site, copy.bar, copy.bytes);
}

// Wait bookkeeping shared by the phase and token forms: a completed phase is recorded as seen; a
// blocking wait that fails lets copies land (seeded) and the other threads run, and stops the
// block when nothing can change any more.
static int finish_wait(Worker& w, suite_host_site site, uint64_t* bar, int64_t phase, bool blocking) {
    HopperBlock& hb = hopper_block(w);
    Mbarrier& b = hb.barriers[reinterpret_cast<uintptr_t>(bar)];
    HopperThread& t = hb.threads[w.current->info.linear];
    if (phase < b.phase) {
        b.waited[w.current->info.linear] = std::max(b.waited[w.current->info.linear], phase);
        b.observed = std::max(b.observed, phase);
        t.waiting_epoch = ~0ull;
        t.failed_waits = 0;
        return 1;
    }
    if (!blocking) return 0;
    t.failed_waits = t.waiting_epoch == hb.epoch ? t.failed_waits + 1 : 1;
    t.waiting_bar = bar;
    t.waiting_phase = phase;
    t.waiting_epoch = hb.epoch;
    t.waiting_site = site;
    // A copy in flight lands at a seeded point: now, with even odds, or surely when all else waits.
    if (!hb.in_flight.empty() && (hopper_random(hb) % 2 == 0 || t.failed_waits >= kDeadlockRounds))
        land_copy(w, hopper_random(hb) % hb.in_flight.size());
    if (t.failed_waits >= kDeadlockRounds && block_stuck(w)) report_deadlock(w);
    yield_current(w);
    return 0;
}

static int wait_parity(suite_host_site site, uint64_t* bar, unsigned parity, bool blocking) {
    Worker& w = *tls_worker;
    const char* op = blocking ? "try_wait.parity" : "test_wait.parity";
    if (parity > 1) device_fault(w, "mbarrier.%s (%s): parity %u is not 0 or 1", op, where(site).c_str(), parity);
    const Mbarrier& b = mbarrier_at(w, site, bar, op);
    const unsigned self = w.current->info.linear;
    const int64_t phase = phase_waited_for(b, self, parity);
    if (phase <= b.phase - 2)
        device_fault(w, "mbarrier.%s (%s) on %p: this thread last saw phase %lld complete, so parity %u means phase "
                     "%lld, but the barrier has completed phases %lld and %lld since: on the GPU the parity matches "
                     "the current phase %lld and the wait returns stale data or hangs",
                     op, where(site).c_str(), static_cast<void*>(bar), (long long)b.waited[self], parity,
                     (long long)phase, (long long)phase, (long long)phase + 1, (long long)b.phase);
    return finish_wait(w, site, bar, phase, blocking);
}

}  // namespace suite_rt

using namespace suite_rt;

extern "C" {

void __suite_mbarrier_init(suite_host_site site, uint64_t* bar, unsigned count) {
    Worker& w = *tls_worker;
    HopperBlock& hb = hopper_block(w);
    if (reinterpret_cast<uintptr_t>(bar) % 8)
        device_fault(w, "mbarrier.init (%s): the barrier at %p is not 8-byte aligned", where(site).c_str(),
                     static_cast<void*>(bar));
    if (count < 1 || count > kMaxCount)
        device_fault(w, "mbarrier.init (%s): count %u is outside 1..%lld", where(site).c_str(), count,
                     (long long)kMaxCount);
    auto it = hb.barriers.find(reinterpret_cast<uintptr_t>(bar));
    if (it != hb.barriers.end())
        device_fault(w, "mbarrier.init (%s) on %p, an mbarrier already initialised at %s (mbarrier.inval it before "
                     "initialising it again)", where(site).c_str(), static_cast<void*>(bar),
                     where(it->second.init_site).c_str());
    Mbarrier& b = hb.barriers[reinterpret_cast<uintptr_t>(bar)];
    b.expected = b.pending = count;
    b.init_site = site;
    b.waited.assign(w.block.size, -2);
    *bar = kLiveMagic;
    changed(hb);
}

void __suite_mbarrier_inval(suite_host_site site, uint64_t* bar) {
    Worker& w = *tls_worker;
    mbarrier_at(w, site, bar, "inval");
    hopper_block(w).barriers.erase(reinterpret_cast<uintptr_t>(bar));
    *bar = 0;
    changed(hopper_block(w));
}

uint64_t __suite_mbarrier_arrive(suite_host_site site, uint64_t* bar, unsigned count) {
    Worker& w = *tls_worker;
    Mbarrier& b = mbarrier_at(w, site, bar, "arrive");
    if (count < 1 || count > kMaxCount)
        device_fault(w, "mbarrier.arrive (%s): count %u is outside 1..%lld", where(site).c_str(), count,
                     (long long)kMaxCount);
    if (int64_t(count) > b.pending)
        device_fault(w, "mbarrier.arrive (%s): over-arrival on %p in phase %lld: %u arrival(s) when %lld of %lld "
                     "are pending (tx %+lld bytes still to come); on the GPU the extra arrivals count towards the "
                     "next phase", where(site).c_str(), static_cast<void*>(bar), (long long)b.phase, count,
                     (long long)b.pending, (long long)b.expected, (long long)b.tx);
    if (b.phase >= 1 && b.observed < b.phase - 1)
        device_fault(w, "mbarrier.arrive (%s) on %p in phase %lld, but no thread's test_wait/try_wait has seen phase "
                     "%lld complete: PTX requires one before any arrival on the next phase",
                     where(site).c_str(), static_cast<void*>(bar), (long long)b.phase, (long long)b.phase - 1);
    const uint64_t token = uint64_t(b.phase);
    b.pending -= count;
    changed(hopper_block(w));
    complete_phase_if_due(b);
    return token;
}

void __suite_mbarrier_expect_tx(suite_host_site site, uint64_t* bar, unsigned bytes) {
    Worker& w = *tls_worker;
    Mbarrier& b = mbarrier_at(w, site, bar, "expect_tx");
    b.tx += bytes;
    check_tx(w, site, b, bar);
    changed(hopper_block(w));
}

uint64_t __suite_mbarrier_arrive_expect_tx(suite_host_site site, uint64_t* bar, unsigned bytes) {
    __suite_mbarrier_expect_tx(site, bar, bytes);
    return __suite_mbarrier_arrive(site, bar, 1);
}

void __suite_mbarrier_complete_tx(suite_host_site site, uint64_t* bar, unsigned bytes) {
    mbarrier_complete_tx(*tls_worker, site, bar, bytes);
}

int __suite_mbarrier_test_wait_parity(suite_host_site site, uint64_t* bar, unsigned parity) {
    return wait_parity(site, bar, parity, false);
}

int __suite_mbarrier_try_wait_parity(suite_host_site site, uint64_t* bar, unsigned parity) {
    return wait_parity(site, bar, parity, true);
}

static int wait_token(suite_host_site site, uint64_t* bar, uint64_t token, bool blocking) {
    Worker& w = *tls_worker;
    const Mbarrier& b = mbarrier_at(w, site, bar, blocking ? "try_wait" : "test_wait");
    if (int64_t(token) > b.phase || int64_t(token) < b.phase - 1)
        device_fault(w, "mbarrier.%s (%s) on %p: the token names phase %lld, but the barrier is in phase %lld; "
                     "a token is valid for the current phase and the one before it",
                     blocking ? "try_wait" : "test_wait", where(site).c_str(), static_cast<void*>(bar),
                     (long long)token, (long long)b.phase);
    return finish_wait(w, site, bar, int64_t(token), blocking);
}

int __suite_mbarrier_test_wait(suite_host_site site, uint64_t* bar, uint64_t token) {
    return wait_token(site, bar, token, false);
}

int __suite_mbarrier_try_wait(suite_host_site site, uint64_t* bar, uint64_t token) {
    return wait_token(site, bar, token, true);
}

}  // extern "C"
