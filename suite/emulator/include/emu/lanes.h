// Lane-loop mode (docs/DESIGN.md, "Lane loops"): a block whose threads never wait for each other
// between two points runs as one loop over its threads there, on one stack, instead of one fiber
// per thread. threadIdx & co. read the lane the loop is at (`state`), not the runtime's fiber.
//
// Two kinds of lane entries use it (launch.h runs them, the runtime picks them per launch):
//  - a kernel that reaches no barrier or warp collective: the launcher's loop calls it per lane;
//  - a kernel rewritten by suite/emulator/lanes/fission.py: its barriers split it into regions, each
//    region a SUITE_LANES_FOR loop; values that live across a barrier are lane arrays.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "runtime_api.h"

namespace suite_host {
namespace lanes {

struct State {
    bool on;                  // this OS thread runs a block in lane mode now
    suite_host_thread info;   // the lane being run: what threadIdx, blockIdx, ... read
    unsigned size;            // threads in the block
    unsigned char* exited;    // per lane: 1 once it returned (later regions skip it)
    // Storage of lane arrays: chunks that never move (pointers into them stay valid), reused by
    // the next block (`used` back to 0). Plain members only: a thread_local with a constructor or
    // destructor would get a guard variable, which the checks would take for __shared__ memory.
    char* chunks[64];
    size_t count, chunk, used;
};
inline thread_local State state;

// What a thread of the module knows of itself: the lane in lane mode, else the runtime's fiber.
// Checked builds never run lanes (the checks need a fiber per thread), and must not touch `state`:
// their checks take every thread-local access for one of __shared__ memory.
#ifdef SUITE_HOST_CHECKED
inline const suite_host_thread* self() { return suite_host_self(); }
#else
inline const suite_host_thread* self() { return state.on ? &state.info : suite_host_self(); }
#endif

constexpr size_t kChunkBytes = size_t(1) << 20;

inline void* allocate(size_t bytes, size_t align) {
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
    static_assert(std::is_trivially_destructible<T>::value, "lane arrays hold trivially destructible values");
    constexpr size_t align = alignof(T) > 64 ? alignof(T) : 64;
    void* p = allocate(sizeof(T) * state.size, align);
    return static_cast<T*>(p);
}

// The block starts in lane mode: `block` holds its blockIdx, blockDim and gridDim.
inline void begin_block(const suite_host_thread& block) {
    state.info = block;
    state.size = block.block_dim[0] * block.block_dim[1] * block.block_dim[2];
    state.chunk = 0;
    state.used = 0;
    state.exited = static_cast<unsigned char*>(allocate(state.size, 64));
    for (unsigned i = 0; i < state.size; ++i) state.exited[i] = 0;
    state.on = true;
}

inline void end_block() { state.on = false; }

// The loop over lanes starts at thread (0, 0, 0) ...
inline void first_lane() {
    suite_host_thread& t = state.info;
    t.thread_idx[0] = t.thread_idx[1] = t.thread_idx[2] = 0;
    t.linear = t.lane = t.warp = 0;
}

// ... and steps x fastest, as the linear thread index does.
inline void next_lane() {
    suite_host_thread& t = state.info;
    if (++t.thread_idx[0] == t.block_dim[0]) {
        t.thread_idx[0] = 0;
        if (++t.thread_idx[1] == t.block_dim[1]) {
            t.thread_idx[1] = 0;
            ++t.thread_idx[2];
        }
    }
    ++t.linear;
    t.lane = t.linear % 32;
    t.warp = t.linear / 32;
}

}  // namespace lanes
}  // namespace suite_host

// A region of a rewritten kernel: its body runs once per lane that has not returned, in the
// linear order of the threads (the order the fiber mode's forward schedule runs them in).
// `__suite_lane` is the linear index of the lane (index lane arrays with it). N makes the labels
// of one region unique within the kernel.
#define SUITE_LANES_FOR(N)                                                                         \
    ::suite_host::lanes::first_lane();                                                             \
    for (unsigned __suite_lane = 0; __suite_lane < ::suite_host::lanes::state.size;                \
         ++__suite_lane, ::suite_host::lanes::next_lane()) {                                       \
        if (::suite_host::lanes::state.exited[__suite_lane]) continue;                             \
        {
// `return;` inside region N: the lane is done for the rest of the kernel.
#define SUITE_LANES_EXIT(N)                                       \
    do {                                                          \
        ::suite_host::lanes::state.exited[__suite_lane] = 1;      \
        goto __suite_lanes_next_##N;                              \
    } while (0)
#define SUITE_LANES_END(N) \
    }                      \
    __suite_lanes_next_##N:;                                      \
    }
