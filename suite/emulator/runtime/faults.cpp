// Hardware faults inside a kernel (wild pointer, guard page, stack overflow, integer division by
// zero) stop the launch instead of the process: the handler, on an alternate stack so that it
// also runs when a fiber stack overflowed, records the fault and jumps back to the worker's
// scheduler. Faults on other threads go to the handler that was installed before ours.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "worker.h"

namespace suite_rt {

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
struct sigaction previous[NSIG];

void chain(int sig, siginfo_t* info, void* uc) {
    const struct sigaction& p = previous[sig];
    if (p.sa_flags & SA_SIGINFO) {
        if (p.sa_sigaction) return p.sa_sigaction(sig, info, uc);
    } else if (p.sa_handler == SIG_IGN) {
        return;
    } else if (p.sa_handler != SIG_DFL) {
        return p.sa_handler(sig);
    }
    // Default action: restore it; returning re-executes the faulting instruction.
    signal(sig, SIG_DFL);
}

// Sent by the launching thread to a worker whose launch must stop (interrupt_worker).
int kick_signal() { return SIGRTMIN + 4; }

void on_signal(int sig, siginfo_t* info, void* uc) {
    Worker* w = tls_worker;
    if (sig == kick_signal()) {
        if (w && w->in_kernel && w->job) siglongjmp(w->fault_jump, 1);
        // Not our worker: another copy of this runtime in the process (a plain and a checked
        // build, say) installed its handler before ours; the kick is for its worker.
        const struct sigaction& p = previous[sig];
        if (!w && (p.sa_flags & SA_SIGINFO) && p.sa_sigaction) p.sa_sigaction(sig, info, uc);
        return;
    }
    if (!w || !w->in_kernel || !w->job) return chain(sig, info, uc);
    Job& job = *w->job;
    if (claim_fault(job)) {
        suite_host_fault& f = *job.fault;
        const char* address = static_cast<const char*>(info->si_addr);
        const Fiber* fiber = w->current;
        const bool overflow = fiber && fiber->stack && address >= fiber->stack->guard && address < fiber->stack->base;
        f.kind = overflow ? SUITE_HOST_STACK_OVERFLOW : SUITE_HOST_SIGNAL;
        f.signal = sig;
        f.address = reinterpret_cast<uint64_t>(address);
        f.has_block = 1;
        std::memcpy(f.block, w->block.index, sizeof f.block);
        const suite_host_thread* thread = running_thread(*w);
        f.has_thread = thread != nullptr;
        if (thread) std::memcpy(f.thread, thread->thread_idx, sizeof f.thread);
    }
    siglongjmp(w->fault_jump, 1);  // restores the signal mask saved by sigsetjmp
}

// Whether `handler` is the signal handler of a build of this runtime (this one or another: the
// other fiber kind, another cache), which chains what is not its own to the one it displaced.
bool runtime_handler(void (*handler)(int, siginfo_t*, void*)) {
    Dl_info where;
    return handler == on_signal ||
           (dladdr(reinterpret_cast<void*>(handler), &where) && where.dli_fname &&
            std::strstr(where.dli_fname, "libsuite_host_rt-"));
}

void reinstall(int sig, const struct sigaction& action) {
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) != 0) return;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction && runtime_handler(current.sa_sigaction)) return;
    sigaction(sig, &action, &previous[sig]);
}

}  // namespace

void install_signal_handlers() {
    // Checked at every launch, not once: a library loaded later (Ray does) may have replaced ours,
    // and a fault in a kernel would then end the process. Ours goes back on top and chains what is
    // not its own to the handler it displaced.
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int sig : kSignals) reinstall(sig, action);
    reinstall(kick_signal(), action);
}

void prepare_worker_thread() {
    // Asynchronous signals (Ctrl-C) belong to the Python thread, not to the workers.
    sigset_t all;
    sigfillset(&all);
    for (int sig : kSignals) sigdelset(&all, sig);
    sigdelset(&all, kick_signal());
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    stack_t alt;
    alt.ss_size = 64 * 1024;
    alt.ss_sp = std::malloc(alt.ss_size);
    alt.ss_flags = 0;
    if (alt.ss_sp) sigaltstack(&alt, nullptr);
}

void interrupt_worker(Worker& w) { pthread_kill(w.thread, kick_signal()); }

}  // namespace suite_rt

extern "C" {

size_t suite_host_page_size(void) { return size_t(sysconf(_SC_PAGESIZE)); }

void* suite_host_guarded_map(size_t bytes) {
    const size_t page = suite_host_page_size();
    void* mem = mmap(nullptr, bytes + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return nullptr;
    char* data = static_cast<char*>(mem) + page;
    if (bytes && mprotect(data, bytes, PROT_READ | PROT_WRITE) != 0) {
        munmap(mem, bytes + 2 * page);
        return nullptr;
    }
    return data;
}

void suite_host_guarded_unmap(void* data, size_t bytes) {
    const size_t page = suite_host_page_size();
    munmap(static_cast<char*>(data) - page, bytes + 2 * page);
}

// Misaligned accesses fault in every launch, as on a GPU: modules are compiled with
// -fsanitize=alignment (suite/emulator/build.py), which checks each dereference against its type's
// alignment and calls this handler (g++'s UBSan ABI; libubsan is never linked) with the source
// location and the type. x86 would otherwise carry out the access silently.
struct suite_ubsan_location {
    const char* file;
    uint32_t line, column;
};
struct suite_ubsan_type {
    uint16_t kind, info;
    char name[1];
};
struct suite_ubsan_type_mismatch {
    suite_ubsan_location location;
    const suite_ubsan_type* type;
    unsigned char log_alignment, check_kind;
};

// Returns only where memcheck runs: its report of the access (argument, offset) follows.
void __ubsan_handle_type_mismatch_v1(void* data, void* pointer) {
    const suite_ubsan_type_mismatch& d = *static_cast<const suite_ubsan_type_mismatch*>(data);
    const char* what = d.check_kind == 0 ? "load of" : d.check_kind == 1 ? "store to" : "access to";
    const unsigned alignment = 1u << d.log_alignment;
    suite_rt::Worker* w = suite_rt::tls_worker;
    if (w && w->in_kernel && w->job && suite_rt::checks_memcheck(*w)) return;
    if (w && w->in_kernel && w->job)
        suite_rt::device_fault(*w, "misaligned address: %s %s at %p, not a multiple of %u bytes (%s:%u)", what,
                               d.type->name, pointer, alignment, d.location.file, d.location.line);
    std::fprintf(stderr, "misaligned %s %s at %p outside a kernel (%s:%u)\n", what, d.type->name, pointer,
                 d.location.file, d.location.line);
    std::abort();
}


}  // extern "C"
