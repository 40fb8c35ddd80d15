// 32-bit shared-memory addresses as a GPU gives them (__cvta_generic_to_shared, cvta.to.shared, the
// operands of ld.shared, ldmatrix, cp.async): offsets into the block's shared window. On the host a
// block's static and extern __shared__ arrays are the thread-local storage of the module on the
// worker running the block, so the window is that TLS block: found once per module from the
// program headers (dl_iterate_phdr: PT_TLS and the calling thread's block), then located on each
// worker from a thread-local anchor. Offsets keep the arrays' alignment (the TLS block is aligned
// to the strictest of them), so swizzles on shared addresses compute what they do on a GPU.
#pragma once

#include <link.h>

#include <cstdint>

#include "../lanes.h"
#include "../runtime_api.h"

inline thread_local char __suite_ptx_window_anchor;

struct __suite_ptx_window_layout {
    uintptr_t anchor_offset;  // of the anchor in the module's TLS block
    uintptr_t size;           // of the TLS block: every shared array of the module
};

struct __suite_ptx_window_search {
    uintptr_t anchor;
    __suite_ptx_window_layout found;
};

// Reads the program headers of every loaded object: not accesses of the kernel, so not instrumented
// for the checks.
__attribute__((no_sanitize_thread)) inline int __suite_ptx_window_visit(dl_phdr_info* info, size_t, void* data) {
    auto* s = static_cast<__suite_ptx_window_search*>(data);
    const uintptr_t block = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
    for (int i = 0; block && i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_TLS && s->anchor >= block && s->anchor < block + ph.p_memsz) {
            s->found = {s->anchor - block, ph.p_memsz};
            return 1;
        }
    }
    return 0;
}

__attribute__((no_sanitize_thread)) inline __suite_ptx_window_layout __suite_ptx_window_find() {
    __suite_ptx_window_search search{reinterpret_cast<uintptr_t>(&__suite_ptx_window_anchor), {0, 0}};
    dl_iterate_phdr(__suite_ptx_window_visit, &search);
    return search.found;
}

inline const __suite_ptx_window_layout& __suite_ptx_window() {
    static const __suite_ptx_window_layout layout = __suite_ptx_window_find();
    return layout;
}

__forceinline__ uintptr_t __suite_ptx_window_base() {
    return reinterpret_cast<uintptr_t>(&__suite_ptx_window_anchor) - __suite_ptx_window().anchor_offset;
}

// A shared-window address (32 bits, or a 64-bit register holding one) -> the host pointer; outside the
// window it is the fault a GPU gives (an out-of-range shared address), naming the site.
__forceinline__ char* __suite_ptx_shared_ptr(suite_host_site site, uint64_t address) {
    if (address >= __suite_ptx_window().size)
        suite_host_trap(site, "a shared-memory address outside the block's shared memory (a generic pointer "
                              "where a 32-bit shared address was expected? use __cvta_generic_to_shared)");
    return reinterpret_cast<char*>(__suite_ptx_window_base() + address);
}

__forceinline__ uint64_t __suite_cvta_generic_to_shared(uint64_t generic) { return generic - __suite_ptx_window_base(); }
__forceinline__ uint64_t __suite_cvta_shared_to_generic(uint64_t shared) { return __suite_ptx_window_base() + shared; }

// The CUDA built-ins (sm_20_intrinsics.h): the generic <-> shared conversions and space tests. Global,
// local, constant and generic are one address space on the CPU.
__forceinline__ size_t __cvta_generic_to_shared(const void* p) {
    return size_t(__suite_cvta_generic_to_shared(reinterpret_cast<uintptr_t>(p)));
}
__forceinline__ void* __cvta_shared_to_generic(size_t a) {
    return reinterpret_cast<void*>(__suite_cvta_shared_to_generic(a));
}
__forceinline__ size_t __cvta_generic_to_global(const void* p) { return reinterpret_cast<uintptr_t>(p); }
__forceinline__ void* __cvta_global_to_generic(size_t a) { return reinterpret_cast<void*>(a); }
__forceinline__ size_t __cvta_generic_to_local(const void* p) { return reinterpret_cast<uintptr_t>(p); }
__forceinline__ void* __cvta_local_to_generic(size_t a) { return reinterpret_cast<void*>(a); }
__forceinline__ size_t __cvta_generic_to_constant(const void* p) { return reinterpret_cast<uintptr_t>(p); }
__forceinline__ void* __cvta_constant_to_generic(size_t a) { return reinterpret_cast<void*>(a); }
__forceinline__ bool __suite_in_window(const void* p) {
    return uint64_t(__suite_cvta_generic_to_shared(reinterpret_cast<uintptr_t>(p))) < __suite_ptx_window().size;
}
// Shared: the window, or the worker's dynamic shared memory (SUITE_DYNAMIC_SMEM, common/smem.cuh).
__forceinline__ unsigned __isShared(const void* p) {
    return __suite_in_window(p) || suite_host_space_of(p) == SUITE_HOST_POINTER_SHARED;
}
// Local memory: a thread's stack (the runtime knows them all). A kernel that asks runs on fibers
// (suite_host_space_of is not among what lane loops may call: lane arrays are not stacks).
__forceinline__ unsigned __isLocal(const void* p) { return suite_host_space_of(p) == SUITE_HOST_POINTER_LOCAL; }
// Global: everything else, as a GPU's generic addressing has it.
__forceinline__ unsigned __isGlobal(const void* p) {
    return !__suite_in_window(p) && suite_host_space_of(p) == SUITE_HOST_POINTER_GLOBAL;
}
__forceinline__ unsigned __isConstant(const void* p) { return __isGlobal(p); }
