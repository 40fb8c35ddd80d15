// The per-access hook of checked builds and the checks it feeds. Every load and store of kernel
// code arrives here with its address, size and code address; the address is classified (the
// thread's own stack, the block's shared memory, an argument's array, or other memory the
// emulation legitimately touches) and then:
// - memcheck: an access outside every allocation, or at an address that is not a multiple of its
//   size, is a fault of the launch (the access is not made: a wild write never lands);
// - racecheck: per byte, the last write and the last two reads (thread, barrier interval, warp
//   synchronisation count, code address); two accesses by different threads, one a write, not
//   ordered by a __syncthreads (same block) or by a warp collective both lanes took part in, are
//   a race. Different blocks are never ordered. Atomics and volatile accesses (relaxed, morally
//   strong on sm_70+) are exempt. A cp.async destination read before the wait that covers it is
//   a finding, by its own thread or by any other (after a __syncthreads, which does not wait).
// - initcheck: shared memory read before any thread of the block wrote it; which bytes of each
//   argument were written (Python finds the outputs' elements that nothing wrote).
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "worker.h"

namespace suite_rt {

namespace {

struct Cell {
    uint32_t epoch;     // barrier interval (unique per block and interval in a launch)
    uint32_t thread;    // 1 + the thread's linear index in the grid; 0: no access
    uint32_t warp_seq;  // collectives its warp had completed at the access
    uint32_t pc;        // offset of the access's code in the module
};

struct Region {
    uintptr_t start, end;
    int kind, index;
    std::vector<Cell> cells;     // racecheck: 3 per byte: last write, last read, last read by another thread
    std::vector<uint32_t> init;  // initcheck of shared memory: the block epoch that wrote each byte
    uint8_t* written;            // initcheck of arguments (Python's bytes)
};

Region* find(std::vector<Region>& regions, uintptr_t a, unsigned size) {
    for (Region& r : regions)
        if (a >= r.start && a + size <= r.end) return &r;
    return nullptr;
}

}  // namespace

struct JobChecks {
    suite_host_checks* c;
    unsigned flags;
    uintptr_t module_base;
    uintptr_t image_start, image_end;  // the module's loaded segments
    uintptr_t context, context_end;
    std::vector<Region> arguments;
    std::atomic<uint32_t> epoch{0};
    std::mutex mutex;  // the findings
};

struct WorkerChecks {
    std::vector<Region> shared;  // static, extern and dynamic shared memory of this worker's blocks
    std::vector<std::pair<uintptr_t, uintptr_t>> unchecked;  // [start, end): UNCHECKED_TLS ranges
    uint32_t block_epoch = 0, epoch = 0, block_linear = 0;
    std::vector<uint32_t> warp_seq;   // per warp: collectives completed in this block
    std::vector<uint32_t> pair_sync;  // per warp, 32 x 32: the last collective both lanes completed
    std::vector<const Fiber*> async_pending;  // threads with cp.async copies in flight at the last barrier
    int runtime_depth = 0;            // inside a collective's completion: emulation, not kernel code
};

namespace {

void fill_identity(const Job& job, uint32_t thread, unsigned block[3], unsigned idx[3]) {
    const unsigned* g = job.config.grid;
    const unsigned* d = job.config.block;
    const uint64_t size = uint64_t(d[0]) * d[1] * d[2], linear = thread / size, t = thread % size;
    block[0] = unsigned(linear % g[0]), block[1] = unsigned(linear / g[0] % g[1]), block[2] = unsigned(linear / (uint64_t(g[0]) * g[1]));
    idx[0] = unsigned(t % d[0]), idx[1] = unsigned(t / d[0] % d[1]), idx[2] = unsigned(t / (uint64_t(d[0]) * d[1]));
}

// Stores a finding unless one of the same kind at the same code already is (compute-sanitizer
// also reports each hazard once per pair of code locations).
void record(Worker& w, suite_host_finding& f) {
    JobChecks& jc = *w.job->checks;
    suite_host_checks& c = *jc.c;
    std::memcpy(f.block, w.block.index, sizeof f.block);
    std::memcpy(f.thread, w.current->info.thread_idx, sizeof f.thread);
    std::lock_guard<std::mutex> lock(jc.mutex);
    ++c.occurrences;
    const int stored = std::min(c.finding_count, c.max_findings);
    for (int i = 0; i < stored; ++i) {
        const suite_host_finding& g = c.findings[i];
        if (g.kind == f.kind && g.pc == f.pc && g.other_pc == f.other_pc && g.access == f.access) return;
    }
    if (c.finding_count < c.max_findings) c.findings[c.finding_count] = f;
    ++c.finding_count;
}

suite_host_finding make_finding(int kind, int access, int space, uintptr_t a, unsigned size, uintptr_t pc) {
    suite_host_finding f;
    std::memset(&f, 0, sizeof f);
    f.kind = kind, f.access = access, f.space = space, f.address = a, f.size = size, f.pc = pc, f.range = -1;
    return f;
}

// memcheck: the access is outside everything the launch may touch: name the nearest array if it
// is near (as Python's NEAR_BYTES); else it is a wild global access, in no allocation at all.
constexpr uintptr_t NEAR_BYTES = uintptr_t(1) << 20;

[[noreturn]] void out_of_bounds(Worker& w, uintptr_t a, unsigned size, int access, uintptr_t pc) {
    JobChecks& jc = *w.job->checks;
    const Region* best = nullptr;
    uintptr_t best_distance = ~uintptr_t(0);
    for (auto* list : {&w.checks->shared, &jc.arguments})
        for (const Region& r : *list) {
            const uintptr_t d = a < r.start ? r.start - a : a >= r.end ? a - r.end + 1 : 0;
            if (d < best_distance) best_distance = d, best = &r;
        }
    suite_host_finding f = make_finding(SUITE_HOST_OUT_OF_BOUNDS, access, SUITE_HOST_GLOBAL, a, size, pc - jc.module_base);
    if (best && best_distance <= NEAR_BYTES) {
        f.range = best->index, f.range_kind = best->kind, f.offset = int64_t(a - best->start);
        f.space = best->kind == SUITE_HOST_ARGUMENT ? SUITE_HOST_GLOBAL : SUITE_HOST_SHARED;
    }
    record(w, f);
    device_fault(w, "memcheck: invalid %s of %u bytes at 0x%lx", access == SUITE_HOST_LOAD ? "read" : "write", size,
                 (unsigned long)a);
}

bool conflicts(const Worker& w, const Cell& p, const Cell& cur, bool shared) {
    if (!p.thread || p.thread == cur.thread) return false;
    const WorkerChecks& wc = *w.checks;
    if (shared && p.epoch < wc.block_epoch) return false;  // an earlier block's use of this worker's shared memory
    const uint32_t size = w.block.size;
    if ((p.thread - 1) / size != (cur.thread - 1) / size) return true;  // blocks are never ordered
    if (p.epoch != cur.epoch) return false;                             // a __syncthreads lies between
    const unsigned other = (p.thread - 1) % size, me = w.current->info.linear;
    if (other / 32 != me / 32) return true;
    return wc.pair_sync[(me / 32) * 1024 + (me % 32) * 32 + other % 32] <= p.warp_seq;
}

void racecheck(Worker& w, Region& r, uintptr_t a, unsigned size, int access, uintptr_t pc, int space) {
    WorkerChecks& wc = *w.checks;
    const Fiber& f = *w.current;
    const Cell cur{wc.epoch, 1 + wc.block_linear * w.block.size + f.info.linear, wc.warp_seq[f.info.warp],
                   uint32_t(pc - w.job->checks->module_base)};
    const bool shared = space == SUITE_HOST_SHARED;
    bool reported = false;
    for (unsigned i = 0; i < size; ++i) {
        Cell* c = &r.cells[3 * (a - r.start + i)];
        const Cell* earlier = nullptr;
        if (conflicts(w, c[0], cur, shared)) earlier = &c[0];
        else if (access == SUITE_HOST_STORE && conflicts(w, c[1], cur, shared)) earlier = &c[1];
        else if (access == SUITE_HOST_STORE && conflicts(w, c[2], cur, shared)) earlier = &c[2];
        if (earlier && !reported) {
            reported = true;
            suite_host_finding fd = make_finding(SUITE_HOST_RACE, access, space, a, size, pc - w.job->checks->module_base);
            fd.other_access = earlier == &c[0] ? SUITE_HOST_STORE : SUITE_HOST_LOAD;
            fd.other_pc = earlier->pc;
            fill_identity(*w.job, earlier->thread - 1, fd.other_block, fd.other_thread);
            fd.range = r.index, fd.range_kind = r.kind, fd.offset = int64_t(a - r.start);
            record(w, fd);
        }
        if (access == SUITE_HOST_STORE) c[0] = cur;
        else if (c[1].thread == cur.thread) c[1] = cur;
        else c[2] = c[1], c[1] = cur;
    }
}

void initcheck(Worker& w, Region& r, uintptr_t a, unsigned size, int access, uintptr_t pc, int space) {
    const size_t at = a - r.start;
    if (space == SUITE_HOST_GLOBAL) {
        if (access != SUITE_HOST_LOAD && r.written) std::memset(r.written + at, 1, size);
        return;
    }
    const uint32_t block = w.checks->block_epoch;
    if (access != SUITE_HOST_LOAD) {
        std::fill(r.init.begin() + long(at), r.init.begin() + long(at + size), block);
        return;
    }
    for (unsigned i = 0; i < size; ++i)
        if (r.init[at + i] != block) {
            suite_host_finding f = make_finding(SUITE_HOST_UNINITIALIZED, access, space, a, size, pc - w.job->checks->module_base);
            f.range = r.index, f.range_kind = r.kind, f.offset = int64_t(at);
            record(w, f);
            return;
        }
}

// Memory the emulation itself reaches from kernel code: the kernel's parameters, the thread's
// identity, the module's globals, other lanes' collective records (on their stacks).
bool emulation_memory(Worker& w, uintptr_t a, unsigned size) {
    const JobChecks& jc = *w.job->checks;
    if (a >= jc.context && a + size <= jc.context_end) return true;
    const uintptr_t info = reinterpret_cast<uintptr_t>(&w.current->info);
    if (a >= info && a + size <= info + sizeof(suite_host_thread)) return true;
    if (a >= jc.image_start && a + size <= jc.image_end) return true;  // __device__/__constant__ variables, tables, literals
    for (const auto& [start, end] : w.checks->unchecked)
        if (a >= start && a + size <= end) return true;
    for (const Fiber& f : w.block.fibers) {
        const uintptr_t base = reinterpret_cast<uintptr_t>(f.stack ? f.stack->base : nullptr);
        if (base && a >= base && a + size <= base + f.stack->size) return true;
    }
    return false;
}

void observe(Worker& w, uintptr_t a, unsigned size, int access, int space, uintptr_t pc) {
    const suite_host_checks& c = *w.job->checks->c;
    if (!c.observer) return;
    const suite_host_thread& t = w.current->info;
    const suite_host_access event{a, size, access, space, pc, w.checks->block_linear, t.linear, t.warp, t.lane};
    c.observer(&event, c.observer_data);
}

}  // namespace

// A read of bytes that a cp.async of this thread, or of a thread that had copies in flight at the
// last barrier, has yet to write (no wait covered it).
const AsyncCopy* pending_copy(const Worker& w, uintptr_t a, unsigned size) {
    auto overlapping = [&](const Fiber& f) -> const AsyncCopy* {
        for (const AsyncCopy& c : f.copies) {
            const uintptr_t dst = reinterpret_cast<uintptr_t>(c.dst);
            if (a < dst + c.bytes && dst < a + size) return &c;
        }
        return nullptr;
    };
    if (const AsyncCopy* c = overlapping(*w.current)) return c;
    for (const Fiber* f : w.checks->async_pending)
        if (f != w.current)
            if (const AsyncCopy* c = overlapping(*f)) return c;
    return nullptr;
}

void checks_access(Worker& w, uintptr_t a, unsigned size, int access, uintptr_t pc) {
    WorkerChecks& wc = *w.checks;
    if (wc.runtime_depth) return;
    const bool strong = access & SUITE_HOST_VOLATILE;
    access &= ~SUITE_HOST_VOLATILE;
    Fiber& f = *w.current;
    const uintptr_t stack = reinterpret_cast<uintptr_t>(f.stack->base);
    if (a >= stack && a + size <= stack + f.stack->size) return observe(w, a, size, access, SUITE_HOST_LOCAL, pc);
    JobChecks& jc = *w.job->checks;
    int space = SUITE_HOST_SHARED;
    Region* r = find(wc.shared, a, size);
    if (!r) r = find(jc.arguments, a, size), space = SUITE_HOST_GLOBAL;
    if (!r) {
        if (emulation_memory(w, a, size)) return observe(w, a, size, access, SUITE_HOST_OTHER_SPACE, pc);
        if (jc.flags & SUITE_HOST_MEMCHECK) out_of_bounds(w, a, size, access, pc);
        return;
    }
    if ((jc.flags & SUITE_HOST_MEMCHECK) && (size & (size - 1)) == 0 && a % size) {
        suite_host_finding fd = make_finding(SUITE_HOST_MISALIGNED, access, space, a, size, pc - jc.module_base);
        fd.range = r->index, fd.range_kind = r->kind, fd.offset = int64_t(a - r->start);
        record(w, fd);
        device_fault(w, "memcheck: misaligned access of %u bytes at 0x%lx", size, (unsigned long)a);
    }
    observe(w, a, size, access, space, pc);
    if ((jc.flags & SUITE_HOST_RACECHECK) && access != SUITE_HOST_ATOMIC && !strong)
        racecheck(w, *r, a, size, access, pc, space);
    if (jc.flags & SUITE_HOST_INITCHECK) initcheck(w, *r, a, size, access, pc, space);
    if (access == SUITE_HOST_LOAD && (jc.flags & SUITE_HOST_RACECHECK) && (!f.copies.empty() || !wc.async_pending.empty()))
        if (const AsyncCopy* c = pending_copy(w, a, size)) {
            suite_host_finding fd = make_finding(SUITE_HOST_ASYNC_READ, access, space, a, size, pc - jc.module_base);
            fd.other_pc = c->pc - jc.module_base;
            record(w, fd);
        }
    if (access != SUITE_HOST_LOAD) f.loads_without_store = 0;
    else if (++f.loads_without_store >= 4096) {
        f.loads_without_store = 0;
        yield_current(w);
    }
}

namespace {
int find_image(dl_phdr_info* info, size_t, void* data) {
    JobChecks& jc = *static_cast<JobChecks*>(data);
    if (info->dlpi_addr != jc.module_base) return 0;
    jc.image_start = ~uintptr_t(0), jc.image_end = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& p = info->dlpi_phdr[i];
        if (p.p_type != PT_LOAD) continue;
        jc.image_start = std::min(jc.image_start, uintptr_t(info->dlpi_addr + p.p_vaddr));
        jc.image_end = std::max(jc.image_end, uintptr_t(info->dlpi_addr + p.p_vaddr + p.p_memsz));
    }
    return 1;
}
}  // namespace

