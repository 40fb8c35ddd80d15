// Test kernels for common/tensor_core.cuh and common/cp_async.cuh (tests/test_host_wrappers.py).
// They compile for the GPU too: nvcc -std=c++17 -arch=sm_80 -I kernels_cu tests/kernels/host_wrappers.cu
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#ifdef __CUDACC_RTC__  // NVRTC, which judges every host run, has no <stdint.h>
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
#else
#include <stdint.h>
#endif

#include "common/cp_async.cuh"
#include "common/smem.cuh"
#include "common/tensor_core.cuh"

// One warp per block. Lane L gives the address of tile row perm[L] (32 rows of 8 x 16 bits);
// every lane writes the NUM registers it receives.
template <int NUM, bool TRANS>
__global__ void ldmatrix_probe(const uint16_t* src, const int* perm, uint32_t* out) {
    __shared__ __align__(16) uint16_t tile[32][8];
    const int lane = threadIdx.x;
    for (int c = 0; c < 8; ++c) tile[lane][c] = src[(blockIdx.x * 32 + lane) * 8 + c];
    __syncwarp();
    uint32_t r[4] = {0, 0, 0, 0};
    const void* row = tile[perm[blockIdx.x * 32 + lane]];
    if (NUM == 1) TRANS ? ldmatrix_x1_trans(r, row) : ldmatrix_x1(r, row);
    if (NUM == 2) TRANS ? ldmatrix_x2_trans(r, row) : ldmatrix_x2(r, row);
    if (NUM == 4) TRANS ? ldmatrix_x4_trans(r, row) : ldmatrix_x4(r, row);
    for (int j = 0; j < 4; ++j) out[(blockIdx.x * 32 + lane) * 4 + j] = r[j];
}

// D = A B + C for A [16, K] row-major, B [K, N] row-major and Bt = B^T [N, K]; one warp per 16
// columns of D. B fragments: MODE 0 ldmatrix_x4_trans from B, 1 ldmatrix_x2_trans, 2 ldmatrix_x2 from Bt.
template <typename T, int MODE>
__global__ void mma_gemm(const T* A, const T* B, const T* Bt, const float* C, float* D, int K, int N) {
    __shared__ __align__(16) T As[16][16];
    __shared__ __align__(16) T Bs[16][16];   // [k][n]
    __shared__ __align__(16) T Bts[16][16];  // [n][k]
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4, n0 = blockIdx.x * 16;
    const int row = lane / 2, half = 8 * (lane % 2);
    float acc[2][4];
    for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 4; ++i) acc[j][i] = C[(g + 8 * (i / 2)) * N + n0 + 8 * j + 2 * t + i % 2];
    for (int k0 = 0; k0 < K; k0 += 16) {
        for (int c = 0; c < 8; ++c) {
            As[row][half + c] = A[row * K + k0 + half + c];
            Bs[row][half + c] = B[(k0 + row) * N + n0 + half + c];
            Bts[row][half + c] = Bt[(n0 + row) * K + k0 + half + c];
        }
        __syncwarp();
        uint32_t a[4], b[2][2];
        ldmatrix_x4(a, &As[lane % 16][8 * (lane / 16)]);
        if (MODE == 0) {
            uint32_t b4[4];
            ldmatrix_x4_trans(b4, &Bs[lane % 16][8 * (lane / 16)]);
            b[0][0] = b4[0], b[0][1] = b4[1], b[1][0] = b4[2], b[1][1] = b4[3];
        }
        for (int j = 0; j < 2; ++j) {
            if (MODE == 1) ldmatrix_x2_trans(b[j], &Bs[lane % 16][8 * j]);
            if (MODE == 2) ldmatrix_x2(b[j], &Bts[8 * j + lane % 8][8 * ((lane / 8) % 2)]);
        }
        for (int j = 0; j < 2; ++j) mma_m16n8k16<T>(acc[j], a, b[j], acc[j]);
        __syncwarp();
    }
    for (int j = 0; j < 2; ++j)
        for (int i = 0; i < 4; ++i) D[(g + 8 * (i / 2)) * N + n0 + 8 * j + 2 * t + i % 2] = acc[j][i];
}

// Each thread issues one 16-byte copy per group (GROUPS groups, zero-filled where !valid), waits
// for all but the newest PENDING groups, then, after a barrier, every thread writes what the
// block's shared memory holds (the newest PENDING groups still in flight read as all-ones).
template <int GROUPS, int PENDING>
__global__ void cp_async_groups(const float4* src, const int* valid, float4* out) {
    SUITE_DYNAMIC_SMEM(float4, s);
    const int n = blockDim.x, base = blockIdx.x * GROUPS * n;
    for (int g = 0; g < GROUPS; ++g) {
        const int i = g * n + threadIdx.x;
        cp_async_16_zfill(&s[i], &src[base + i], valid[base + i] != 0);
        cp_async_commit();
    }
    cp_async_wait<PENDING>();
    __syncthreads();
    for (int g = 0; g < GROUPS; ++g) {
        const int i = g * n + (threadIdx.x + 1) % n;  // a neighbour's copy: needs the barrier
        out[base + i] = s[i];
    }
}

extern "C" __global__ void cp_async_all(const float4* src, float4* out) {
    SUITE_DYNAMIC_SMEM(float4, s);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    cp_async_16(&s[threadIdx.x], &src[i]);
    cp_async_wait_all();
    out[i] = s[threadIdx.x];
}
