// cg::memcpy_async / cg::wait / cg::wait_prior: a group copies global to shared memory together.
// Each thread of the group issues its share as the emulation's cp.async (the destination reads
// as all-ones bytes, NaN, until the wait), and one commit per call makes it a batch of the
// thread's cp.async groups, as on sm_80+; wait completes the batches and syncs the group.
#pragma once

#include <stddef.h>

#include <cooperative_groups.h>

namespace cooperative_groups {

// bytes: a size_t or a cuda::aligned_size_t<N> (it converts to size_t).
template <typename Group, typename Size>
void memcpy_async(const Group& group, void* dst, const void* src, Size size, suite_host_site site = __SUITE_CG_HERE) {
    const size_t bytes = size_t(size);
    const uintptr_t both = uintptr_t(dst) | uintptr_t(src) | bytes;
    const unsigned chunk = both % 16 == 0 ? 16 : both % 8 == 0 ? 8 : both % 4 == 0 ? 4 : both % 2 == 0 ? 2 : 1;
    const size_t rank = size_t(group.thread_rank()), threads = size_t(group.num_threads());
    for (size_t at = rank * chunk; at < bytes; at += threads * chunk)
        suite_host_cp_async(site, static_cast<char*>(dst) + at, static_cast<const char*>(src) + at, chunk, chunk);
    suite_host_cp_async_commit();
}

// The element form: copies min(dst_count, src_count) elements of T.
template <typename Group, typename T>
void memcpy_async(const Group& group, T* dst, size_t dst_count, const T* src, size_t src_count,
                  suite_host_site site = __SUITE_CG_HERE) {
    memcpy_async(group, static_cast<void*>(dst), static_cast<const void*>(src),
                 (dst_count < src_count ? dst_count : src_count) * sizeof(T), site);
}

template <unsigned Pending, typename Group>
void wait_prior(const Group& group, suite_host_site site = __SUITE_CG_HERE) {
    suite_host_cp_async_wait(int(Pending));
    group.sync(site);
}

template <typename Group>
void wait(const Group& group, suite_host_site site = __SUITE_CG_HERE) {
    wait_prior<0>(group, site);
}

}  // namespace cooperative_groups