void checks_prepare(Job& job) {
    suite_host_checks* c = job.config.checks;
    if (!c) return;
    JobChecks* jc = new JobChecks;
    jc->c = c;
    jc->flags = c->flags;
    Dl_info dl;
    jc->module_base = dladdr(reinterpret_cast<void*>(job.kernel.tls_anchor), &dl) ? reinterpret_cast<uintptr_t>(dl.dli_fbase) : 0;
    jc->image_start = jc->image_end = 0;
    dl_iterate_phdr(find_image, jc);
    jc->context = reinterpret_cast<uintptr_t>(job.kernel.context);
    jc->context_end = jc->context + job.kernel.context_bytes;
    for (int i = 0; i < c->range_count; ++i) {
        const suite_host_range& range = c->ranges[i];
        if (range.kind != SUITE_HOST_ARGUMENT) continue;
        Region r{uintptr_t(range.start), uintptr_t(range.end), range.kind, range.index, {}, {}, range.written};
        if (c->flags & SUITE_HOST_RACECHECK) r.cells.assign(3 * (r.end - r.start), Cell{0, 0, 0, 0});
        jc->arguments.push_back(std::move(r));
    }
    job.checks = jc;
}

void checks_finish(Job& job) {
    delete job.checks;
    job.checks = nullptr;
}

