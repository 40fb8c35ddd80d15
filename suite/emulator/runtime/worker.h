// The state of one launch (Job), of one OS worker thread (Worker) and of the block it runs.
#pragma once

#include <pthread.h>
#include <setjmp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "../include/emu/runtime_api.h"
#include "checks.h"
#include "fiber.h"

namespace suite_rt {

constexpr size_t kFiberStackBytes = 256 * 1024;  // per CUDA thread; local arrays live here
constexpr unsigned kNamedBarriers = 16;              // bar.sync ids 0..15, as on the GPU
constexpr unsigned kGridBarrier = kNamedBarriers;    // the block's slot for this_grid().sync()
// A cooperative launch runs every block at once, one OS thread each: its size is bounded by what
// the fibers' stacks may map (two mappings per CUDA thread).
constexpr uint64_t kMaxCooperativeThreads = 16384;

struct JobChecks;     // checks.cpp: what a checked launch shares between its workers
struct WorkerChecks;  // checks.cpp: a worker's shadows of its block's shared memory

struct Job {
    suite_host_launch_config config;
    suite_host_kernel kernel;
    JobChecks* checks = nullptr;  // null: a plain launch
    std::atomic<uint64_t> progress{0};  // grid syncs opened; the workers count the rest (Worker::progress)
    uint64_t total_blocks;
    uint64_t block_stride, block_offset;  // block b runs as (b * stride + offset) % total
    std::atomic<uint64_t> next_block{0};
    bool lanes = false;  // blocks run through the kernel's lane entry (emu/lanes.h), one fiber each
    std::atomic<bool> abort{false};
    std::atomic<bool> fault_claimed{false};
    suite_host_fault* fault;  // written once, by whoever claims it
    // this_grid().sync() of a cooperative launch: blocks arrived in this round, blocks not finished.
    std::mutex grid_mutex;
    std::condition_variable grid_opened;
    uint64_t grid_arrived = 0, grid_live = 0, grid_round = 0;
};

enum class FiberState { New, Ready, Running, AtBarrier, AtWarp, Done };

struct AsyncCopy {
    void* dst;
    const void* src;
    unsigned bytes, src_bytes;
    uintptr_t pc;  // code address of the cp.async
};

struct Fiber {
    suite_host_thread info;
    FiberState state;
    Context ctx;
    Stack* stack;
    // What the fiber waits at (AtBarrier / AtWarp).
    suite_host_site site;
    const char* name;
    unsigned mask;
    void* record;
    suite_host_warp_op op;
    unsigned barrier_id;  // AtBarrier: which of the block's barriers
    int barrier_result;   // the _count/_and/_or result, set when that barrier opens
    // cp.async: copies issued and not yet applied, in order, and the end of each committed group.
    std::vector<AsyncCopy> copies;
    std::vector<size_t> group_ends;
    unsigned loads_without_store;  // checked builds: a long run of loads yields (a spin on a flag)
};

struct Block {
    unsigned index[3];
    std::vector<Fiber> fibers;
    std::vector<unsigned> order;     // schedule: the order threads start and are woken in
    std::vector<unsigned> runnable;  // FIFO of fibers to run; head at runnable_head
    size_t runnable_head;
    unsigned size, exited;
    // Barriers in progress: the named ones, then the grid sync's block phase (kGridBarrier).
    struct Barrier {
        unsigned arrived, expected;  // expected 0: every thread of the block, exited ones counting
        unsigned votes;              // arrivals with a true predicate
        int op;
        suite_host_site site;        // of the first arrival, for messages
    } barriers[kNamedBarriers + 1];
    unsigned pending_barriers;  // bit i: barriers[i].arrived > 0
    std::vector<unsigned> warp_exited;   // per warp: lanes that exited
    std::vector<unsigned> warp_waiting;  // per warp: lanes waiting at a collective
    std::vector<unsigned> active_waiting;  // per warp: lanes waiting at __activemask
    uint64_t rng;
    uint64_t runs = 0;  // blocks this worker has started: tells one block's run from the next
};

struct Worker {
    int index;
    pthread_t thread;
    uint64_t generation_seen;  // the pool's last launch this worker has looked at
    Context scheduler;
    Fiber* current = nullptr;
    Job* job = nullptr;
    bool in_kernel = false;
    sigjmp_buf fault_jump;
    Block block;
    std::vector<Stack*> free_stacks;
    char* dynamic_smem = nullptr;
    size_t dynamic_capacity = 0;
    WorkerChecks* checks = nullptr;  // during a checked launch
    // Threads exited and barriers opened: the watchdog's sign of life. Only this worker writes it
    // (a plain store, no locked add), on a cache line of its own.
    alignas(64) std::atomic<uint64_t> progress{0};
    char progress_padding[64 - sizeof(std::atomic<uint64_t>)];
};

inline void note_progress(Worker& w) {
    w.progress.store(w.progress.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// The worker running on this OS thread (nullptr on other threads). Initial-exec TLS: the signal
// handler reads it, and that must not allocate.
extern __thread Worker* tls_worker __attribute__((tls_model("initial-exec")));

// The CUDA thread running on `w` now, or nullptr: the one its stack's header names (in lane mode,
// the lane the module's loop is at).
inline const suite_host_thread* running_thread(const Worker& w) {
    if (!w.current) return nullptr;
    return w.current->stack ? w.current->stack->header->thread : &w.current->info;
}

// Runs blocks of `job` until none is left or the launch faulted.
void run_blocks(Worker& worker, Job& job);

// Records the launch's first fault; later ones are dropped (the first is the cause).
bool claim_fault(Job& job);

// Formats a device fault for the current thread and abandons the block (does not return).
[[noreturn]] void device_fault(Worker& worker, const char* format, ...) __attribute__((format(printf, 2, 3)));

void install_signal_handlers();
void prepare_worker_thread();  // alternate signal stack, signal mask
// Stops a worker that runs kernel code which never returns to the scheduler (a watchdog or Ctrl-C
// already claimed the launch's fault): a signal makes it abandon its block.
void interrupt_worker(Worker& w);
// The running fiber goes to the back of its block's queue (a thread spinning on a flag lets the
// others run, as sm_70+ schedules them); stops the block when the launch was aborted.
void yield_current(Worker& w);

}  // namespace suite_rt
