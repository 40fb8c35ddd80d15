// A tensor-core GEMM in the style of public hand-written kernels: a cp.async -> ldmatrix -> mma.sync
// pipeline behind HMMA16816/LDMATRIX/CP_ASYNC macros of inline PTX, double-buffered shared tiles
// addressed through __cvta_generic_to_shared. Written for the host backend's inline-PTX tests
// (tests/test_emu_ptx_pipelines.py); runs unchanged on a GPU.
//
// C[M, N] (fp32) = A[M, K] (row-major) x B[N, K]^T (B row-major in k, the "col" mma operand).
// Block tile 64 x 64 x 32, four warps in a 2 x 2 grid, each 32 x 32 (2 m16 tiles x 4 n8 tiles).
// M and N multiples of 64, K of 32.
#include <cuda_fp16.h>

#define HMMA16816(RD0, RD1, RD2, RD3, RA0, RA1, RA2, RA3, RB0, RB1, RC0, RC1, RC2, RC3)                  \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, " \
                 "{%8, %9}, {%10, %11, %12, %13};\n"                                                      \
                 : "=f"(RD0), "=f"(RD1), "=f"(RD2), "=f"(RD3)                                             \
                 : "r"(RA0), "r"(RA1), "r"(RA2), "r"(RA3), "r"(RB0), "r"(RB1), "f"(RC0), "f"(RC1),        \
                   "f"(RC2), "f"(RC3))
#define LDMATRIX_X4(R0, R1, R2, R3, ADDR)                                              \
    asm volatile("ldmatrix.sync.aligned.x4.m8n8.shared.b16 {%0, %1, %2, %3}, [%4];\n" \
                 : "=r"(R0), "=r"(R1), "=r"(R2), "=r"(R3)                               \
                 : "r"(ADDR))
#define LDMATRIX_X2(R0, R1, ADDR) \
    asm volatile("ldmatrix.sync.aligned.x2.m8n8.shared.b16 {%0, %1}, [%2];\n" : "=r"(R0), "=r"(R1) : "r"(ADDR))
#define CP_ASYNC_CG(dst, src, Bytes) \
    asm volatile("cp.async.cg.shared.global.L2::128B [%0], [%1], %2;\n" ::"r"(dst), "l"(src), "n"(Bytes))
#define CP_ASYNC_COMMIT_GROUP() asm volatile("cp.async.commit_group;\n" ::)
#define CP_ASYNC_WAIT_GROUP(n) asm volatile("cp.async.wait_group %0;\n" ::"n"(n))

constexpr int BM = 64, BN = 64, BK = 32, PAD = 8, LDS = BK + PAD;  // padded rows: no bank conflicts
static_assert(BM == BN, "the stages share one layout");

// 64 rows x 32 halves = 256 chunks of 16 bytes per tile; 128 threads copy two each.
__device__ __forceinline__ void load_tile(half (*tile)[LDS], const half* src, int ld, int row0, int k0) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int chunk = threadIdx.x + 128 * i, r = chunk / 4, c = chunk % 4 * 8;
        const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(&tile[r][c]));
        CP_ASYNC_CG(dst, src + (long long)(row0 + r) * ld + k0 + c, 16);
    }
}

// Launched with SMEM_BYTES of dynamic shared memory: two stages of the A and B tiles.
constexpr int SMEM_BYTES = 2 * 2 * BM * LDS * 2;

extern "C" __global__ void __launch_bounds__(128) ptx_gemm(const half* A, const half* B, float* C, int M, int N, int K) {
    extern __shared__ __align__(128) unsigned char smem[];
    auto As = reinterpret_cast<half(*)[BM][LDS]>(smem);
    auto Bs = reinterpret_cast<half(*)[BN][LDS]>(smem + 2 * BM * LDS * sizeof(half));
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int wm = warp / 2 * 32, wn = warp % 2 * 32;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float acc[2][4][4] = {};
    load_tile(As[0], A, K, m0, 0);
    load_tile(Bs[0], B, K, n0, 0);
    CP_ASYNC_COMMIT_GROUP();
    const int steps = K / BK;
    for (int s = 0; s < steps; ++s) {
        if (s + 1 < steps) {  // prefetch the next stage while this one is used
            load_tile(As[(s + 1) % 2], A, K, m0, (s + 1) * BK);
            load_tile(Bs[(s + 1) % 2], B, K, n0, (s + 1) * BK);
        }
        CP_ASYNC_COMMIT_GROUP();
        CP_ASYNC_WAIT_GROUP(1);
        __syncthreads();
        const int st = s % 2;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            unsigned a[2][4], b[4][2];
#pragma unroll
            for (int mt = 0; mt < 2; ++mt) {
                const unsigned addr = static_cast<unsigned>(
                    __cvta_generic_to_shared(&As[st][wm + mt * 16 + lane % 16][kk + lane / 16 * 8]));
                LDMATRIX_X4(a[mt][0], a[mt][1], a[mt][2], a[mt][3], addr);
            }
#pragma unroll
            for (int nt = 0; nt < 4; ++nt) {
                const unsigned addr = static_cast<unsigned>(
                    __cvta_generic_to_shared(&Bs[st][wn + nt * 8 + lane % 8][kk + (lane / 8) % 2 * 8]));
                LDMATRIX_X2(b[nt][0], b[nt][1], addr);
            }
#pragma unroll
            for (int mt = 0; mt < 2; ++mt)
#pragma unroll
                for (int nt = 0; nt < 4; ++nt) {
                    float* d = acc[mt][nt];
                    HMMA16816(d[0], d[1], d[2], d[3], a[mt][0], a[mt][1], a[mt][2], a[mt][3], b[nt][0], b[nt][1],
                              d[0], d[1], d[2], d[3]);
                }
        }
#ifndef GEMM_RACY  // (defined by a test: racecheck must then report the overwrite)
        __syncthreads();  // the stage is overwritten by the prefetch of step s + 2
#endif
    }
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int nt = 0; nt < 4; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int row = m0 + wm + mt * 16 + g + 8 * (i / 2), col = n0 + wn + nt * 8 + 2 * t + i % 2;
                C[(long long)row * N + col] = acc[mt][nt][i];
            }
}