void checks_begin(Worker& w, Job& job) {
    if (!job.checks) return;
    WorkerChecks* wc = new WorkerChecks;
    const suite_host_checks& c = *job.checks->c;
    const uintptr_t tls = reinterpret_cast<uintptr_t>(job.kernel.tls_anchor()) - c.tls_anchor_offset;
    auto add = [&](uintptr_t start, uintptr_t end, int kind, int index) {
        Region r{start, end, kind, index, {}, {}, nullptr};
        if (c.flags & SUITE_HOST_RACECHECK) r.cells.assign(3 * (end - start), Cell{0, 0, 0, 0});
        if (c.flags & SUITE_HOST_INITCHECK) r.init.assign(end - start, 0u);
        wc->shared.push_back(std::move(r));
    };
    for (int i = 0; i < c.range_count; ++i) {
        const suite_host_range& range = c.ranges[i];
        if (range.kind == SUITE_HOST_STATIC_SHARED) add(tls + range.start, tls + range.end, range.kind, range.index);
        if (range.kind == SUITE_HOST_EXTERN_SHARED)
            add(tls + range.start, tls + range.start + job.config.dynamic_smem, range.kind, range.index);
        if (range.kind == SUITE_HOST_UNCHECKED_TLS) wc->unchecked.emplace_back(tls + range.start, tls + range.end);
    }
    const uintptr_t dynamic = reinterpret_cast<uintptr_t>(w.dynamic_smem);
    add(dynamic, dynamic + job.config.dynamic_smem, SUITE_HOST_DYNAMIC_SHARED, -1);
    w.checks = wc;
}

