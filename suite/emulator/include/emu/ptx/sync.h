// bar.sync / barrier.sync / bar.arrive / bar.red of translated inline PTX, on the runtime's named
// barriers (suite_host_barrier: barrier `id` 0..15, released when `count` threads arrived, 0 meaning
// the whole block).
#pragma once

#include <cstdint>

#include "../runtime_api.h"

__forceinline__ void __suite_ptx_bar_check(suite_host_site site, uint32_t id, uint32_t count) {
    if (id > 15) suite_host_trap(site, "bar/barrier: the barrier number must be 0..15");
    if (count % 32) suite_host_trap(site, "bar/barrier: the thread count must be a multiple of the warp size");
}
__forceinline__ void __suite_ptx_bar_sync(suite_host_site site, uint32_t id, uint32_t count) {
    __suite_ptx_bar_check(site, id, count);
    suite_host_barrier(site, id, count, -1, 0);
}
__forceinline__ void __suite_ptx_bar_arrive(suite_host_site site, uint32_t id, uint32_t count) {
    __suite_ptx_bar_check(site, id, count);
    suite_host_barrier_arrive(site, id, count);
}
// op: 0 popc (a count), 1 and, 2 or.
__forceinline__ uint32_t __suite_ptx_bar_red(suite_host_site site, uint32_t id, uint32_t count, int op, bool p) {
    __suite_ptx_bar_check(site, id, count);
    return uint32_t(suite_host_barrier(site, id, count, op, p));
}
