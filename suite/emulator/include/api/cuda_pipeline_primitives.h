// <cuda_pipeline_primitives.h> as the host emulation provides it: the pipeline primitives are
// the emulation's cp.async (suite_host_cp_async and its commit and wait), so a destination read
// before its wait shows all-ones bytes (NaN), as in common/cp_async.cuh.
#pragma once

#include <stddef.h>

// Copies size_and_align (4, 8 or 16) bytes, the last zfill of them zeros, when a wait covers it.
inline void __pipeline_memcpy_async(void* __restrict__ dst_shared, const void* __restrict__ src_global,
                                    size_t size_and_align, size_t zfill = 0,
                                    suite_host_site site = {__builtin_FILE(), __builtin_LINE()}) {
    if ((size_and_align != 4 && size_and_align != 8 && size_and_align != 16) || zfill > size_and_align)
        suite_host_trap(site, "__pipeline_memcpy_async: size_and_align must be 4, 8 or 16 and zfill at most that");
    suite_host_cp_async(site, dst_shared, src_global, unsigned(size_and_align), unsigned(size_and_align - zfill));
}
inline void __pipeline_commit() { suite_host_cp_async_commit(); }
inline void __pipeline_wait_prior(size_t prior) { suite_host_cp_async_wait(int(prior)); }
