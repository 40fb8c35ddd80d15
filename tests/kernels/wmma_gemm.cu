// A WMMA GEMM in the style of NVIDIA's cudaTensorCoreGemm sample (written here, not copied):
// D = alpha * A B + beta * C with A (M x K) and B (K x N) row-major __half, C and D row-major float.
// Each block of 4 warps computes a 64 x 64 tile of D; K is walked in chunks staged through dynamic
// shared memory (SMEM_BYTES, one buffer carved as the sample does) with skewed rows (ldm + 8
// halves, as the sample skews to spread banks); every warp owns 2 x 2 accumulator fragments, scales
// them in registers (C's fragments are loaded from global memory the same way) and writes D through
// shared memory. M, N multiples of 64; K a multiple of 32. Staged = false leaves out the barrier
// between staging a chunk and loading fragments from it: the race racecheck must report.
#include <mma.h>

using namespace nvcuda;

constexpr int TILE = 64, CHUNK = 32, SKEW = 8;

constexpr int A_BYTES = TILE * (CHUNK + SKEW) * 2, B_BYTES = CHUNK * (TILE + SKEW) * 2;
constexpr int SMEM_BYTES = A_BYTES + B_BYTES > TILE * (TILE + 4) * 4 ? A_BYTES + B_BYTES : TILE * (TILE + 4) * 4;

extern __shared__ __align__(128) unsigned char smem[];

template <bool Staged>
__global__ void wmma_gemm(const __half* A, const __half* B, const float* C, float* D, int M, int N, int K, float alpha,
                          float beta) {
    auto a_tile = reinterpret_cast<__half(*)[CHUNK + SKEW]>(smem);
    auto b_tile = reinterpret_cast<__half(*)[TILE + SKEW]>(smem + A_BYTES);
    auto d_tile = reinterpret_cast<float(*)[TILE + 4]>(smem);  // the chunks' space, after the K loop's last barrier
    const int warp = threadIdx.x / 32, row0 = blockIdx.y * TILE, col0 = blockIdx.x * TILE;
    const int warp_row = (warp / 2) * 32, warp_col = (warp % 2) * 32;

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    for (int k0 = 0; k0 < K; k0 += CHUNK) {
        for (int e = threadIdx.x; e < TILE * CHUNK; e += blockDim.x)
            a_tile[e / CHUNK][e % CHUNK] = A[size_t(row0 + e / CHUNK) * K + k0 + e % CHUNK];
        for (int e = threadIdx.x; e < CHUNK * TILE; e += blockDim.x)
            b_tile[e / TILE][e % TILE] = B[size_t(k0 + e / TILE) * N + col0 + e % TILE];
        if (Staged) __syncthreads();
        for (int kk = 0; kk < CHUNK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b[2];
            for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &a_tile[warp_row + 16 * i][kk], CHUNK + SKEW);
            for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &b_tile[kk][warp_col + 16 * j], TILE + SKEW);
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }

    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
            const int r = row0 + warp_row + 16 * i, col = col0 + warp_col + 16 * j;
            wmma::load_matrix_sync(c, C + size_t(r) * N + col, N, wmma::mem_row_major);
            for (int t = 0; t < c.num_elements; ++t) c.x[t] = alpha * acc[i][j].x[t] + beta * c.x[t];
            wmma::store_matrix_sync(&d_tile[warp_row + 16 * i][warp_col + 16 * j], c, TILE + 4, wmma::mem_row_major);
        }
    __syncthreads();
    for (int e = threadIdx.x; e < TILE * TILE; e += blockDim.x)
        D[size_t(row0 + e / TILE) * N + col0 + e % TILE] = d_tile[e / TILE][e % TILE];
}
