// User-level contexts: one per CUDA thread, switched cooperatively on one OS thread.
// x86-64 uses a hand-written switch (callee-saved registers only; no system call). Other CPUs,
// or a build with SUITE_HOST_UCONTEXT, use glibc's ucontext, which also saves the signal mask
// (a system call per switch).
#pragma once

#include <stddef.h>

#include "../include/emu/runtime_api.h"

#if !defined(__x86_64__) && !defined(SUITE_HOST_UCONTEXT)
#define SUITE_HOST_UCONTEXT 1
#endif
#ifdef SUITE_HOST_UCONTEXT
#include <ucontext.h>
#endif

namespace suite_rt {

// A fiber stack: `size` usable bytes above inaccessible guard pages (an overflow faults), below
// the header at the end of its SUITE_HOST_STACK_REGION-aligned region (runtime_api.h).
struct Stack {
    char* guard;  // start of the region (the guard pages)
    char* base;   // lowest usable byte
    size_t size;
    suite_host_stack_header* header;
};

Stack* stack_create(size_t size);  // nullptr when the memory is not available (size: < the region)
void stack_destroy(Stack* stack);

struct Context {
#ifdef SUITE_HOST_UCONTEXT
    ucontext_t uc;
#else
    void* sp = nullptr;
#endif
};

// Prepares `ctx` to run fn(arg) on `stack` at the first switch into it; fn must never return.
void context_make(Context* ctx, Stack* stack, void (*fn)(void*), void* arg);
// Saves the running context in `from` and continues `to`.
void context_switch(Context* from, Context* to);

const char* context_kind();

}  // namespace suite_rt
