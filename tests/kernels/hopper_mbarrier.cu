// mbarrier kernels for tests/test_emu_hopper_mbarrier.py, written against the emulation's C
// functions (include/emu/hopper/hopper_api.h); host backend only.
#define HERE SUITE_HOST_SITE

// `rounds` phases of one barrier of blockDim.x arrivals: each thread publishes a value, arrives,
// waits for the phase by parity (or by token), then sums what every thread published.
extern "C" __global__ void phases(const int* in, int* out, int rounds, int use_token) {
    __shared__ uint64_t bar;
    __shared__ int slots[2][256];
    const int n = blockDim.x, tid = threadIdx.x;
    if (tid == 0) __suite_mbarrier_init(HERE, &bar, n);
    __syncthreads();
    for (int r = 0; r < rounds; ++r) {
        slots[r & 1][tid] = in[r * n + tid];
        const uint64_t token = __suite_mbarrier_arrive(HERE, &bar, 1);
        if (use_token) while (!__suite_mbarrier_try_wait(HERE, &bar, token)) {}
        else while (!__suite_mbarrier_try_wait_parity(HERE, &bar, r & 1)) {}
        int sum = 0;
        for (int i = 0; i < n; ++i) sum += slots[r & 1][i];
        out[r * n + tid] = sum;
    }
}

// Producer/consumer over a 2-stage ring with full/empty barriers (the cutlass PipelineAsync shape):
// warp 0 produces `count` items, warps 1.. consume them; the producer's first waits on the empty
// barriers use parity 1 and pass at once.
extern "C" __global__ void ring(const int* in, int* out, int count) {
    __shared__ uint64_t full[2], empty[2];
    __shared__ int item[2];
    const int consumers = blockDim.x - 32, tid = threadIdx.x;
    if (tid == 0)
        for (int s = 0; s < 2; ++s) {
            __suite_mbarrier_init(HERE, &full[s], 1);
            __suite_mbarrier_init(HERE, &empty[s], consumers);
        }
    __syncthreads();
    for (int i = 0; i < count; ++i) {
        const int s = i % 2;
        const unsigned parity = (i / 2) & 1;
        if (tid < 32) {
            if (tid == 0) {
                while (!__suite_mbarrier_try_wait_parity(HERE, &empty[s], parity ^ 1)) {}
                item[s] = in[i];
                __suite_mbarrier_arrive(HERE, &full[s], 1);
            }
        } else {
            while (!__suite_mbarrier_try_wait_parity(HERE, &full[s], parity)) {}
            atomicAdd(&out[tid - 32], item[s]);
            __suite_mbarrier_arrive(HERE, &empty[s], 1);
        }
    }
}

// Misuse, one kernel per mistake (`mode` picks it).
extern "C" __global__ void misuse(int mode, int* out) {
    __shared__ uint64_t bar;
    const int tid = threadIdx.x;
    if (mode == 0) {  // over-arrival: two arrivals on a barrier of one while the phase waits for bytes
        if (tid == 0) {
            __suite_mbarrier_init(HERE, &bar, 1);
            __suite_mbarrier_expect_tx(HERE, &bar, 64);
            __suite_mbarrier_arrive(HERE, &bar, 1);
            __suite_mbarrier_arrive(HERE, &bar, 1);  // fault 0
        }
    } else if (mode == 1) {  // a wait on a phase two phases old
        if (tid == 0) {
            __suite_mbarrier_init(HERE, &bar, 1);
            __suite_mbarrier_arrive(HERE, &bar, 1);  // phase 0 completes
        }
        __syncthreads();
        if (tid == 1) while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 0)) {}  // thread 1 sees phase 0
        __syncthreads();
        if (tid == 0) {
            __suite_mbarrier_arrive(HERE, &bar, 1);  // phase 1 completes
            while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 1)) {}
            __suite_mbarrier_arrive(HERE, &bar, 1);  // phase 2 completes, unseen by thread 1
        }
        __syncthreads();
        if (tid == 1) out[0] = __suite_mbarrier_try_wait_parity(HERE, &bar, 1);  // fault 1: means phase 1, two behind
    } else if (mode == 2) {  // deadlock: expect_tx of more bytes than any copy brings
        if (tid == 0) __suite_mbarrier_init(HERE, &bar, 1);
        __syncthreads();
        if (tid == 0) __suite_mbarrier_arrive_expect_tx(HERE, &bar, 128);
        while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 0)) {}  // fault 2
    } else if (mode == 3) {  // an op before init
        __suite_mbarrier_arrive(HERE, &bar, 1);  // fault 3
    } else if (mode == 4) {  // init twice
        if (tid == 0) {
            __suite_mbarrier_init(HERE, &bar, 1);
            __suite_mbarrier_init(HERE, &bar, 2);  // fault 4
        }
    } else if (mode == 5) {  // deadlock: init count larger than the threads that arrive
        if (tid == 0) __suite_mbarrier_init(HERE, &bar, blockDim.x + 1);
        __syncthreads();
        __suite_mbarrier_arrive(HERE, &bar, 1);
        while (!__suite_mbarrier_try_wait_parity(HERE, &bar, 0)) {}  // fault 5
    } else if (mode == 6) {  // an arrival on phase 1 before any wait saw phase 0 complete
        if (tid == 0) {
            __suite_mbarrier_init(HERE, &bar, 1);
            __suite_mbarrier_arrive(HERE, &bar, 1);
            __suite_mbarrier_arrive(HERE, &bar, 1);  // fault 6
        }
    }
}
