// Which address space a generic pointer is in (isspacep, __isGlobal, __isLocal), exactly: the
// runtime owns the memory that is not global, so it answers from the ranges it mapped rather than
// from how far the pointer is from the caller's frame (a buffer mapped beside a fiber stack is
// global memory all the same).
#include "worker.h"

namespace suite_rt {
namespace {

bool within(const void* p, const void* start, size_t bytes) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p), s = reinterpret_cast<uintptr_t>(start);
    return start && a >= s && a - s < bytes;
}

bool in_stack(const void* p, const Stack* s) { return s && within(p, s->base, s->size); }

bool in_fiber_stack(const Worker& w, const void* p) {
    if (w.current && in_stack(p, w.current->stack)) return true;  // the caller's own: the usual case
    for (const Fiber& f : w.block.fibers)
        if (in_stack(p, f.stack)) return true;
    for (const Stack* s : w.free_stacks)
        if (in_stack(p, s)) return true;
    return false;
}

}  // namespace
}  // namespace suite_rt

extern "C" int suite_host_space_of(const void* p) {
    using namespace suite_rt;
    const Worker* w = tls_worker;
    if (w && w->in_kernel) {  // (between launches `job` is the last one's, gone)
        if (within(p, w->dynamic_smem, w->job->config.dynamic_smem)) return SUITE_HOST_POINTER_SHARED;
        if (in_fiber_stack(*w, p)) return SUITE_HOST_POINTER_LOCAL;
    }
    return SUITE_HOST_POINTER_GLOBAL;
}
