// Denormals as the module's -ftz option says (build.py ftz_flags: __SUITE_FTZ, on by default as
// CuPy compiles): each CUDA thread sets its worker's floating-point mode when it starts. Every
// thread of a launch sets the same mode, so the fibers sharing a worker agree (the fiber switch
// keeps MXCSR; the next launch's threads set theirs). On x86-64 flush-to-zero and
// denormals-are-zero apply to double too, where the GPU flushes only single precision: a host
// departure for double denormals under -ftz=true (-ftz=false keeps them).
#pragma once

#ifndef __SUITE_FTZ
#define __SUITE_FTZ 1
#endif

namespace suite_host {

inline void enter_float_mode() {
#if defined(__x86_64__)
    constexpr unsigned flush = 0x8040;  // MXCSR: FTZ (bit 15) and DAZ (bit 6)
    const unsigned csr = __builtin_ia32_stmxcsr();
    const unsigned want = __SUITE_FTZ ? csr | flush : csr & ~flush;
    if (csr != want) __builtin_ia32_ldmxcsr(want);
#endif
}

}  // namespace suite_host
