// cg::reduce over a tile or coalesced group. A tile (and a full warp) folds with a butterfly of
// shfl_xor, a partial coalesced group scans and takes its last rank's sum: NVIDIA's sequences, so
// floating-point results round as on the GPU.
#pragma once

#include <cooperative_groups.h>
#include "functional.h"
#include "scan.h"

namespace cooperative_groups {

template <unsigned N, typename Parent, typename T, typename Op>
T reduce(const thread_block_tile<N, Parent>& group, T value, Op op, suite_host_site site = __SUITE_CG_HERE) {
    for (unsigned m = N >> 1; m > 0; m >>= 1) value = op(value, group.shfl_xor(value, m, site));
    return value;
}

template <typename T, typename Op>
T reduce(const coalesced_group& group, T value, Op op, suite_host_site site = __SUITE_CG_HERE) {
    if (group.size() == 32) return reduce(thread_block_tile<32>(group.__suite_mask(), 0, 1), value, op, site);
    const T scanned = inclusive_scan(group, value, op, site);
    return group.shfl(scanned, group.size() - 1, site);
}

}  // namespace cooperative_groups
