#include "fiber.h"

#include <stdint.h>

#include <atomic>
#include <sys/mman.h>
#include <unistd.h>

namespace suite_rt {

Stack* stack_create(size_t size) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE)), region = SUITE_HOST_STACK_REGION;
    size = (size + page - 1) / page * page;
    if (size + page + page > region) return nullptr;
    // Twice the region, then the aligned region kept and the rest given back.
    void* mem = mmap(nullptr, 2 * region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (mem == MAP_FAILED) return nullptr;
    const uintptr_t start = uintptr_t(mem), aligned = (start + region - 1) & ~(region - 1);
    if (aligned > start) munmap(mem, aligned - start);
    if (aligned + region < start + 2 * region) munmap(reinterpret_cast<void*>(aligned + region), start + region - aligned);
    char* guard = reinterpret_cast<char*>(aligned);
    // The last page holds the header. The usable bytes end below it, lower by a different amount
    // for each stack: stacks that start at the same offset of equally aligned regions would put
    // every thread's hot frames in the same cache sets (a barrier touches all of them in turn).
    static std::atomic<unsigned> created{0};
    const size_t color = size_t(created.fetch_add(1, std::memory_order_relaxed) * 37 % 251) * 256;
    char* base = guard + region - page - color - size;
    if (base < guard + page) {
        munmap(guard, region);
        return nullptr;
    }
    if (mprotect(guard, size_t(base - guard), PROT_NONE) != 0) {
        munmap(guard, region);
        return nullptr;
    }
    auto* header = reinterpret_cast<suite_host_stack_header*>(guard + region - sizeof(suite_host_stack_header));
    *header = {nullptr, nullptr};
    return new Stack{guard, base, size, header};
}

void stack_destroy(Stack* stack) {
    munmap(stack->guard, SUITE_HOST_STACK_REGION);
    delete stack;
}

#ifdef SUITE_HOST_UCONTEXT

namespace {
// makecontext passes int arguments only: the pointers travel as two halves each.
void start(unsigned fn_hi, unsigned fn_lo, unsigned arg_hi, unsigned arg_lo) {
    auto fn = reinterpret_cast<void (*)(void*)>((uintptr_t(fn_hi) << 32) | fn_lo);
    fn(reinterpret_cast<void*>((uintptr_t(arg_hi) << 32) | arg_lo));
    __builtin_trap();  // fn never returns
}
}  // namespace

void context_make(Context* ctx, Stack* stack, void (*fn)(void*), void* arg) {
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack->base;
    ctx->uc.uc_stack.ss_size = stack->size;
    ctx->uc.uc_link = nullptr;
    const uintptr_t f = reinterpret_cast<uintptr_t>(fn), a = reinterpret_cast<uintptr_t>(arg);
    makecontext(&ctx->uc, reinterpret_cast<void (*)()>(start), 4, unsigned(f >> 32), unsigned(f),
                unsigned(a >> 32), unsigned(a));
}

void context_switch(Context* from, Context* to) { swapcontext(&from->uc, &to->uc); }

const char* context_kind() { return "ucontext"; }

#else

extern "C" void suite_rt_switch(void** save_sp, void* load_sp);
extern "C" void suite_rt_fiber_start();

// Saves the callee-saved registers on the current stack, stores the stack pointer in *save_sp,
// and restores the same from load_sp. MXCSR and the x87 control word, callee-saved too, are not
// switched: kernels never change them, so every fiber keeps its worker's (10% off a barrier).
// A new fiber's stack is laid out as if it had been switched away from just before
// suite_rt_fiber_start, which calls r13(r12) with the stack 16-byte aligned.
asm(R"(
    .text
    .globl suite_rt_switch
    .hidden suite_rt_switch
    .type suite_rt_switch, @function
    .p2align 4
suite_rt_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size suite_rt_switch, .-suite_rt_switch

    .globl suite_rt_fiber_start
    .hidden suite_rt_fiber_start
    .type suite_rt_fiber_start, @function
    .p2align 4
suite_rt_fiber_start:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size suite_rt_fiber_start, .-suite_rt_fiber_start
)");

void context_make(Context* ctx, Stack* stack, void (*fn)(void*), void* arg) {
    uint64_t* top = reinterpret_cast<uint64_t*>((uintptr_t(stack->base) + stack->size) & ~uintptr_t(15));
    uint64_t* frame = top - 7;
    frame[0] = 0;                                 // r15
    frame[1] = 0;                                 // r14
    frame[2] = reinterpret_cast<uint64_t>(fn);    // r13
    frame[3] = reinterpret_cast<uint64_t>(arg);   // r12
    frame[4] = 0;                                 // rbx
    frame[5] = 0;                                 // rbp
    frame[6] = reinterpret_cast<uint64_t>(&suite_rt_fiber_start);  // return address
    ctx->sp = frame;
}

void context_switch(Context* from, Context* to) { suite_rt_switch(&from->sp, to->sp); }

const char* context_kind() { return "x86-64 switch"; }

#endif

}  // namespace suite_rt
