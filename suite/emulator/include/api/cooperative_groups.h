// <cooperative_groups.h> as the host emulation provides it (NVIDIA's is written for nvcc's device
// compilation: PTX special registers, __nv builtins). Groups are thin views over the emulation's
// own entry points, so synccheck sees every group collective as the warp collective or barrier
// it is on the GPU: thread_block::sync is __syncthreads, a tile's or coalesced group's sync and
// collectives are __syncwarp / __shfl*_sync / __ballot_sync / __match_any_sync over the group's
// lanes, grid_group::sync is the runtime's grid barrier (cooperative launches only).
//
// A warp-level group is the set of its lanes in the caller's warp (`mask`); a thread's rank is
// the number of group lanes below it. Tiles larger than a warp are not emulated (compile error).
// cg::reduce / inclusive_scan / exclusive_scan (<cooperative_groups/reduce.h>, scan.h) follow the
// shuffle sequences of NVIDIA's implementation, so floating-point results round as on the GPU.
#pragma once

#include <stddef.h>

#include <type_traits>

// The caller's file:line, for fault messages: a default argument of the group's members (GCC
// evaluates __builtin_FILE/LINE in a default argument at the call, also through here()'s own).
#define __SUITE_CG_HERE ::cooperative_groups::__suite_cg::here()

namespace cooperative_groups {

namespace __suite_cg {
inline suite_host_site here(const char* file = __builtin_FILE(), int line = __builtin_LINE()) { return {file, line}; }
inline const suite_host_thread& self() { return *::suite_host::lanes::self(); }
inline unsigned block_threads() { return self().block_dim[0] * self().block_dim[1] * self().block_dim[2]; }
inline unsigned long long grid_blocks() {
    return (unsigned long long)self().grid_dim[0] * self().grid_dim[1] * self().grid_dim[2];
}
inline unsigned long long block_rank() {
    const auto& s = self();
    return ((unsigned long long)s.block_idx[2] * s.grid_dim[1] + s.block_idx[1]) * s.grid_dim[0] + s.block_idx[0];
}
inline unsigned lane() { return self().linear % 32; }
// The lanes of the caller's warp that exist (a block's last warp may be partial).
inline unsigned warp_lanes() {
    const unsigned n = block_threads() - self().linear / 32 * 32;
    return n >= 32 ? ~0u : (1u << n) - 1;
}
inline unsigned rank_in(unsigned mask) { return unsigned(__builtin_popcount(mask & ((1u << lane()) - 1))); }
// The lane that holds rank `rank` of `mask`.
inline unsigned lane_of(unsigned mask, unsigned rank) {
    for (unsigned l = 0; l < 32; ++l)
        if ((mask >> l & 1) && rank-- == 0) return l;
    return lane();
}
// Packs the bits of `bits` that `mask` selects into the low bits, in lane order (ranks).
inline unsigned compact(unsigned bits, unsigned mask) {
    unsigned out = 0, k = 0;
    for (unsigned l = 0; l < 32; ++l)
        if (mask >> l & 1) out |= (bits >> l & 1u) << k++;
    return out;
}
// The tile of `size` lanes (a power of two up to 32) holding the caller, of a parent whose lanes
// are `parent`.
inline unsigned tile_mask(unsigned parent, unsigned size) {
    const unsigned rank = rank_in(parent), first = rank / size * size;
    unsigned mask = 0;
    for (unsigned r = first; r < first + size && r < unsigned(__builtin_popcount(parent)); ++r) mask |= 1u << lane_of(parent, r);
    return mask;
}
}  // namespace __suite_cg

// A group of any kind, as the dynamic tiled_partition returns it.
class thread_group {
  protected:
    enum class kind { block, grid, warp };
    kind kind_;
    unsigned mask_;       // warp groups: the group's lanes of the caller's warp
    unsigned size_;       // warp groups: a tile's size even where a partial warp lacks lanes, as on the GPU
    unsigned meta_rank_;  // warp groups: which tile of the parent (0 for others)
    unsigned meta_size_;
    thread_group(kind k, unsigned mask, unsigned size, unsigned meta_rank, unsigned meta_size)
        : kind_(k), mask_(mask), size_(size), meta_rank_(meta_rank), meta_size_(meta_size) {}
    friend thread_group tiled_partition(const thread_group& parent, unsigned tile_size, suite_host_site site);