void checks_end(Worker& w) {
    delete w.checks;
    w.checks = nullptr;
}

void checks_block_start(Worker& w) {
    WorkerChecks& wc = *w.checks;
    const unsigned* g = w.job->config.grid;
    wc.block_linear = w.block.index[0] + g[0] * (w.block.index[1] + g[1] * w.block.index[2]);
    wc.block_epoch = wc.epoch = ++w.job->checks->epoch;
    wc.async_pending.clear();
    if (w.job->checks->flags & SUITE_HOST_RACECHECK) {
        const size_t warps = (w.block.size + 31) / 32;
        wc.warp_seq.assign(warps, 0u);
        wc.pair_sync.assign(warps * 1024, 0u);
    } else {
        wc.warp_seq.assign((w.block.size + 31) / 32, 0u);
    }
}

void checks_barrier(Worker& w) {
    WorkerChecks& wc = *w.checks;
    wc.epoch = ++w.job->checks->epoch;
    wc.async_pending.clear();  // a barrier orders the copies' issue, not their completion
    for (const Fiber& f : w.block.fibers)
        if (!f.copies.empty()) wc.async_pending.push_back(&f);
}

void checks_warp_sync(Worker& w, unsigned warp, unsigned mask) {
    WorkerChecks& wc = *w.checks;
    if (!(w.job->checks->flags & SUITE_HOST_RACECHECK)) return;
    const uint32_t seq = ++wc.warp_seq[warp];
    uint32_t* pairs = &wc.pair_sync[size_t(warp) * 1024];
    for (unsigned a = 0; a < 32; ++a)
        if (mask >> a & 1)
            for (unsigned b = 0; b < 32; ++b)
                if (mask >> b & 1) pairs[a * 32 + b] = seq;
}

