// PTX special registers for translated inline PTX (%laneid, %tid.x, %clock64, ...).
#pragma once

#include <chrono>
#include <cstdint>

#include "../runtime_api.h"
#include "../lanes.h"

__forceinline__ uint32_t __suite_ptx_sreg(unsigned const (suite_host_thread::*field)[3], int axis) {
    return (::suite_host::lanes::self()->*field)[axis];
}
__forceinline__ uint32_t __suite_ptx_sreg_laneid() { return ::suite_host::lanes::self()->linear % 32; }
__forceinline__ uint32_t __suite_ptx_sreg_warpid() { return ::suite_host::lanes::self()->linear / 32; }
// One block runs at a time per worker: every block is on "SM" 0 of one.
__forceinline__ uint32_t __suite_ptx_sreg_smid() { return 0; }
__forceinline__ uint32_t __suite_ptx_sreg_nsmid() { return 1; }
__forceinline__ uint64_t __suite_ptx_sreg_globaltimer() {
    return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count());
}
__forceinline__ uint64_t __suite_ptx_sreg_clock64() { return __suite_ptx_sreg_globaltimer(); }
__forceinline__ uint32_t __suite_ptx_sreg_clock() { return uint32_t(__suite_ptx_sreg_clock64()); }
// which: 0 eq, 1 lt, 2 le, 3 gt, 4 ge (bits of the lanes relative to the caller's)
__forceinline__ uint32_t __suite_ptx_sreg_lanemask(int which) {
    const uint32_t lane = ::suite_host::lanes::self()->linear % 32, eq = 1u << lane, lt = eq - 1;
    switch (which) {
        case 0: return eq;
        case 1: return lt;
        case 2: return lt | eq;
        case 3: return ~(lt | eq);
        default: return ~lt;
    }
}
