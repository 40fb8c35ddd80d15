// A launch: blocks are handed out to a pool of OS worker threads, one block at a time each.
// The pool lives for the process (threads are started when a launch first needs them) and runs
// one launch at a time; the caller waits for the last worker to finish.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include <chrono>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <numeric>

#include "worker.h"

namespace suite_rt {

__thread Worker* tls_worker __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

struct Pool {
    std::mutex mutex;
    std::condition_variable work, done;
    std::vector<Worker*> workers;
    Job* job = nullptr;
    uint64_t generation = 0;
    int running = 0;
    std::mutex launch;  // one launch at a time
};

Pool* pool = new Pool;  // never destroyed: workers may outlive static destructors at exit

void* worker_main(void* arg) {
    Worker* w = static_cast<Worker*>(arg);
    prepare_worker_thread();
    tls_worker = w;
    std::unique_lock<std::mutex> lock(pool->mutex);
    uint64_t seen = w->generation_seen;
    for (;;) {
        pool->work.wait(lock, [&] { return pool->generation != seen; });
        seen = pool->generation;
        Job* job = pool->job;  // null when this worker wakes after a launch it had no part in
        if (!job || w->index >= job->config.workers) continue;
        lock.unlock();
        run_blocks(*w, *job);
        lock.lock();
        if (--pool->running == 0) pool->done.notify_all();
    }
}

// After fork() only the forking thread exists: forget the workers (the child starts new ones).
void forget_workers_after_fork() {
    pool = new (std::nothrow) Pool;
}

bool grow_pool(int count) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, [] { pthread_atfork(nullptr, nullptr, forget_workers_after_fork); });
    while (int(pool->workers.size()) < count) {
        Worker* w = new Worker;
        w->index = int(pool->workers.size());
        w->generation_seen = pool->generation;  // launches before this one are not its business
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        const int rc = pthread_create(&thread, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            delete w;
            return false;
        }
        w->thread = thread;
        pool->workers.push_back(w);
    }
    return true;
}

// Mapped on its own (page-aligned, so 1024-byte aligned too), never in the heap beside the
// kernel's arrays: a wild access near an array must not land in a block's shared memory.
bool reserve_dynamic_smem(uint64_t bytes) {
    for (Worker* w : pool->workers) {
        if (w->dynamic_capacity >= bytes) continue;
        if (w->dynamic_smem) munmap(w->dynamic_smem, w->dynamic_capacity);
        void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        w->dynamic_smem = mem == MAP_FAILED ? nullptr : static_cast<char*>(mem);
        w->dynamic_capacity = w->dynamic_smem ? bytes : 0;
        if (!w->dynamic_smem) return false;
    }
    return true;
}

void host_error(suite_host_fault* fault, const char* message) {
    fault->kind = SUITE_HOST_DEVICE_FAULT;
    std::snprintf(fault->message, sizeof fault->message, "%s", message);
}

// Block order: b -> (b * stride + offset) % total, a permutation when gcd(stride, total) == 1.
void block_order(Job& job) {
    const uint64_t total = job.total_blocks;
    job.block_stride = 1;
    job.block_offset = 0;
    if (job.config.schedule == SUITE_HOST_REVERSE) {
        job.block_stride = total - 1;
        job.block_offset = total - 1;
    } else if (job.config.schedule == SUITE_HOST_RANDOM && total > 1) {
        uint64_t s = job.config.seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
        uint64_t stride = (s >> 7) % total;
        while (std::gcd(stride, total) != 1) stride = (stride + 1) % total;
        job.block_stride = stride;
        job.block_offset = (s >> 23) % total;
    }
}

// Ctrl-C during a launch: the Python thread waits here, so its handler could not run; ours notes
// the interrupt and the launch ends with a fault (the previous handler is back afterwards).
volatile sig_atomic_t interrupted = 0;

void on_interrupt(int) { interrupted = 1; }

struct InterruptGuard {
    struct sigaction previous;
    bool installed = false;
    InterruptGuard() {
        interrupted = 0;
        struct sigaction action;
        std::memset(&action, 0, sizeof action);
        action.sa_handler = on_interrupt;
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGINT, nullptr, &previous) == 0 && previous.sa_handler != SIG_IGN)
            installed = sigaction(SIGINT, &action, nullptr) == 0;
    }
    ~InterruptGuard() {
        if (installed) sigaction(SIGINT, &previous, nullptr);
    }
};

// Ends a launch that does not finish: the fault says why; workers stuck in kernel code are
// interrupted (again each round, until all have returned).
void stop_launch(Job& job, const char* why) {
    if (claim_fault(job)) host_error(job.fault, why);
    for (Worker* w : pool->workers)
        if (w->index < job.config.workers && w->in_kernel) interrupt_worker(*w);
}

