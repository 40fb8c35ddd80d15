// Lane-loop mode (docs/DESIGN.md, "Lane loops"): a block whose threads never wait for each other
// between two points runs as one loop over its threads there, on one stack, instead of one fiber
// per thread. threadIdx & co. read the lane the loop is at (State::info), not a fiber's thread.
//
// Two kinds of lane entries use it (launch.h runs them, the runtime picks them per launch):
//  - a kernel that reaches no barrier or warp collective: the launcher's loop calls it per lane;
//  - a kernel rewritten by suite/emulator/lanes/fission.py: its barriers split it into regions, each
//    region a SUITE_LANES_FOR loop; values that live across a barrier are lane arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "runtime_api.h"

namespace suite_host {
namespace lanes {

struct State {
    suite_host_thread info;  // the lane being run: what threadIdx, blockIdx, ... read
    unsigned size;           // threads in the block
    unsigned char* exited;   // per lane: 1 once it returned (later regions skip it)
    // Storage of lane arrays: chunks that never move (pointers into them stay valid), reused by
    // the next block (`used` back to 0). Plain members only: a thread_local with a constructor or
    // destructor would get a guard variable, which the checks would take for __shared__ memory.
    char* chunks[64];
    size_t count, chunk, used;
};
// One per OS thread (a worker runs one block at a time); code reaches it through the stack header.
inline thread_local State storage;

// The header of the fiber stack the caller runs on (runtime_api.h), found from the address of a
// local variable: no memory is read, so the compiler may hoist it out of any loop. (Not an asm
// reading the stack pointer: the inline-PTX translator takes every asm statement for PTX.)
inline suite_host_stack_header* stack_header() {
    char here;
    const uintptr_t sp = reinterpret_cast<uintptr_t>(&here);
    // Aligned, so that the plain build's alignment checks (build.py ALIGNMENT_FLAGS) fold away.
    return static_cast<suite_host_stack_header*>(__builtin_assume_aligned(
        reinterpret_cast<void*>((sp | (SUITE_HOST_STACK_REGION - 1)) + 1 - sizeof(suite_host_stack_header)), 16));
}

// What a thread of the module knows of itself: the lane in lane mode, else its fiber's thread.
// Checked builds ask the runtime (their checks look at every memory access the module makes).
#ifdef SUITE_HOST_CHECKED
inline const suite_host_thread* self() { return suite_host_self(); }
#else
inline const suite_host_thread* self() {
    return static_cast<const suite_host_thread*>(__builtin_assume_aligned(stack_header()->thread, alignof(suite_host_thread)));
}
#endif

// The lane state of the block running on this stack (lane mode only).
inline State& current() { return *static_cast<State*>(__builtin_assume_aligned(stack_header()->lanes, alignof(State))); }

constexpr size_t kChunkBytes = size_t(1) << 20;

inline void* allocate(size_t bytes, size_t align) {
    State& state = current();
    for (;;) {
        if (state.chunk < state.count) {
            const size_t start = (state.used + align - 1) / align * align;
            if (start + bytes <= kChunkBytes) {
                state.used = start + bytes;
                return state.chunks[state.chunk] + start;
            }
            if (bytes > kChunkBytes) suite_host_trap({__FILE__, __LINE__}, "lane array larger than 1 MiB");
            ++state.chunk;
            state.used = 0;
            continue;
        }
        char* fresh = state.count < 64 ? static_cast<char*>(std::aligned_alloc(4096, kChunkBytes)) : nullptr;
        if (!fresh) suite_host_trap({__FILE__, __LINE__}, "out of memory for lane arrays");
        state.chunks[state.count++] = fresh;
    }
}

// One T per thread of the block, for a value that lives across a barrier (indexed by lane).
template <typename T>
T* lane_array() {
    State& state = current();
    static_assert(std::is_trivially_destructible<T>::value, "lane arrays hold trivially destructible values");
    constexpr size_t align = alignof(T) > 64 ? alignof(T) : 64;
    void* p = allocate(sizeof(T) * state.size, align);
    return static_cast<T*>(p);
}

// The block starts in lane mode: `block` holds its blockIdx, blockDim and gridDim; `regions`: a
// rewritten kernel, whose lanes may return before its last region (exited[] tells).
inline void begin_block(const suite_host_thread& block, bool regions) {
    State& state = storage;
    suite_host_stack_header* header = stack_header();
    header->lanes = &state;
    header->thread = &state.info;
    state.info = block;
    state.size = block.block_dim[0] * block.block_dim[1] * block.block_dim[2];
    state.chunk = 0;
    state.used = 0;
    if (!regions) return;
    state.exited = static_cast<unsigned char*>(allocate(state.size, 64));
    for (unsigned i = 0; i < state.size; ++i) state.exited[i] = 0;
}

// The loop over lanes starts at thread (0, 0, 0) ...
inline void first_lane(State& state) {
    suite_host_thread& t = state.info;
    t.thread_idx[0] = t.thread_idx[1] = t.thread_idx[2] = 0;
    t.linear = 0;
}

// ... and steps x fastest, as the linear thread index does.
inline void next_lane(State& state) {
    suite_host_thread& t = state.info;
    if (++t.thread_idx[0] == t.block_dim[0]) {
        t.thread_idx[0] = 0;
        if (++t.thread_idx[1] == t.block_dim[1]) {
            t.thread_idx[1] = 0;
            ++t.thread_idx[2];
        }
    }
    ++t.linear;  // (lane and warp are not kept: module code computes them from linear)
}

}  // namespace lanes
}  // namespace suite_host

// A region of a rewritten kernel: its body runs once per lane that has not returned, in the
// linear order of the threads (the order the fiber mode's forward schedule runs them in).
// `__suite_lane` is the linear index of the lane (index lane arrays with it). N makes the labels
// of one region unique within the kernel.
#define SUITE_LANES_FOR(N)                                                                         \
    {                                                                                              \
        ::suite_host::lanes::State& __suite_state_##N = ::suite_host::lanes::current();           \
        const unsigned __suite_size_##N = __suite_state_##N.size;                                  \
        unsigned char* const __suite_exited_##N = __suite_state_##N.exited;                        \
        ::suite_host::lanes::first_lane(__suite_state_##N);                                        \
        for (unsigned __suite_lane = 0; __suite_lane < __suite_size_##N;                           \
             ++__suite_lane, ::suite_host::lanes::next_lane(__suite_state_##N)) {                  \
            if (__suite_exited_##N[__suite_lane]) continue;                                        \
            {
// `return;` inside region N: the lane is done for the rest of the kernel.
#define SUITE_LANES_EXIT(N)                    \
    do {                                       \
        __suite_exited_##N[__suite_lane] = 1;  \
        goto __suite_lanes_next_##N;           \
    } while (0)
#define SUITE_LANES_END(N)      \
    }                           \
    __suite_lanes_next_##N:;    \
    }                           \
    }
