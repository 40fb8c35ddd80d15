// A flash-attention forward kernel in the style of public hand-written ones: Q K^T and P V on
// mma.sync m16n8k16 through inline PTX, K/V tiles streamed by cp.async with zero fill past the
// sequence, fragments from ldmatrix (.trans for V), the online softmax in registers with shfl.sync
// and ex2.approx, P packed to half pairs with cvt.rn.f16x2.f32. Written for the host backend's
// inline-PTX tests (tests/test_emu_ptx_pipelines.py); runs unchanged on a GPU.
//
// O[bh, s, :] = softmax(scale Q K^T) V for Q, K, V [BH, S, 64] half, O float. Grid (ceil(S/64), BH),
// 128 threads: warp w owns query rows 16w..16w+15 of the block's 64; (64 + 2 * 64) * 72 * 2 bytes of
// dynamic shared memory.
#include <cuda_fp16.h>

constexpr int D = 64, BR = 64, BC = 64, LD = D + 8;
__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

__device__ __forceinline__ unsigned smem(const void* p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }

// Rows [row0, row0 + 64) of a [S, 64] matrix into a padded tile; rows at or past S become zeros.
__device__ __forceinline__ void load_rows(half (*tile)[LD], const half* src, int row0, int S) {
    for (int chunk = threadIdx.x; chunk < 64 * D / 8; chunk += 128) {
        const int r = chunk / (D / 8), c = chunk % (D / 8) * 8;
        const bool valid = row0 + r < S;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem(&tile[r][c])),
                     "l"(src + (long long)(valid ? row0 + r : 0) * D + c), "r"(valid ? 16 : 0));
    }
    asm volatile("cp.async.commit_group;\n" ::);
}

__device__ __forceinline__ void mma16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float quad_max(float v) {
    for (int m = 1; m <= 2; m <<= 1) {
        float o;
        asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;\n" : "=f"(o) : "f"(v), "r"(m));
        v = fmaxf(v, o);
    }
    return v;
}
__device__ __forceinline__ float quad_sum(float v) {
    for (int m = 1; m <= 2; m <<= 1) {
        float o;
        asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;\n" : "=f"(o) : "f"(v), "r"(m));
        v += o;
    }
    return v;
}
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

extern "C" __global__ void __launch_bounds__(128) ptx_flash_attn(const half* Q, const half* K, const half* V, float* O,
                                                                  int S, float scale) {
    extern __shared__ __align__(128) unsigned char smem_bytes[];  // (BR + 2 BC) x LD halves
    auto Qs = reinterpret_cast<half(*)[LD]>(smem_bytes);
    auto Ks = Qs + BR, Vs = Ks + BC;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const long long base = (long long)blockIdx.y * S * D;
    const int q0 = blockIdx.x * BR;
    load_rows(Qs, Q + base, q0, S);
    asm volatile("cp.async.wait_all;\n" ::);
    __syncthreads();
    unsigned qa[D / 16][4];
    for (int kk = 0; kk < D / 16; ++kk)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                     : "=r"(qa[kk][0]), "=r"(qa[kk][1]), "=r"(qa[kk][2]), "=r"(qa[kk][3])
                     : "r"(smem(&Qs[warp * 16 + lane % 16][kk * 16 + lane / 16 * 8])));
    const float scale_log2 = scale * 1.4426950408889634f;
    float o[D / 8][4] = {}, m[2] = {neg_inf(), neg_inf()}, l[2] = {0, 0};
    for (int k0 = 0; k0 < S; k0 += BC) {
        load_rows(Ks, K + base, k0, S);
        load_rows(Vs, V + base, k0, S);
        asm volatile("cp.async.wait_group 0;\n" ::);
        __syncthreads();
        float s[BC / 8][4] = {};
        for (int nt = 0; nt < BC / 8; ++nt)
            for (int kk = 0; kk < D / 16; ++kk) {
                unsigned b0, b1;
                asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                             : "=r"(b0), "=r"(b1)
                             : "r"(smem(&Ks[nt * 8 + lane % 8][kk * 16 + (lane / 8) % 2 * 8])));
                mma16816(s[nt], qa[kk], b0, b1);
            }
        float row_max[2] = {neg_inf(), neg_inf()};
        for (int nt = 0; nt < BC / 8; ++nt)
            for (int i = 0; i < 4; ++i) {
                const bool valid = k0 + nt * 8 + 2 * t + i % 2 < S;
                s[nt][i] = valid ? s[nt][i] * scale_log2 : neg_inf();
                row_max[i / 2] = fmaxf(row_max[i / 2], s[nt][i]);
            }
        float corr[2], row_sum[2] = {0, 0};
        for (int h = 0; h < 2; ++h) {
            const float m_new = fmaxf(m[h], quad_max(row_max[h]));
            corr[h] = ex2(m[h] - m_new);
            m[h] = m_new;
        }
        for (int nt = 0; nt < BC / 8; ++nt)
            for (int i = 0; i < 4; ++i) {
                s[nt][i] = ex2(s[nt][i] - m[i / 2]);
                row_sum[i / 2] += s[nt][i];
            }
        for (int h = 0; h < 2; ++h) l[h] = l[h] * corr[h] + quad_sum(row_sum[h]);
        for (int dt = 0; dt < D / 8; ++dt)
            for (int i = 0; i < 4; ++i) o[dt][i] *= corr[i / 2];
        for (int kk = 0; kk < BC / 16; ++kk) {
            const unsigned pa[4] = {pack_half2(s[2 * kk][0], s[2 * kk][1]), pack_half2(s[2 * kk][2], s[2 * kk][3]),
                                    pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            for (int dp = 0; dp < D / 16; ++dp) {
                unsigned b[4];
                asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                             : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
                             : "r"(smem(&Vs[kk * 16 + lane % 16][dp * 16 + lane / 16 * 8])));
                mma16816(o[2 * dp], pa, b[0], b[1]);
                mma16816(o[2 * dp + 1], pa, b[2], b[3]);
            }
        }
        __syncthreads();  // the tiles are overwritten by the next block's copies
    }
    for (int dt = 0; dt < D / 8; ++dt)
        for (int i = 0; i < 4; ++i) {
            const int row = q0 + warp * 16 + g + 8 * (i / 2);
            if (row < S) O[base + (long long)row * D + dt * 8 + 2 * t + i % 2] = o[dt][i] / l[i / 2];
        }
}