bool checks_memcheck(const Worker& w) { return w.job && w.job->checks && (w.job->checks->flags & SUITE_HOST_MEMCHECK); }

void checks_enter_runtime(Worker& w) { if (w.checks) ++w.checks->runtime_depth; }
void checks_leave_runtime(Worker& w) { if (w.checks) --w.checks->runtime_depth; }

}  // namespace suite_rt

using namespace suite_rt;

namespace {
inline void hook(uintptr_t a, unsigned size, int access, void* pc) {
    Worker* w = tls_worker;
    if (w && w->checks && w->current) checks_access(*w, a, size, access, reinterpret_cast<uintptr_t>(pc));
}
}  // namespace

extern "C" {

// What g++ -fsanitize=thread calls (suite/emulator/build.py, CHECKED_FLAGS). Unaligned accesses are
// accesses like the others, volatile ones are marked (exempt from racecheck); ranges are aggregate copies.
#define SUITE_HOST_TSAN_HOOKS(n)                                                                                    \
    void __tsan_read##n(void* a) { hook(uintptr_t(a), n, SUITE_HOST_LOAD, __builtin_return_address(0)); }          \
    void __tsan_write##n(void* a) { hook(uintptr_t(a), n, SUITE_HOST_STORE, __builtin_return_address(0)); }        \
    void __tsan_volatile_read##n(void* a) {                                                                       \
        hook(uintptr_t(a), n, SUITE_HOST_LOAD | SUITE_HOST_VOLATILE, __builtin_return_address(0));                 \
    }                                                                                                              \
    void __tsan_volatile_write##n(void* a) {                                                                      \
        hook(uintptr_t(a), n, SUITE_HOST_STORE | SUITE_HOST_VOLATILE, __builtin_return_address(0));                \
    }
