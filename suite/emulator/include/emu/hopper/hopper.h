// Hopper (sm_90a) for kernels on the host: the runtime's mbarrier, TMA, bulk-copy and wgmma
// emulation (hopper_api.h), the emulation's tensor map (tensormap.h) and the instructions that
// need no runtime state. The inline-PTX translator maps PTX mnemonics onto these functions.
#pragma once

#include "hopper_api.h"
#include "tensormap.h"

// elect.sync: every lane of `mask` takes part; the lowest one is elected.
inline bool __suite_elect_sync(suite_host_site site, unsigned mask) {
    if (!(mask >> (::suite_host::lanes::self()->linear % 32) & 1))
        suite_host_trap(site, "elect.sync: the member mask does not name the calling lane");
    ::suite_host::syncwarp(site, mask);
    return (::suite_host::lanes::self()->linear % 32) == unsigned(__builtin_ctz(mask));
}