  public:
    unsigned long long size() const {
        return kind_ == kind::block ? __suite_cg::block_threads()
               : kind_ == kind::grid ? __suite_cg::grid_blocks() * __suite_cg::block_threads()
                                     : size_;
    }
    unsigned long long num_threads() const { return size(); }
    unsigned long long thread_rank() const {
        return kind_ == kind::block ? __suite_cg::self().linear
               : kind_ == kind::grid ? __suite_cg::block_rank() * __suite_cg::block_threads() + __suite_cg::self().linear
                                     : __suite_cg::rank_in(mask_);
    }
    bool is_valid() const { return true; }
    // The group's lanes in the caller's warp (a block's: the warp's): what a tile partitions.
    unsigned __suite_mask() const { return kind_ == kind::warp ? mask_ : __suite_cg::warp_lanes(); }
    void sync(suite_host_site site = __SUITE_CG_HERE) const {
        if (kind_ == kind::block) suite_host_syncthreads(site, -1, 0);
        else if (kind_ == kind::grid) suite_host_grid_sync(site);  // a fault outside a cooperative launch
        else ::suite_host::syncwarp(site, mask_);
    }
};

// The scratch CUDA 11+ asks a block to provide for tiles of more than 32 threads (declared
// `__shared__`, handed to this_thread_block). The emulation keeps its groups elsewhere: it is empty.
template <unsigned int MaxBlockSize = 1024>
struct block_tile_memory {};

class thread_block : public thread_group {
    thread_block() : thread_group(kind::block, 0, 0, 0, 1) {}
    friend thread_block this_thread_block();
    template <unsigned int MaxBlockSize>
    friend thread_block this_thread_block(block_tile_memory<MaxBlockSize>&);

  public:
    unsigned size() const { return __suite_cg::block_threads(); }
    unsigned num_threads() const { return size(); }
    unsigned thread_rank() const { return __suite_cg::self().linear; }
    dim3 group_index() const { return blockIdx; }
    dim3 thread_index() const { return threadIdx; }
    dim3 dim_threads() const { return blockDim; }
    dim3 group_dim() const { return blockDim; }
    static constexpr bool is_valid() { return true; }
};
inline thread_block this_thread_block() { return thread_block(); }
template <unsigned int MaxBlockSize>
thread_block this_thread_block(block_tile_memory<MaxBlockSize>&) { return thread_block(); }

class grid_group : public thread_group {
    grid_group() : thread_group(kind::grid, 0, 0, 0, 1) {}
    friend grid_group this_grid();

  public:
    dim3 group_dim() const { return gridDim; }
    dim3 dim_blocks() const { return gridDim; }
    dim3 block_index() const { return blockIdx; }
    dim3 dim_threads() const {
        return dim3(gridDim.x * blockDim.x, gridDim.y * blockDim.y, gridDim.z * blockDim.z);
    }
    unsigned long long num_blocks() const { return __suite_cg::grid_blocks(); }
    unsigned long long block_rank() const { return __suite_cg::block_rank(); }
};
inline grid_group this_grid() { return grid_group(); }

// The members shared by coalesced groups and tiles: collectives over the group's lanes, by rank.
class __suite_warp_group : public thread_group {
  protected:
    __suite_warp_group(unsigned mask, unsigned size, unsigned meta_rank, unsigned meta_size)
        : thread_group(kind::warp, mask, size, meta_rank, meta_size) {}

  public:
    unsigned size() const { return size_; }
    unsigned num_threads() const { return size(); }
    unsigned thread_rank() const { return __suite_cg::rank_in(mask_); }
    unsigned meta_group_rank() const { return meta_rank_; }
    unsigned meta_group_size() const { return meta_size_; }
    void sync(suite_host_site site = __SUITE_CG_HERE) const { ::suite_host::syncwarp(site, mask_); }

    template <typename T>
    T shfl(T var, unsigned src_rank, suite_host_site site = __SUITE_CG_HERE) const {
        const unsigned src = __suite_cg::lane_of(mask_, src_rank % size());
        return ::suite_host::shfl_any(site, "cg shfl", ::suite_host::Shfl::Idx, mask_, var, src, 32);
    }
    // A rank outside the group reads the caller's own value, as __shfl_up/down_sync's width does.
    template <typename T>
    T shfl_up(T var, unsigned delta, suite_host_site site = __SUITE_CG_HERE) const {
        const unsigned rank = thread_rank();
        const unsigned src = rank >= delta ? __suite_cg::lane_of(mask_, rank - delta) : __suite_cg::lane();
        return ::suite_host::shfl_any(site, "cg shfl_up", ::suite_host::Shfl::Idx, mask_, var, src, 32);
    }
    template <typename T>
    T shfl_down(T var, unsigned delta, suite_host_site site = __SUITE_CG_HERE) const {
        const unsigned rank = thread_rank();
        const unsigned src = rank + delta < size() ? __suite_cg::lane_of(mask_, rank + delta) : __suite_cg::lane();
        return ::suite_host::shfl_any(site, "cg shfl_down", ::suite_host::Shfl::Idx, mask_, var, src, 32);
    }
    // Bit r of the result is the predicate of rank r.
    unsigned ballot(int predicate, suite_host_site site = __SUITE_CG_HERE) const {
        return __suite_cg::compact(::suite_host::ballot(site, "cg ballot", mask_, predicate), mask_);
    }
    int any(int predicate, suite_host_site site = __SUITE_CG_HERE) const { return ballot(predicate, site) != 0; }
    int all(int predicate, suite_host_site site = __SUITE_CG_HERE) const {
        return ballot(predicate, site) == __suite_cg::compact(mask_, mask_);
    }
    template <typename T>
    unsigned match_any(T value, suite_host_site site = __SUITE_CG_HERE) const {
        return __suite_cg::compact(::suite_host::match_any(site, mask_, value), mask_);
    }
    template <typename T>
    unsigned match_all(T value, int& predicate, suite_host_site site = __SUITE_CG_HERE) const {
        return __suite_cg::compact(::suite_host::match_all(site, mask_, value, &predicate), mask_);
    }
};

class coalesced_group : public __suite_warp_group {
    explicit coalesced_group(unsigned mask) : __suite_warp_group(mask, unsigned(__builtin_popcount(mask)), 0, 1) {}
    friend coalesced_group coalesced_threads(suite_host_site);
    friend class __suite_cg_partition;

