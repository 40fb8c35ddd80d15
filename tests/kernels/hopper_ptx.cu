// Hopper through inline PTX as CUTLASS and FA3 write it (mbarrier, TMA, elect.sync, setmaxnreg,
// fence.proxy.async, wgmma), for tests/test_emu_hopper_ptx.py: one warpgroup loads A (64 x 64) and
// B (64 x 64) fp16 tiles with 128B-swizzled TMA boxes and multiplies them with four m64n64k16
// wgmma steps along K, reading the tiles as TMA wrote them. Host backend (the PTX is translated).
#include <cuda_fp16.h>

struct alignas(64) TmaMap {
    unsigned long long bytes[16];
};

__device__ __forceinline__ unsigned shared_address(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ bool try_wait(unsigned bar, unsigned parity) {
    unsigned done;
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done) : "r"(bar), "r"(parity) : "memory");
    return done;
}

// K-major, 128B swizzle: 8-row atoms 1024 bytes apart (SBO), LBO unused (1).
__device__ __forceinline__ unsigned long long descriptor(const void* p) {
    return ((unsigned long long)(shared_address(p) & 0x3FFFF) >> 4) | (1ull << 16) | ((1024ull >> 4) << 32) | (1ull << 62);
}

// mode 1: the consumers skip the mbarrier wait (the wgmma reads the tiles before the TMA lands).
extern "C" __global__ void tma_wgmma(const __grid_constant__ TmaMap map_a, const __grid_constant__ TmaMap map_b,
                                     float* out, int mode) {
    extern __shared__ __align__(1024) __half smem[];
    __shared__ __align__(8) unsigned long long bar;
    __half* tile_a = smem;
    __half* tile_b = smem + 64 * 64;
    const unsigned bar_address = shared_address(&bar);
    asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(bar_address), "r"(1) : "memory");
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    if (threadIdx.x < 32) {
        unsigned elected;
        asm volatile("{\n.reg .pred p;\nelect.sync _|p, %1;\nselp.u32 %0, 1, 0, p;\n}\n" : "=r"(elected) : "r"(0xffffffffu));
        if (elected) {
            asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n"
                         :: "r"(bar_address), "r"((64 + 64) * 64 * 2) : "memory");
            asm volatile("prefetch.tensormap [%0];\n" :: "l"(&map_a) : "memory");
            asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                         :: "r"(shared_address(tile_a)), "l"(&map_a), "r"(0), "r"(0), "r"(bar_address) : "memory");
            asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                         :: "r"(shared_address(tile_b)), "l"(&map_b), "r"(0), "r"(0), "r"(bar_address) : "memory");
        }
    }
    if (mode != 1) while (!try_wait(bar_address, 0)) {}
    float d[32];
    for (int i = 0; i < 32; ++i) d[i] = 0.0f;
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
    for (int k = 0; k < 4; ++k) {  // k16 steps: +32 bytes inside the swizzled 128-byte rows
        const unsigned long long desc_a = descriptor(tile_a + 16 * k), desc_b = descriptor(tile_b + 16 * k);
        const int accumulate = k > 0;
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                     : "l"(desc_a), "l"(desc_b), "r"(accumulate));
    }
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(0) : "memory");
    for (int i = 0; i < 32; ++i) out[threadIdx.x * 32 + i] = d[i];
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
