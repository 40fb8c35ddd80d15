// wgmma kernels for tests/test_emu_hopper_wgmma.py, written against the emulation's C functions
// (include/emu/hopper/hopper_api.h); host backend only. Each warpgroup runs one m64nNk16 on a
// shared-memory image the test lays out, with descriptors the test encodes relative to the image
// (the kernel adds the image's shared address).
#define HERE SUITE_HOST_SITE

struct Mma {
    uint64_t desc_a, desc_b;
    int n, type_ab, type_d, scale_d, scale_a, scale_b, tnsp_a, tnsp_b, rs, chain;
};

// d_init/out: per thread of the block, n/2 floats (f32) or n/4 words (f16x2). a_regs: per thread,
// 4 words (RS). chain: a second mma_async on the same accumulators before the commit (D += A*B twice).
// mode (misuse): 1 no fence, 2 write an accumulator before the wait, 3 write an A register before
// the wait, 4 half of each warp skips the mma_async.
extern "C" __global__ void gemm(const unsigned char* image, int image_bytes, const Mma* mma, const uint32_t* d_init,
                                const uint32_t* a_regs, uint32_t* out, int mode) {
    extern __shared__ __align__(1024) unsigned char smem[];
    for (int i = threadIdx.x; i < image_bytes; i += blockDim.x) smem[i] = image[i];
    __syncthreads();
    const Mma m = *mma;
    const int regs = m.type_d == __SUITE_WGMMA_F32 ? m.n / 2 : m.n / 4;
    uint32_t d[128];
    uint32_t a[4];
    for (int i = 0; i < regs; ++i) d[i] = d_init[threadIdx.x * regs + i];
    for (int i = 0; i < 4; ++i) a[i] = a_regs[threadIdx.x * 4 + i];
    const uint64_t base = __cvta_generic_to_shared(smem) >> 4;  // descriptors count 16-byte units
    __suite_wgmma_op op{};
    op.n = m.n, op.type_ab = m.type_ab, op.type_d = m.type_d;
    for (int i = 0; i < regs; ++i) op.d[i] = &d[i];
    op.desc_a = m.desc_a + base, op.desc_b = m.desc_b + base;
    op.rs = m.rs, op.a_watch = a;
    for (int i = 0; i < 4; ++i) op.a_values[i] = a[i];
    op.scale_d = m.scale_d, op.scale_a = m.scale_a, op.scale_b = m.scale_b, op.tnsp_a = m.tnsp_a, op.tnsp_b = m.tnsp_b;
    op.window = reinterpret_cast<const char*>(__suite_ptx_window_base()), op.window_bytes = __suite_ptx_window().size;
    if (mode != 1) __suite_wgmma_fence(HERE);
    if (mode != 4 || threadIdx.x % 32 < 16) __suite_wgmma_mma_async(HERE, &op);  // fault 1 and fault 4
    if (m.chain) {
        op.scale_d = 1;
        __suite_wgmma_mma_async(HERE, &op);
    }
    __suite_wgmma_commit_group(HERE);
    if (mode == 2) d[1] = 0;
    if (mode == 3) a[2] = 0;
    __suite_wgmma_wait_group(HERE, 0);  // fault 2 and fault 3
    for (int i = 0; i < regs; ++i) out[threadIdx.x * regs + i] = d[i];
}
