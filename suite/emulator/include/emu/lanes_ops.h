// Warp collectives over lane arrays, for kernels rewritten by suite/emulator/lanes/fission.py: a
// `x = __shfl*_sync(0xffffffff, v, b, width)` (or a 32-thread tile's shfl*, cg::reduce, a vote) of
// every lane of the block becomes one call here between two regions, reading each lane's v from
// `value` and writing its result to `result`. Same sources as the fiber mode (shfl_source,
// device_warp.h) and the same faults for a mask naming a lane that has exited or does not exist.
#pragma once

#include <cstdio>
#include <cstring>

#include "device_warp.h"
#include "lanes.h"

namespace suite_host {
namespace lanes {

[[noreturn]] inline void collective_fault(suite_host_site site, const char* name, const char* what, unsigned warp,
                                          unsigned lane) {
    static thread_local char message[256];
    std::snprintf(message, sizeof message, "%s with mask 0xffffffff: %s (warp %u, lane %u)", name, what, warp, lane);
    suite_host_trap(site, message);
    __builtin_unreachable();
}

// Whether the warp starting at lane `first` reaches the collective: every lane of it has exited
// (false: none calls it, as in the fiber mode), or every lane the mask names is there to call it
// (true); else the fiber mode's fault. The mask is 0xffffffff, or for a 32-thread tile (`tile`) the
// warp's lanes the block has (a partial last warp is a smaller tile).
inline bool warp_arrives(suite_host_site site, const char* name, unsigned first, bool tile) {
    const State& state = current();
    const unsigned present = state.size - first < 32 ? state.size - first : 32;
    const unsigned char* exited = state.exited + first;
    if (!std::memchr(exited, 1, present)) {
        if (present < 32 && !tile)
            collective_fault(site, name, "the mask names lanes that do not exist in the last warp", first / 32,
                             present);
        return true;
    }
    unsigned gone = 0;
    for (unsigned lane = 0; lane < present; ++lane) gone += exited[lane];
    if (gone == present) return false;
    const unsigned lane = unsigned(static_cast<const unsigned char*>(std::memchr(exited, 1, present)) - exited);
    collective_fault(site, name, "a lane of the mask has exited and will never arrive", first / 32, lane);
}

// What a lane outside the mask holds: all-ones bytes, as the fiber mode's shfl_complete gives.
template <typename T>
T outside_the_mask() {
    T value;
    std::memset(static_cast<void*>(&value), 0xff, sizeof(T));
    return value;
}

// Both collectives below hand each lane's result to `sink(lane, result)` a warp at a time, after
// the whole warp's results are computed (a sink may write the array the values come from: the
// rewrite's `x = SHFL(x, ...)`, `x += SHFL(...)`). A warp that skips the collective (all its lanes
// returned) gets its own values, so a sink stays defined there.
template <typename T, typename Sink>
void shuffle(suite_host_site site, const char* name, Shfl mode, bool tile, const T* value, unsigned b, int width,
             Sink sink) {
    static_assert(std::is_trivially_copyable<T>::value && (sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8),
                  "__shfl*_sync takes a 2-, 4- or 8-byte value (int, float, double, __half, __half2, ...)");
    if (width < 1 || width > 32 || (width & (width - 1)))
        suite_host_trap(site, "__shfl*_sync: width must be a power of two from 1 to 32");
    unsigned source[32];
    for (int lane = 0; lane < 32; ++lane) source[lane] = unsigned(shfl_source(mode, lane, b, width));
    const unsigned size = current().size;
    for (unsigned first = 0; first < size; first += 32) {
        const unsigned present = size - first < 32 ? size - first : 32;
        T got[32];
        if (!warp_arrives(site, name, first, tile))
            for (unsigned lane = 0; lane < present; ++lane) got[lane] = value[first + lane];
        else if (present == 32)
            for (unsigned lane = 0; lane < 32; ++lane) got[lane] = value[first + source[lane]];
        else  // a tile of a partial warp
            for (unsigned lane = 0; lane < present; ++lane)
                got[lane] = source[lane] < present ? value[first + source[lane]] : outside_the_mask<T>();
        for (unsigned lane = 0; lane < present; ++lane) sink(first + lane, got[lane]);
    }
}

// cg::reduce over a block's 32-thread tiles: the emulation's butterfly (cooperative_groups/reduce.h),
// value = op(value, shfl_xor(value, m)) for m = 16 .. 1, on every lane of the tile at once.
template <typename T, typename Op, typename Sink>
void tile_reduce(suite_host_site site, const char* name, const T* value, Op op, Sink sink) {
    const unsigned size = current().size;
    for (unsigned first = 0; first < size; first += 32) {
        const unsigned present = size - first < 32 ? size - first : 32;
        T now[32], next[32];
        for (unsigned lane = 0; lane < present; ++lane) now[lane] = value[first + lane];
        if (warp_arrives(site, name, first, true))
            for (unsigned m = 16; m > 0; m >>= 1) {
                for (unsigned lane = 0; lane < present; ++lane)
                    next[lane] = op(now[lane], (lane ^ m) < present ? now[lane ^ m] : outside_the_mask<T>());
                for (unsigned lane = 0; lane < present; ++lane) now[lane] = next[lane];
            }
        for (unsigned lane = 0; lane < present; ++lane) sink(first + lane, now[lane]);
    }
}

enum class Vote { Ballot, Any, All };

// __ballot_sync / __any_sync / __all_sync with the full mask: `predicate` holds each lane's (0 or 1).
inline void vote(suite_host_site site, const char* name, Vote kind, const int* predicate, unsigned* result) {
    const unsigned size = current().size;
    for (unsigned first = 0; first < size; first += 32) {
        if (!warp_arrives(site, name, first, false)) continue;
        unsigned ballot = 0;
        for (unsigned lane = 0; lane < 32; ++lane) ballot |= unsigned(predicate[first + lane]) << lane;
        const unsigned answer = kind == Vote::Ballot ? ballot : kind == Vote::Any ? ballot != 0 : ballot == ~0u;
        for (unsigned lane = 0; lane < 32; ++lane) result[first + lane] = answer;
    }
}

// __syncthreads_count (op 0), _and (1), _or (2) over the lanes that have not exited, as the barrier
// counts the threads that arrive (runtime/block.cpp).
inline int block_vote(int op, const int* predicate) {
    const State& state = current();
    int votes = 0, arrived = 0;
    for (unsigned lane = 0; lane < state.size; ++lane)
        if (!state.exited[lane]) ++arrived, votes += predicate[lane];
    return op == 0 ? votes : op == 1 ? votes == arrived : votes > 0;
}

}  // namespace lanes
}  // namespace suite_host
