// cp.async forms of inline PTX for tests/test_emu_ptx_async.py: .ca 4/8/16 and .cg 16 bytes, with
// src-size (zero fill), ignore-src and a cache hint, and commit_group / wait_group / wait_all.
#define CP_ASYNC(kind, bytes)                                                                                 \
    extern "C" __global__ void cp_##kind##_##bytes(const unsigned char* src, unsigned char* out,             \
                                                   const unsigned* src_size) {                               \
        __shared__ __align__(16) unsigned char tile[32 * 16];                                                 \
        const int t = threadIdx.x;                                                                            \
        const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(tile + t * bytes));              \
        asm volatile("cp.async." #kind ".shared.global [%0], [%1], " #bytes ", %2;\n" ::"r"(dst),            \
                     "l"(src + t * bytes), "r"(src_size[t]));                                                 \
        asm volatile("cp.async.wait_all;\n" ::);                                                             \
        for (int i = 0; i < bytes; ++i) out[t * bytes + i] = tile[t * bytes + i];                            \
    }
CP_ASYNC(ca, 4)
CP_ASYNC(ca, 8)
CP_ASYNC(ca, 16)
CP_ASYNC(cg, 16)

// ignore-src as a predicate, and a cache-policy operand (a hint), 16 bytes per thread.
extern "C" __global__ void cp_ignore_src(const unsigned char* src, unsigned char* out, const unsigned* ignore) {
    __shared__ __align__(16) unsigned char tile[32 * 16];
    const int t = threadIdx.x;
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(tile + t * 16));
    unsigned long long policy;
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
    asm volatile("{ .reg .pred p; setp.ne.b32 p, %3, 0;\n"
                 "cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, p, %2; }\n" ::"r"(dst),
                 "l"(src + t * 16), "l"(policy), "r"(ignore[t]));
    asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::);
    for (int i = 0; i < 16; ++i) out[t * 16 + i] = tile[t * 16 + i];
}

// Four groups of one 4-byte copy each; after wait_group N, the first 4 - N groups have landed and the
// newest N may not have (the host emulation poisons their destination with all-ones bytes, a NaN,
// until a wait covers them; reading them is a bug the test kernel makes on purpose).
template <int N>
__global__ void wait_groups(const float* src, float* seen) {
    __shared__ __align__(16) float tile[4 * 32];
    const int t = threadIdx.x;
    for (int g = 0; g < 4; ++g) {
        tile[g * 32 + t] = -1.0f;
        const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(&tile[g * 32 + t]));
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\ncp.async.commit_group;\n" ::"r"(dst),
                     "l"(src + g * 32 + t));
    }
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
    for (int g = 0; g < 4; ++g) seen[g * 32 + t] = tile[g * 32 + t];
}
template __global__ void wait_groups<0>(const float*, float*);
template __global__ void wait_groups<1>(const float*, float*);
template __global__ void wait_groups<3>(const float*, float*);
