// The special-function built-ins (one MUFU operation per thread on the GPU) marked for `suite profile`
// in the host backend's profiled builds (SUITE_HOST_PROFILED); the emulated instructions (ldmatrix,
// mma, cp.async: suite/emulator/include/emu/ptx/) mark themselves.
#pragma once

#if defined(SUITE_HOST) && defined(SUITE_HOST_PROFILED)

// SUITE_PROFILE_MARK and SUITE_PROFILE_TAG come with the emulation (emu/ptx/profile_hooks.h), whose
// instructions mark themselves. Function-like macros, so `using ::exp2f;` in a later <cmath> is
// untouched; the inner call is not expanded again.
#define SUITE_PROFILE_SFU(call) (SUITE_PROFILE_MARK(nullptr, 0, 2, 0, 4), ::call)
#define exp2f(x) SUITE_PROFILE_SFU(exp2f(x))
#define __expf(x) SUITE_PROFILE_SFU(__expf(x))
#define expf(x) SUITE_PROFILE_SFU(expf(x))
#define __log2f(x) SUITE_PROFILE_SFU(__log2f(x))
#define log2f(x) SUITE_PROFILE_SFU(log2f(x))
#define rsqrtf(x) SUITE_PROFILE_SFU(rsqrtf(x))
#define __sinf(x) SUITE_PROFILE_SFU(__sinf(x))
#define __cosf(x) SUITE_PROFILE_SFU(__cosf(x))

#elif !defined(SUITE_HOST)

#define SUITE_PROFILE_MARK(address, size, space, kind, op) ((void)0)
#define SUITE_PROFILE_TAG(op, accesses) ((void)0)

#endif