  public:
    static constexpr bool __suite_contiguous = false;
};

inline coalesced_group coalesced_threads(suite_host_site site = __SUITE_CG_HERE) {
    return coalesced_group(suite_host_activemask(site));
}

// thread_block_tile<N>: N (a power of two up to 32) consecutive threads of the parent.
template <unsigned N, typename Parent = void>
class thread_block_tile : public __suite_warp_group {
    static_assert(N >= 1 && N <= 32 && (N & (N - 1)) == 0,
                  "not emulated: thread_block_tile larger than a warp (the host emulation takes sizes 1..32)");

  public:
    static constexpr bool __suite_contiguous = true;
    thread_block_tile(unsigned mask, unsigned meta_rank, unsigned meta_size)
        : __suite_warp_group(mask, N, meta_rank, meta_size) {}
    template <typename P>
    thread_block_tile(const thread_block_tile<N, P>& other)
        : __suite_warp_group(other.__suite_mask(), N, other.meta_group_rank(), other.meta_group_size()) {}
    static constexpr unsigned size() { return N; }
    static constexpr unsigned num_threads() { return N; }
    unsigned thread_rank() const { return __suite_cg::rank_in(mask_); }
    template <typename T>
    T shfl_xor(T var, unsigned lane_mask, suite_host_site site = __SUITE_CG_HERE) const {
        const unsigned rank = thread_rank(), other = rank ^ lane_mask;
        const unsigned src = other < N ? __suite_cg::lane_of(mask_, other) : __suite_cg::lane();
        return ::suite_host::shfl_any(site, "cg shfl_xor", ::suite_host::Shfl::Idx, mask_, var, src, 32);
    }
};

// The tile's lanes are N consecutive ranks of the parent's lanes in the caller's warp (a warp's
// first rank in its block is a multiple of 32, so a block's tiles never straddle warps).
template <unsigned N, typename Parent>
thread_block_tile<N, Parent> tiled_partition(const Parent& parent) {
    const unsigned mask = __suite_cg::tile_mask(parent.__suite_mask(), N);
    const unsigned long long rank = parent.thread_rank(), size = parent.size();
    return thread_block_tile<N, Parent>(mask, unsigned(rank / N), unsigned((size + N - 1) / N));
}

inline thread_group tiled_partition(const thread_group& parent, unsigned tile_size,
                                    suite_host_site site = __SUITE_CG_HERE) {
    if (tile_size == 0 || tile_size > 32 || (tile_size & (tile_size - 1)))
        suite_host_trap(site, "not emulated: tiled_partition(group, n) takes a power of two n from 1 to 32");
    if (parent.kind_ == thread_group::kind::grid)
        suite_host_trap(site, "tiled_partition of a grid_group is not supported by CUDA");
    const unsigned mask = __suite_cg::tile_mask(parent.__suite_mask(), tile_size);
    const unsigned long long rank = parent.thread_rank(), size = parent.size();
    return thread_group(thread_group::kind::warp, mask, tile_size, unsigned(rank / tile_size),
                        unsigned((size + tile_size - 1) / tile_size));
}

class __suite_cg_partition {
  public:
    static coalesced_group make(unsigned mask) { return coalesced_group(mask); }
};

// The group's threads whose label equals the caller's (one __match_any_sync over the group).
template <typename Group>
coalesced_group labeled_partition(const Group& group, int label, suite_host_site site = __SUITE_CG_HERE) {
    return __suite_cg_partition::make(::suite_host::match_any(site, group.__suite_mask(), label));
}

// The group's threads whose predicate equals the caller's.
template <typename Group>
coalesced_group binary_partition(const Group& group, bool predicate, suite_host_site site = __SUITE_CG_HERE) {
    const unsigned mask = group.__suite_mask();
    const unsigned set = ::suite_host::ballot(site, "cg binary_partition", mask, predicate);
    return __suite_cg_partition::make(predicate ? set : mask & ~set);
}

template <typename Group> void sync(const Group& group, suite_host_site site = __SUITE_CG_HERE) { group.sync(site); }
template <typename Group> auto thread_rank(const Group& group) { return group.thread_rank(); }
template <typename Group> auto group_size(const Group& group) { return group.size(); }
template <typename Group> auto num_threads(const Group& group) { return group.num_threads(); }

}  // namespace cooperative_groups
