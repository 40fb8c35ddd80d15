// Force-included after cuda_host.h when a module is built for `suite profile` (SUITE_PROFILE). The
// module is compiled with g++'s address-sanitizer instrumentation, which calls a hook before every
// load and store (profile_hook.cpp records it); what is one instruction on the GPU but many
// accesses or none on the host marks itself through the calls below: the wrappers of
// kernels_cu/common/ (ldmatrix, cp.async, mma) and the special-function built-ins.
#pragma once

#define SUITE_PROFILE 1

extern "C" {
// One lane's part of a warp instruction at the caller's code address. space: 0 global, 1 shared,
// 2 none; kind: 0 load, 1 store; op: 1 ldmatrix, 2 cp.async, 3 mma, 4 special function.
void suite_profile_mark(const void* address, unsigned size, unsigned space, unsigned kind, unsigned op)
    __attribute__((noinline));
}

// Each special-function call is one MUFU operation per thread on the GPU. Function-like macros, so
// `using ::exp2f;` in a later <cmath> is untouched; the inner call is not expanded again.
#define SUITE_PROFILE_SFU(call) (::suite_profile_mark(nullptr, 0, 2, 0, 4), ::call)
#define exp2f(x) SUITE_PROFILE_SFU(exp2f(x))
#define __expf(x) SUITE_PROFILE_SFU(__expf(x))
#define expf(x) SUITE_PROFILE_SFU(expf(x))
#define __log2f(x) SUITE_PROFILE_SFU(__log2f(x))
#define log2f(x) SUITE_PROFILE_SFU(log2f(x))
#define rsqrtf(x) SUITE_PROFILE_SFU(rsqrtf(x))
#define __sinf(x) SUITE_PROFILE_SFU(__sinf(x))
#define __cosf(x) SUITE_PROFILE_SFU(__cosf(x))