uint64_t progress_of(const Job& job) {
    uint64_t sum = job.progress.load(std::memory_order_relaxed);
    for (const Worker* w : pool->workers) sum += w->progress.load(std::memory_order_relaxed);
    return sum;
}

// Waits for the workers, watching for Ctrl-C and for a launch without progress (no thread
// exited and no barrier opened) for config.timeout_s seconds.
void wait_for_workers(Job& job, std::unique_lock<std::mutex>& lock) {
    using Clock = std::chrono::steady_clock;
    uint64_t seen = progress_of(job);
    Clock::time_point last = Clock::now();
    char why[256] = "";
    while (!pool->done.wait_for(lock, std::chrono::milliseconds(50), [] { return pool->running == 0; })) {
        const uint64_t now_progress = progress_of(job);
        if (now_progress != seen) seen = now_progress, last = Clock::now();
        if (interrupted)
            std::snprintf(why, sizeof why, "the launch was interrupted (Ctrl-C) before it finished");
        else if (job.config.timeout_s > 0 && Clock::now() - last > std::chrono::duration<double>(job.config.timeout_s))
            std::snprintf(why, sizeof why,
                          "no progress for %g s (no thread finished, no barrier opened): a thread that never "
                          "finishes, or one that waits for a flag nothing sets (SUITE_HOST_TIMEOUT sets the limit)",
                          job.config.timeout_s);
        if (why[0]) stop_launch(job, why);
    }
}

}  // namespace

}  // namespace suite_rt

using namespace suite_rt;

extern "C" int suite_host_run(const suite_host_launch_config* config, const suite_host_kernel* kernel,
                              suite_host_fault* fault) {
    std::memset(fault, 0, sizeof *fault);
    fault->stack_size = kFiberStackBytes;
    install_signal_handlers();
    std::lock_guard<std::mutex> launch(pool->launch);
    Job job;
    job.config = *config;
    job.kernel = *kernel;
    job.fault = fault;
    job.total_blocks = uint64_t(config->grid[0]) * config->grid[1] * config->grid[2];
    if (job.total_blocks == 0 || config->block[0] * config->block[1] * config->block[2] == 0) return SUITE_HOST_OK;
    block_order(job);
    const uint64_t threads = uint64_t(config->block[0]) * config->block[1] * config->block[2];
    if (config->cooperative && job.total_blocks * threads > kMaxCooperativeThreads) {
        std::snprintf(fault->message, sizeof fault->message,
                      "cooperative launch of %llu block(s) of %llu thread(s): the host runs every block of a "
                      "cooperative launch at once and holds at most %llu threads so",
                      (unsigned long long)job.total_blocks, (unsigned long long)threads,
                      (unsigned long long)kMaxCooperativeThreads);
        fault->kind = SUITE_HOST_DEVICE_FAULT;
        return fault->kind;
    }
    if (config->cooperative && config->checks && (config->checks->flags & SUITE_HOST_RACECHECK)) {
        // Its shadow of global memory is kept by one worker, and it takes blocks as never ordered,
        // which a grid sync orders.
        host_error(fault, "racecheck does not cover cooperative launches (blocks ordered by this_grid().sync()); run "
                          "this kernel under memcheck/initcheck, or racecheck it without the grid sync");
        return fault->kind;
    }
    job.grid_live = job.total_blocks;
    // Lane loops run the threads of a block in the forward order, with no check watching.
    job.lanes = config->lanes && kernel->lanes && !config->checks && !config->cooperative &&
                config->schedule == SUITE_HOST_FORWARD;
    // A cooperative launch gives each block its own worker (static __shared__ is per worker thread).
    const int workers = config->cooperative ? int(job.total_blocks)
                                            : int(std::min<uint64_t>(uint64_t(std::max(config->workers, 1)), job.total_blocks));
    job.config.workers = workers;
    if (!grow_pool(workers)) {
        host_error(fault, "cannot start the worker threads of the host backend (pthread_create failed)");
        return fault->kind;
    }
    if (!reserve_dynamic_smem(config->dynamic_smem)) {
        host_error(fault, "out of memory for the blocks' dynamic shared memory");
        return fault->kind;
    }
    checks_prepare(job);
    {
        InterruptGuard interrupt;
        std::unique_lock<std::mutex> lock(pool->mutex);
        pool->job = &job;
        pool->running = workers;
        ++pool->generation;
        pool->work.notify_all();
        wait_for_workers(job, lock);
        pool->job = nullptr;
    }
    checks_finish(job);
    return fault->kind;
}
