// cg::inclusive_scan / cg::exclusive_scan over a tile or coalesced group. The shuffle sequence is
// the one NVIDIA's implementation runs (Hillis-Steele over ranks: step i adds the value i ranks
// below), so floating-point sums associate, and round, as on the GPU.
#pragma once

#include <type_traits>

#include <cooperative_groups.h>
#include "functional.h"

namespace cooperative_groups {

template <typename Group, typename T, typename Op>
T inclusive_scan(const Group& group, T value, Op op, suite_host_site site = __SUITE_CG_HERE) {
    const unsigned rank = group.thread_rank(), size = group.num_threads();
    for (unsigned i = 1; i < size; i <<= 1) {
        const T below = group.shfl_up(value, i, site);
        if (i <= rank) value = op(value, below);
    }
    return value;
}
template <typename Group, typename T>
T inclusive_scan(const Group& group, T value, suite_host_site site = __SUITE_CG_HERE) {
    return inclusive_scan(group, value, plus<T>(), site);
}

// Rank 0 gets T{}; an integer sum subtracts the own value, as NVIDIA's does, the rest shift by one rank.
template <typename Group, typename T, typename Op>
T exclusive_scan(const Group& group, T value, Op op, suite_host_site site = __SUITE_CG_HERE) {
    const T inclusive = inclusive_scan(group, value, op, site);
    if constexpr (std::is_integral<T>::value && std::is_same<Op, plus<T>>::value) return T(inclusive - value);
    else {
        const T below = group.shfl_up(inclusive, 1, site);
        return group.thread_rank() == 0 ? T{} : below;
    }
}
template <typename Group, typename T>
T exclusive_scan(const Group& group, T value, suite_host_site site = __SUITE_CG_HERE) {
    return exclusive_scan(group, value, plus<T>(), site);
}

}  // namespace cooperative_groups