SUITE_HOST_TSAN_HOOKS(1)
SUITE_HOST_TSAN_HOOKS(2)
SUITE_HOST_TSAN_HOOKS(4)
SUITE_HOST_TSAN_HOOKS(8)
SUITE_HOST_TSAN_HOOKS(16)
#undef SUITE_HOST_TSAN_HOOKS
#define SUITE_HOST_TSAN_UNALIGNED(n)                                                                                 \
    void __tsan_unaligned_read##n(void* a) { hook(uintptr_t(a), n, SUITE_HOST_LOAD, __builtin_return_address(0)); } \
    void __tsan_unaligned_write##n(void* a) { hook(uintptr_t(a), n, SUITE_HOST_STORE, __builtin_return_address(0)); }
SUITE_HOST_TSAN_UNALIGNED(2)
SUITE_HOST_TSAN_UNALIGNED(4)
SUITE_HOST_TSAN_UNALIGNED(8)
SUITE_HOST_TSAN_UNALIGNED(16)
#undef SUITE_HOST_TSAN_UNALIGNED

void __tsan_read_range(void* a, size_t n) { hook(uintptr_t(a), unsigned(n), SUITE_HOST_LOAD, __builtin_return_address(0)); }
void __tsan_write_range(void* a, size_t n) { hook(uintptr_t(a), unsigned(n), SUITE_HOST_STORE, __builtin_return_address(0)); }
void __tsan_init(void) {}
// Atomics of the module outside kernel code (guards of function-local statics): done, unchecked.
#define SUITE_HOST_TSAN_ATOMIC(bits)                                                                           \
    uint##bits##_t __tsan_atomic##bits##_load(const volatile uint##bits##_t* a, int) {                        \
        return __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                            \
    }                                                                                                          \
    void __tsan_atomic##bits##_store(volatile uint##bits##_t* a, uint##bits##_t v, int) {                      \
        __atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                                               \
    }
SUITE_HOST_TSAN_ATOMIC(8)
SUITE_HOST_TSAN_ATOMIC(16)
SUITE_HOST_TSAN_ATOMIC(32)
SUITE_HOST_TSAN_ATOMIC(64)
#undef SUITE_HOST_TSAN_ATOMIC
void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(int) {}

void suite_host_atomic_access(const void* address, unsigned size, const void* pc) {
    hook(reinterpret_cast<uintptr_t>(address), size, SUITE_HOST_ATOMIC, const_cast<void*>(pc));
}

}  // extern "C"
