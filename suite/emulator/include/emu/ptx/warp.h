// shfl.sync (with its valid-lane predicate) and match.sync of translated inline PTX, as warp
// collectives (suite_host_warp_collective), so synccheck and racecheck see them as they see
// __shfl_sync; vote and redux reuse device_warp.h's ballot and reduce.
#pragma once

#include <cstdint>

#include "../device_warp.h"

// mode: 0 idx, 1 up, 2 down, 3 bfly; c packs the clamp (bits 0-4) and the segment mask (bits 8-12),
// as the PTX ISA's shfl.sync defines them.
__forceinline__ uint32_t __suite_ptx_shfl(suite_host_site site, int mode, uint32_t a, uint32_t b, uint32_t c,
                                          uint32_t mask, bool* valid) {
    const int lane = int(::suite_host::lanes::self()->linear % 32);
    const int segmask = int(c >> 8) & 31, clamp = int(c) & 31;
    const int max_lane = (lane & segmask) | (clamp & ~segmask), min_lane = lane & segmask;
    int j;
    bool p;
    switch (mode) {
        case 1: j = lane - int(b); p = j >= max_lane; break;
        case 2: j = lane + int(b); p = j <= max_lane; break;
        case 3: j = lane ^ int(b & 31); p = j <= max_lane; break;
        default: j = min_lane | (int(b & 31) & ~segmask); p = j <= max_lane; break;
    }
    *valid = p;
    suite_host::ShflRecord<uint32_t> record{a, p ? j : lane, a};
    suite_host_warp_collective(site, "shfl.sync", mask, &record, suite_host::shfl_complete<uint32_t>);
    return record.result;
}

template <typename T>
struct __suite_ptx_match_record {
    T value;
    uint32_t result;
    bool all;
};

// match.sync.any: the lanes of the mask holding the same value; .all: the mask if all hold it, else 0
// (and the predicate says which).
template <typename T>
__forceinline__ uint32_t __suite_ptx_match(suite_host_site site, bool all, T value, uint32_t mask, bool* pred) {
    __suite_ptx_match_record<T> record{value, 0, false};
    suite_host_warp_collective(site, all ? "match.sync.all" : "match.sync.any", mask, &record,
                               [](void* const* records, unsigned m) {
                                   auto at = [&](unsigned l) { return static_cast<__suite_ptx_match_record<T>*>(records[l]); };
                                   for (unsigned l = 0; l < 32; ++l) {
                                       if (!(m >> l & 1)) continue;
                                       uint32_t same = 0;
                                       for (unsigned k = 0; k < 32; ++k)
                                           if ((m >> k & 1) && at(k)->value == at(l)->value) same |= 1u << k;
                                       at(l)->result = same;
                                       at(l)->all = same == m;
                                   }
                               });
    if (all) {
        *pred = record.all;
        return record.all ? mask : 0u;
    }
    *pred = true;
    return record.result;
}
