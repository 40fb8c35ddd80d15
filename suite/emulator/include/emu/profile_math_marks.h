// `suite profile` counts every special-function call of a kernel, the suite's and a user's alike:
// in the host backend's profiled builds, each of these built-ins marks one MUFU operation per
// calling thread (what a GPU spends on it; the accurate sinf/cosf/logf/tanhf cost a few more
// instructions around it) at the caller's line, then computes as usual.
//
// Force-included through cuda_host.h after the emulation's own math (emu/device_math.h), which
// these names must not rename. Function-like macros: `using ::exp2f;` stays untouched, and <cmath>
// is included first because it #undefs exp2f and log2f, so a kernel's later #include <cmath> is a
// no-op. A call spelled std::expf(x) does not compile in a profiled build: write expf(x).
#pragma once

#if defined(SUITE_HOST) && defined(SUITE_HOST_PROFILED)

#include <cmath>

extern "C" void suite_profile_mark(const void* address, unsigned size, unsigned space, unsigned kind, unsigned op)
    __attribute__((weak));

// space 2 (none), kind 0, op 4 (special function): see emu/ptx/profile_hooks.h
#define SUITE_PROFILE_SFU(call) ((::suite_profile_mark ? ::suite_profile_mark(nullptr, 0, 2, 0, 4) : (void)0), ::call)
#define exp2f(x) SUITE_PROFILE_SFU(exp2f(x))
#define __expf(x) SUITE_PROFILE_SFU(__expf(x))
#define expf(x) SUITE_PROFILE_SFU(expf(x))
#define __log2f(x) SUITE_PROFILE_SFU(__log2f(x))
#define log2f(x) SUITE_PROFILE_SFU(log2f(x))
#define __logf(x) SUITE_PROFILE_SFU(__logf(x))
#define logf(x) SUITE_PROFILE_SFU(logf(x))
#define rsqrtf(x) SUITE_PROFILE_SFU(rsqrtf(x))
#define __sinf(x) SUITE_PROFILE_SFU(__sinf(x))
#define __cosf(x) SUITE_PROFILE_SFU(__cosf(x))
#define sinf(x) SUITE_PROFILE_SFU(sinf(x))
#define cosf(x) SUITE_PROFILE_SFU(cosf(x))
#define tanhf(x) SUITE_PROFILE_SFU(tanhf(x))

#endif
