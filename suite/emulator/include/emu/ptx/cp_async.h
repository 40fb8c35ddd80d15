// cp.async of translated inline PTX and of common/cp_async.cuh, on the runtime's per-thread copy
// groups (suite_host_cp_async*): applied at the wait that covers them, the destination poisoned
// until then, so a missing wait shows up as NaN.
#pragma once

#include <cstdint>

#include "../runtime_api.h"
#include "profile_hooks.h"

// One LDGSTS per lane: the runtime reports its global read (none when zero-filled) and its shared
// write to `suite profile`, which counts them as the cp.async they are.
__forceinline__ void __suite_ptx_cp_async(suite_host_site site, void* dst, const void* src, unsigned bytes,
                                          unsigned src_bytes) {
    // An opaque size keeps g++ from duplicating the call for zero-filled and copied chunks: one code
    // address per cp.async, as on the GPU, so `suite profile` groups the lanes of a warp correctly.
    asm volatile("" : "+r"(src_bytes));
    if (reinterpret_cast<uintptr_t>(dst) % bytes || reinterpret_cast<uintptr_t>(src) % bytes)
        suite_host_trap(site, "cp.async: the source and destination must be aligned to the copy size");
    SUITE_PROFILE_TAG(2, src_bytes ? 2 : 1);
    suite_host_cp_async(site, dst, src, bytes, src_bytes);
}

// The copy size: 4, 8 or 16 bytes (16 for .cg).
__forceinline__ unsigned __suite_ptx_cp_size(suite_host_site site, uint32_t bytes, bool cg) {
    if (!(bytes == 4 || bytes == 8 || bytes == 16) || (cg && bytes != 16))
        suite_host_trap(site, "cp.async: the copy size must be 4, 8 or 16 bytes (16 for cp.async.cg)");
    return bytes;
}

// src-size above the copy size is undefined in PTX: a fault naming the site.
__forceinline__ unsigned __suite_ptx_src_size(suite_host_site site, uint32_t src_size, unsigned bytes) {
    if (src_size > bytes) suite_host_trap(site, "cp.async: src-size is larger than the copy size");
    return src_size;
}
