// One block on one OS thread: its CUDA threads are fibers run in the schedule's order, each until
// it exits or waits at a barrier or warp collective; the last thread to arrive releases the others.
// A block whose fibers all wait but cannot be released is a deadlock and becomes a fault.
#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "worker.h"

namespace suite_rt {

namespace {

uint64_t next_random(uint64_t& state) {  // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

template <class T>
void shuffle(std::vector<T>& v, size_t n, uint64_t& rng) {
    for (size_t i = n; i > 1; --i) std::swap(v[i - 1], v[next_random(rng) % i]);
}

bool same_site(const suite_host_site& a, const suite_host_site& b) {
    return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

// "0-31, 40, 64-95": a set of indices, compactly, cut short when long.
std::string ranges(const std::vector<unsigned>& sorted) {
    std::string out;
    for (size_t i = 0; i < sorted.size();) {
        size_t j = i;
        while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
        if (!out.empty()) out += ", ";
        if (out.size() > 200) return out + "...";
        out += std::to_string(sorted[i]);
        if (j > i) out += "-" + std::to_string(sorted[j]);
        i = j + 1;
    }
    return out;
}

void wake(Block& b, unsigned i) {
    b.fibers[i].state = FiberState::Ready;
    b.runnable.push_back(i);
}

Stack* take_stack(Worker& w) {
    if (!w.free_stacks.empty()) {
        Stack* s = w.free_stacks.back();
        w.free_stacks.pop_back();
        return s;
    }
    Stack* s = stack_create(kFiberStackBytes);
    if (!s) device_fault(w, "out of memory: cannot map a %zu KiB fiber stack for this CUDA thread", kFiberStackBytes / 1024);
    return s;
}

// The fiber runs on `stack` from now on: code on that stack finds its thread in the header.
void give_stack(Fiber& f, Stack* stack) {
    f.stack = stack;
    *stack->header = {&f.info, nullptr};
}

// A warp's lanes in `mask` (without `except`), in the order the schedule wakes them.
void wake_lanes(Worker& w, unsigned warp, unsigned mask, unsigned except) {
    Block& b = w.block;
    unsigned lanes[32], n = 0;
    for (unsigned l = 0; l < 32; ++l)
        if ((mask >> l & 1) && l != except) lanes[n++] = l;
    if (w.job->config.schedule == SUITE_HOST_REVERSE) std::reverse(lanes, lanes + n);
    if (w.job->config.schedule == SUITE_HOST_RANDOM)
        for (unsigned i = n; i > 1; --i) std::swap(lanes[i - 1], lanes[next_random(b.rng) % i]);
    for (unsigned i = 0; i < n; ++i) wake(b, warp * 32 + lanes[i]);
}

// __activemask: the lanes that reach the same __activemask together. A lane waits there until no
// lane of its warp can run any more (each has exited or waits somewhere); the lanes then waiting
// at the same call are the active ones, as the converged lanes are on the GPU.
void settle_activemask(Worker& w, unsigned warp) {
    Block& b = w.block;
    unsigned waiting = b.active_waiting[warp];
    if (!waiting) return;
    const unsigned first = warp * 32, width = std::min(32u, b.size - first);
    for (unsigned l = 0; l < width; ++l) {
        const FiberState s = b.fibers[first + l].state;
        if (s == FiberState::New || s == FiberState::Ready || s == FiberState::Running) return;
    }
    b.active_waiting[warp] = 0;
    for (unsigned l = 0; l < width; ++l) {
        if (!(waiting >> l & 1)) continue;
        unsigned group = 0;
        for (unsigned k = l; k < width; ++k)
            if ((waiting >> k & 1) && same_site(b.fibers[first + k].site, b.fibers[first + l].site)) group |= 1u << k;
        for (unsigned k = 0; k < width; ++k)
            if (group >> k & 1) *static_cast<unsigned*>(b.fibers[first + k].record) = group;
        waiting &= ~group;
        wake_lanes(w, warp, group, 32);
    }
}

void fiber_main(void* arg);

// The next runnable fiber, made ready to run (a new one gets a stack); nullptr when none is.
Fiber* next_fiber(Worker& w) {
    Block& b = w.block;
    if (b.runnable_head >= b.runnable.size()) return nullptr;
    Fiber& f = b.fibers[b.runnable[b.runnable_head++]];
    if (b.runnable_head >= 4096 && b.runnable_head * 2 >= b.runnable.size()) {
        b.runnable.erase(b.runnable.begin(), b.runnable.begin() + long(b.runnable_head));
        b.runnable_head = 0;
    }
    if (f.state == FiberState::New) {
        give_stack(f, take_stack(w));
        context_make(&f.ctx, f.stack, fiber_main, &w);
    }
    f.state = FiberState::Running;
    return &f;
}

// Leaves the running fiber (its registers saved in `from`) for the next runnable one, switching
// straight to it; to the scheduler only when none is left (the block is done, or deadlocked).
void switch_to_next(Worker& w, Context* from) {
    Fiber* next = next_fiber(w);
    w.current = next;
    context_switch(from, next ? &next->ctx : &w.scheduler);
}

// The running fiber stops until another wakes it.
void block_current(Worker& w, Fiber& f, FiberState state) {
    f.state = state;
    settle_activemask(w, f.info.warp);
    switch_to_next(w, &f.ctx);
}

// A barrier of count 0 opens once every thread of the block has arrived or exited: PTX's `exit`
// counts an exited thread as arrived at the barriers that wait for all threads, so
// `if (i >= n) return; __syncthreads();` is defined and works on the GPU. A barrier with a count
// opens at that many arrivals (exits do not count there, as in PTX). Arrivals are counted wherever
// they come from (sm_70+), so code the compiler duplicated is never a divergence.
bool barrier_complete(const Block& b, const Block::Barrier& bar) {
    if (bar.arrived == 0) return false;
    return bar.expected ? bar.arrived == bar.expected : bar.arrived + b.exited == b.size;
}

// The grid sync's round opens: every block not finished has arrived.
void open_grid(Job& job) {
    job.grid_arrived = 0;
    ++job.grid_round;
    job.progress.fetch_add(1, std::memory_order_relaxed);
    job.grid_opened.notify_all();
}

// The last thread of the block to reach this_grid().sync() waits, on its worker, for the other
// blocks (each on its own worker: a cooperative launch runs them all at once).
void wait_for_grid(Worker& w) {
    Job& job = *w.job;
    w.in_kernel = false;  // a kick would abandon the block with grid_mutex held: the wait watches abort instead
    bool stopped = false;
    {
        std::unique_lock<std::mutex> lock(job.grid_mutex);
        const uint64_t round = job.grid_round;
        if (++job.grid_arrived == job.grid_live) open_grid(job);
        while (job.grid_round == round && !(stopped = job.abort.load(std::memory_order_relaxed)))
            job.grid_opened.wait_for(lock, std::chrono::milliseconds(10));
    }
    w.in_kernel = true;
    if (stopped) device_fault(w, "stopped");  // another block faulted: its fault is the launch's
}

// A finished block no longer takes part in grid syncs.
void leave_grid(Job& job) {
    std::lock_guard<std::mutex> lock(job.grid_mutex);
    --job.grid_live;
    if (job.grid_arrived && job.grid_arrived == job.grid_live) open_grid(job);
}

// Opens barrier `id`: the _count/_and/_or result goes to every thread that waits at it.
void open_barrier(Worker& w, unsigned id) {
    Block& b = w.block;
    Block::Barrier& bar = b.barriers[id];
    if (id == kGridBarrier) wait_for_grid(w);
    note_progress(w);
    if (w.checks) checks_barrier(w);
    const int votes = int(bar.votes), arrived = int(bar.arrived), op = bar.op;
    const int result = op == 0 ? votes : op == 1 ? votes == arrived : op == 2 ? votes > 0 : 0;
    bar.arrived = bar.votes = 0;
    b.pending_barriers &= ~(1u << id);
    if (w.current) w.current->barrier_result = result;  // the last arrival, still running
    for (unsigned i : b.order) {
        Fiber& f = b.fibers[i];
        if (f.state == FiberState::AtBarrier && f.barrier_id == id) {
            f.barrier_result = result;
            wake(b, i);
        }
    }
}

// After an exit: the barriers waiting for all threads may now be complete.
void open_barriers_complete_after_exit(Worker& w) {
    Block& b = w.block;
    for (unsigned pending = b.pending_barriers; pending; pending &= pending - 1) {
        const unsigned id = unsigned(__builtin_ctz(pending));
        if (barrier_complete(b, b.barriers[id])) open_barrier(w, id);
    }
}

const char* barrier_name(unsigned id, unsigned count) {
    return id == kGridBarrier ? "this_grid().sync()" : id == 0 && count == 0 ? "__syncthreads" : "bar.sync";
}

// The caller arrives at barrier `id`; `wait`: it stays until the barrier opens (bar.sync), else it
// goes on (bar.arrive). Returns the barrier's _count/_and/_or result for a waiting caller.
int arrive(Worker& w, suite_host_site site, unsigned id, unsigned count, int op, int predicate, bool wait) {
    Block& b = w.block;
    Fiber& f = *w.current;
    if (count % 32 || count > (b.size + 31) / 32 * 32)
        device_fault(w, "bar.sync %u, %u (%s:%d): the thread count must be a multiple of 32 (the warp size) and at "
                     "most the block's %u thread(s) rounded up to whole warps",
                     id, count, site.file, site.line, b.size);
    Block::Barrier& bar = b.barriers[id];
    if (bar.arrived == 0) {
        bar.expected = count;
        bar.op = op;
        bar.site = site;
        b.pending_barriers |= 1u << id;
    } else if (bar.expected != count) {
        device_fault(w, "%s %u (%s:%d) expects %u thread(s) while %u thread(s) arrived at it (%s:%d) expecting %u",
                     barrier_name(id, count), id, site.file, site.line, count ? count : b.size, bar.arrived,
                     bar.site.file, bar.site.line, bar.expected ? bar.expected : b.size);
    }
    if (bar.op < 0) bar.op = op;
    ++bar.arrived;
    if (predicate) ++bar.votes;
    if (barrier_complete(b, bar)) {
        open_barrier(w, id);
        return f.barrier_result;
    }
    if (!wait) return 0;
    f.site = site;
    f.name = barrier_name(id, count);
    f.mask = count;
    f.op = nullptr;
    f.barrier_id = id;
    block_current(w, f, FiberState::AtBarrier);
    return f.barrier_result;
}

void on_exit(Worker& w, Fiber& f) {
    Block& b = w.block;
    const unsigned warp = f.info.warp, lane = f.info.lane;
    for (unsigned l = 0; b.warp_waiting[warp] && l < 32; ++l) {
        if (!(b.warp_waiting[warp] >> l & 1)) continue;
        const Fiber& g = b.fibers[warp * 32 + l];
        if (g.mask >> lane & 1)
            device_fault(w, "lane %u exited while lane %u waits at %s (%s:%d) with mask 0x%08x, which names it",
                         lane, l, g.name, g.site.file, g.site.line, g.mask);
    }
    ++b.exited;
    b.warp_exited[warp] |= 1u << lane;
    f.state = FiberState::Done;
    note_progress(w);
    open_barriers_complete_after_exit(w);
    settle_activemask(w, warp);
}

// A CUDA thread's life. When it ends and the next runnable thread has not started yet, that one
// runs on this stack, here, without a switch; else this stack is free again and the next runs.
void fiber_main(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    for (;;) {
        w.job->kernel.entry(w.job->kernel.context);
        Fiber& f = *w.current;
        on_exit(w, f);
        Block& b = w.block;
        if (b.runnable_head < b.runnable.size() && b.fibers[b.runnable[b.runnable_head]].state == FiberState::New) {
            Fiber& next = b.fibers[b.runnable[b.runnable_head++]];
            give_stack(next, f.stack);
            next.state = FiberState::Running;
            f.stack = nullptr;
            w.current = &next;
            continue;
        }
        // Nothing runs on this stack after the switch: it may be handed out (and overwritten) at once.
        w.free_stacks.push_back(f.stack);
        f.stack = nullptr;
        Context finished;
        switch_to_next(w, &finished);
        __builtin_unreachable();
    }
}

// Every fiber waits and none can be released: say who waits where.
[[noreturn]] void diagnose_deadlock(Worker& w) {
    Block& b = w.block;
    struct Group {
        const Fiber* first;
        std::vector<unsigned> threads;
    };
    std::vector<Group> groups;
    for (unsigned i = 0; i < b.size; ++i) {
        const Fiber& f = b.fibers[i];
        if (f.state == FiberState::Done) continue;
        auto same = [&](const Group& g) {
            return g.first->state == f.state && same_site(g.first->site, f.site) && g.first->mask == f.mask &&
                   g.first->op == f.op && (f.state != FiberState::AtBarrier || g.first->barrier_id == f.barrier_id);
        };
        auto it = std::find_if(groups.begin(), groups.end(), same);
        if (it == groups.end()) groups.push_back({&f, {i}});
        else it->threads.push_back(i);
    }
    std::string text = "deadlock: no thread of the block can continue.";
    for (const Group& g : groups) {
        char line[512];
        if (g.first->state == FiberState::AtWarp)
            std::snprintf(line, sizeof line, " Threads %s wait at %s (%s:%d) with mask 0x%08x.",
                          ranges(g.threads).c_str(), g.first->name, g.first->site.file, g.first->site.line,
                          g.first->mask);
        else if (g.first->state == FiberState::AtBarrier && std::strcmp(g.first->name, "bar.sync") == 0)
            std::snprintf(line, sizeof line, " Threads %s wait at bar.sync %u, %u (%s:%d).", ranges(g.threads).c_str(),
                          g.first->barrier_id, g.first->mask, g.first->site.file, g.first->site.line);
        else
            std::snprintf(line, sizeof line, " Threads %s wait at %s (%s:%d).", ranges(g.threads).c_str(),
                          g.first->name, g.first->site.file, g.first->site.line);
        text += line;
    }
    if (b.exited) text += " " + std::to_string(b.exited) + " thread(s) exited.";
    text += " Each warp collective needs every lane of its mask at the same call, __syncthreads every "
            "thread of the block, and bar.sync id, count that many threads.";
    w.current = nullptr;
    device_fault(w, "%s", text.c_str());
}

// Takes the launch's next block for this worker: false when none is left or the launch faulted.
bool claim_block(Job& job, uint64_t& linear) {
    if (job.abort.load(std::memory_order_relaxed)) return false;
    const uint64_t i = job.next_block.fetch_add(1);
    if (i >= job.total_blocks) return false;
    linear = uint64_t((unsigned __int128)i * job.block_stride + job.block_offset) % job.total_blocks;
    return true;
}

void set_block_index(Block& b, const suite_host_launch_config& c, uint64_t linear) {
    b.index[0] = unsigned(linear % c.grid[0]);
    b.index[1] = unsigned(linear / c.grid[0] % c.grid[1]);
    b.index[2] = unsigned(linear / (uint64_t(c.grid[0]) * c.grid[1]));
}

// Lane mode: one fiber of the worker runs its blocks one after another, each through the module's
// lane entry (loops over the block's threads), on a thread's stack with its guard page, without a
// switch until the worker's share of the launch is done.
void lanes_main(void* arg) {
    Worker& w = *static_cast<Worker*>(arg);
    Job& job = *w.job;
    const suite_host_launch_config& c = job.config;
    Block& b = w.block;
    suite_host_thread& t = b.fibers[0].info;
    uint64_t linear;
    while (claim_block(job, linear)) {
        set_block_index(b, c, linear);
        for (int d = 0; d < 3; ++d) t.block_idx[d] = b.index[d];
        ++b.runs;
        if (c.dynamic_smem) std::memset(w.dynamic_smem, 0xff, c.dynamic_smem);
        job.kernel.lanes(job.kernel.context, &t);
        note_progress(w);
    }
    Context finished;
    context_switch(&finished, &w.scheduler);
    __builtin_unreachable();
}

void run_lanes(Worker& w, Job& job) {
    const suite_host_launch_config& c = job.config;
    Block& b = w.block;
    b.size = c.block[0] * c.block[1] * c.block[2];
    b.fibers.resize(1);
    Fiber& f = b.fibers[0];
    suite_host_thread& t = f.info;
    for (int d = 0; d < 3; ++d) {
        t.thread_idx[d] = 0;
        t.block_dim[d] = c.block[d];
        t.grid_dim[d] = c.grid[d];
    }
    t.linear = t.lane = t.warp = 0;
    give_stack(f, take_stack(w));
    f.state = FiberState::Running;
    context_make(&f.ctx, f.stack, lanes_main, &w);
    w.current = &f;
    w.in_kernel = true;
    context_switch(&w.scheduler, &f.ctx);
    w.in_kernel = false;
    w.current = nullptr;
    w.free_stacks.push_back(f.stack);
    f.stack = nullptr;
    f.state = FiberState::Done;
}

void run_block(Worker& w, Job& job, uint64_t linear) {
    const suite_host_launch_config& c = job.config;
    Block& b = w.block;
    set_block_index(b, c, linear);
    b.size = c.block[0] * c.block[1] * c.block[2];
    b.fibers.resize(b.size);
    for (unsigned i = 0; i < b.size; ++i) {
        Fiber& f = b.fibers[i];
        suite_host_thread& t = f.info;
        t.thread_idx[0] = i % c.block[0];
        t.thread_idx[1] = i / c.block[0] % c.block[1];
        t.thread_idx[2] = i / (c.block[0] * c.block[1]);
        for (int d = 0; d < 3; ++d) {
            t.block_idx[d] = b.index[d];
            t.block_dim[d] = c.block[d];
            t.grid_dim[d] = c.grid[d];
        }
        t.linear = i;
        t.lane = i % 32;
        t.warp = i / 32;
        f.state = FiberState::New;
        f.stack = nullptr;
        f.copies.clear();
        f.group_ends.clear();
        f.loads_without_store = 0;
    }
    b.order.resize(b.size);
    for (unsigned i = 0; i < b.size; ++i) b.order[i] = i;
    b.rng = c.seed ^ (linear * 0x9E3779B97F4A7C15ull);
    ++b.runs;
    if (c.schedule == SUITE_HOST_REVERSE) std::reverse(b.order.begin(), b.order.end());
    if (c.schedule == SUITE_HOST_RANDOM) shuffle(b.order, b.size, b.rng);
    b.runnable.assign(b.order.begin(), b.order.end());
    b.runnable_head = 0;
    b.exited = 0;
    b.pending_barriers = 0;
    for (Block::Barrier& bar : b.barriers) bar.arrived = bar.votes = 0;
    b.warp_exited.assign((b.size + 31) / 32, 0u);
    b.warp_waiting.assign((b.size + 31) / 32, 0u);
    b.active_waiting.assign((b.size + 31) / 32, 0u);
    // Shared memory starts as garbage on a GPU: all-ones bytes are NaN in every float format.
    if (c.dynamic_smem) std::memset(w.dynamic_smem, 0xff, c.dynamic_smem);
    if (w.checks) checks_block_start(w);

    // The fibers pass control among themselves; it comes back here when none can run.
    if (Fiber* first = next_fiber(w)) {
        w.current = first;
        context_switch(&w.scheduler, &first->ctx);
    }
    w.current = nullptr;
    if (b.exited != b.size) diagnose_deadlock(w);
    if (job.config.cooperative) leave_grid(job);
}

}  // namespace

bool claim_fault(Job& job) {
    job.abort.store(true);
    bool expected = false;
    return job.fault_claimed.compare_exchange_strong(expected, true);
}

void device_fault(Worker& w, const char* format, ...) {
    Job& job = *w.job;
    if (claim_fault(job)) {
        suite_host_fault& f = *job.fault;
        f.kind = SUITE_HOST_DEVICE_FAULT;
        f.has_block = 1;
        std::memcpy(f.block, w.block.index, sizeof f.block);
        const suite_host_thread* thread = running_thread(w);
        f.has_thread = thread != nullptr;
        if (thread) std::memcpy(f.thread, thread->thread_idx, sizeof f.thread);
        va_list args;
        va_start(args, format);
        std::vsnprintf(f.message, sizeof f.message, format, args);
        va_end(args);
    }
    siglongjmp(w.fault_jump, 1);
}

void run_blocks(Worker& w, Job& job) {
    w.job = &job;
    checks_begin(w, job);
    if (sigsetjmp(w.fault_jump, 1) != 0) {
        // A fault abandoned the block: the stacks of its unfinished fibers are free again.
        for (Fiber& f : w.block.fibers) {
            if (f.stack) w.free_stacks.push_back(f.stack);
            f.stack = nullptr;
        }
        w.in_kernel = false;
        w.current = nullptr;
        checks_end(w);
        return;
    }
    if (job.lanes) {
        run_lanes(w, job);
        checks_end(w);
        return;
    }
    uint64_t linear;
    while (claim_block(job, linear)) {
        w.in_kernel = true;
        run_block(w, job, linear);
        w.in_kernel = false;
        if (job.config.cooperative) break;  // one block per worker: all of them resident
    }
    checks_end(w);
}

void yield_current(Worker& w) {
    if (w.job->abort.load(std::memory_order_relaxed)) device_fault(w, "stopped");  // the fault is already claimed
    Fiber& f = *w.current;
    wake(w.block, f.info.linear);
    Block& b = w.block;
    if (b.runnable[b.runnable_head] == f.info.linear) {  // alone in the queue: nobody to give way to
        ++b.runnable_head;
        f.state = FiberState::Running;
        return;
    }
    switch_to_next(w, &f.ctx);
}

}  // namespace suite_rt

using namespace suite_rt;

extern "C" {

const suite_host_thread* suite_host_self(void) { return &tls_worker->current->info; }

void* suite_host_dynamic_smem(void) { return tls_worker->dynamic_smem; }

static Worker& named_barrier_caller(suite_host_site site, unsigned id) {
    Worker& w = *tls_worker;
    if (id >= kNamedBarriers)
        device_fault(w, "bar.sync %u (%s:%d): barrier ids are 0 to %u", id, site.file, site.line, kNamedBarriers - 1);
    return w;
}

int suite_host_barrier(suite_host_site site, unsigned id, unsigned count, int op, int predicate) {
    return arrive(named_barrier_caller(site, id), site, id, count, op, predicate, true);
}

void suite_host_barrier_arrive(suite_host_site site, unsigned id, unsigned count) {
    arrive(named_barrier_caller(site, id), site, id, count, -1, 0, false);
}

int suite_host_syncthreads(suite_host_site site, int op, int predicate) {
    return arrive(*tls_worker, site, 0, 0, op, predicate, true);
}

void suite_host_yield(suite_host_site) { yield_current(*tls_worker); }

void suite_host_grid_sync(suite_host_site site) {
    Worker& w = *tls_worker;
    if (!w.job->config.cooperative)
        device_fault(w, "this_grid().sync() (%s:%d) needs a cooperative launch (cudaLaunchCooperativeKernel; "
                     "kernel(..., enable_cooperative_groups=True)), which keeps every block of the grid resident",
                     site.file, site.line);
    arrive(w, site, kGridBarrier, 0, -1, 0, true);
}

void suite_host_warp_collective(suite_host_site site, const char* name, unsigned mask, void* record,
                                suite_host_warp_op complete) {
    Worker& w = *tls_worker;
    Block& b = w.block;
    Fiber& f = *w.current;
    const unsigned lane = f.info.lane, warp = f.info.warp, first = warp * 32;
    const unsigned width = std::min(32u, b.size - first);
    const unsigned existing = width == 32 ? ~0u : (1u << width) - 1;
    if (!(mask >> lane & 1))
        device_fault(w, "%s (%s:%d): mask 0x%08x does not name the calling lane %u; each lane must be in its own mask",
                     name, site.file, site.line, mask, lane);
    if (mask & ~existing)
        device_fault(w, "%s (%s:%d): mask 0x%08x names lanes that do not exist: warp %u of this block has %u thread(s)",
                     name, site.file, site.line, mask, warp, width);
    if (const unsigned gone = mask & b.warp_exited[warp])
        device_fault(w, "%s (%s:%d) with mask 0x%08x: lane %u of the mask has exited and will never arrive",
                     name, site.file, site.line, mask, unsigned(__builtin_ctz(gone)));
    f.site = site;
    f.name = name;
    f.mask = mask;
    f.record = record;
    f.op = complete;
    const unsigned waiting = b.warp_waiting[warp] | (1u << lane);
    if ((waiting & mask) == mask) {
        bool match = true;
        void* records[32] = {};
        // __syncwarp may be reached at different sites by the lanes it names (sm_70+).
        const bool any_site = std::strcmp(name, "__syncwarp") == 0;
        for (unsigned lanes = mask; lanes && match; lanes &= lanes - 1) {
            const unsigned l = unsigned(__builtin_ctz(lanes));
            const Fiber& g = b.fibers[first + l];
            match = g.op == complete && g.mask == mask && (any_site || same_site(g.site, site));
            records[l] = g.record;
        }
        if (match) {
            checks_enter_runtime(w);
            complete(records, mask);
            checks_leave_runtime(w);
            if (w.checks) checks_warp_sync(w, warp, mask);
            b.warp_waiting[warp] = waiting & ~mask;
            wake_lanes(w, warp, mask, lane);
            return;
        }
    }
    b.warp_waiting[warp] = waiting;
    block_current(w, f, FiberState::AtWarp);
}

unsigned suite_host_activemask(suite_host_site site) {
    Worker& w = *tls_worker;
    Fiber& f = *w.current;
    unsigned mask = 0;
    f.site = site;
    f.name = "__activemask";
    f.mask = 0;
    f.op = nullptr;  // marks an __activemask wait
    f.record = &mask;
    w.block.active_waiting[f.info.warp] |= 1u << f.info.lane;
    block_current(w, f, FiberState::AtWarp);
    return mask;
}

// Checked builds see the copy as the thread's read of src and write of dst at the cp.async (the
// copy may land any time until the wait); reading dst before the wait is a racecheck finding.
void suite_host_cp_async(suite_host_site site, void* dst, const void* src, unsigned bytes, unsigned src_bytes) {
    Worker& w = *tls_worker;
    const uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
    if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % bytes)
        device_fault(w, "cp.async of %u bytes (%s:%d) needs %u-byte aligned addresses; got dst %p, src %p", bytes,
                     site.file, site.line, bytes, dst, src);
    if (w.checks) {
        if (src_bytes) checks_access(w, reinterpret_cast<uintptr_t>(src), src_bytes, SUITE_HOST_LOAD, pc);
        checks_access(w, reinterpret_cast<uintptr_t>(dst), bytes, SUITE_HOST_STORE, pc);
    }
    std::memset(dst, 0xff, bytes);
    w.current->copies.push_back({dst, src, bytes, src_bytes, pc});
}

void suite_host_cp_async_commit(void) {
    Fiber& f = *tls_worker->current;
    f.group_ends.push_back(f.copies.size());
}

void suite_host_cp_async_wait(int pending) {
    Fiber& f = *tls_worker->current;
    if (int(f.group_ends.size()) <= pending) return;
    const size_t done = f.group_ends[f.group_ends.size() - size_t(pending) - 1];
    for (size_t i = 0; i < done; ++i) {
        const AsyncCopy& c = f.copies[i];
        std::memcpy(c.dst, c.src, c.src_bytes);
        std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, c.bytes - c.src_bytes);
    }
    f.copies.erase(f.copies.begin(), f.copies.begin() + long(done));
    f.group_ends.erase(f.group_ends.begin(), f.group_ends.end() - pending);
    for (size_t& end : f.group_ends) end -= done;
}

void suite_host_trap(suite_host_site site, const char* message) {
    device_fault(*tls_worker, "%s (%s:%d)", message, site.file, site.line);
}

}  // extern "C"
