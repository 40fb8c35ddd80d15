// TMA and bulk-copy kernels for tests/test_emu_hopper_tma.py, written against the emulation's C
// functions (include/emu/hopper/hopper_api.h); host backend only.
#define HERE SUITE_HOST_SITE

struct alignas(64) TmaMap {
    unsigned long long bytes[16];
};

// One box at `coords` into dynamic shared memory at byte `offset`, then the raw shared bytes out.
// early: also copy the bytes out before waiting (what a missing wait reads).
extern "C" __global__ void load_box(const __grid_constant__ TmaMap map, int rank, const int* coords, int box_bytes,
                                   int offset, unsigned char* out, unsigned char* early) {
    __shared__ uint64_t bar;
    extern __shared__ unsigned char smem[];
    if (threadIdx.x == 0) {
        __suite_mbarrier_init(HERE, &bar, 1);
        __suite_mbarrier_arrive_expect_tx(HERE, &bar, box_bytes);
        __suite_tensor_load(HERE, smem + offset, &map, rank, coords, &bar);
        for (int i = 0; i < box_bytes; ++i) early[i] = smem[offset + i];
    }
    __syncthreads();
    while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 0)) {}
    for (int i = threadIdx.x; i < box_bytes; i += blockDim.x) out[i] = smem[offset + i];
}

// Shared bytes `in` (box_bytes, already in the box's shared layout) stored to the tensor at coords.
extern "C" __global__ void store_box(const __grid_constant__ TmaMap map, int rank, const int* coords, int box_bytes,
                                     const unsigned char* in) {
    extern __shared__ unsigned char smem[];
    for (int i = threadIdx.x; i < box_bytes; i += blockDim.x) smem[i] = in[i];
    __suite_fence_proxy_async(HERE);
    __syncthreads();
    if (threadIdx.x == 0) {
        __suite_tensor_store(HERE, &map, rank, coords, smem);
        __suite_bulk_commit_group(HERE);
        __suite_bulk_wait_group(HERE, 0);
    }
}

// Plain cp.async.bulk of `bytes` in `pieces` copies on one barrier, then back out with a bulk store.
extern "C" __global__ void bulk_round_trip(const float* in, float* out, int bytes, int pieces) {
    __shared__ uint64_t bar;
    extern __shared__ unsigned char smem[];
    if (threadIdx.x == 0) {
        __suite_mbarrier_init(HERE, &bar, 1);
        __suite_mbarrier_arrive_expect_tx(HERE, &bar, bytes);
        const int piece = bytes / pieces;
        for (int p = 0; p < pieces; ++p)
            __suite_bulk_load(HERE, smem + p * piece, reinterpret_cast<const char*>(in) + p * piece, piece, &bar);
    }
    __syncthreads();
    while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 0)) {}
    if (threadIdx.x == 0) {
        __suite_bulk_store(HERE, out, smem, bytes);
        __suite_bulk_commit_group(HERE);
        __suite_bulk_wait_group(HERE, 0);
    }
}

// Misuse: a destination that breaks the swizzle's alignment (mode 0), a map the emulation did not
// encode (mode 1), expect_tx of more bytes than the copy brings (mode 2: a deadlock).
extern "C" __global__ void tma_misuse(const __grid_constant__ TmaMap map, int mode, const int* coords, int box_bytes) {
    __shared__ uint64_t bar;
    extern __shared__ unsigned char smem[];
    if (threadIdx.x == 0) {
        __suite_mbarrier_init(HERE, &bar, 1);
        __suite_mbarrier_arrive_expect_tx(HERE, &bar, box_bytes + (mode == 2 ? 16 : 0));
        if (mode == 0) __suite_tensor_load(HERE, smem + 128, &map, 2, coords, &bar);  // fault 0
        if (mode == 1) __suite_prefetch_tensormap(HERE, &map);  // fault 1
        if (mode == 2) __suite_tensor_load(HERE, smem, &map, 2, coords, &bar);
    }
    __syncthreads();
    while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 0)) {}  // fault 2
}
