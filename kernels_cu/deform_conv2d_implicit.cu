// Deformable convolution (DCNv1, and DCNv2 with a mask) as one implicit GEMM, torchvision's semantics:
//   output[b][o][p] = bias[o] + sum over k of weight[o][k] * column(k, b, p)     (per weight group)
// where column(k, b, p) is deform_im2col's element (see deform_im2col.cu): an input channel of image
// b bilinearly sampled at one kernel tap of output pixel p, moved by the tap's learned offset, times
// the mask. The columns never reach global memory: each K-slice of them is sampled straight into
// shared memory and multiplied there.
//
// GEMM per weight group: M = output channels of the group, N = B*Ho*Wo output positions, K = taps x
// the group's input channels. K is tap-major: a K-slice is BK consecutive channels of ONE tap, so a
// thread sampling one position for a whole slice computes the tap's offsets, mask and bilinear point
// once and reuses them for all BK channels (recomputed only where the slice crosses into another
// offset group). Channel-major K (torchvision's c*taps + tap) would put ~BK/taps channels of each of
// several taps in a slice and recompute the point for nearly every element. The weight arrives
// reordered to match, channels last and zero-padded per tap to `padded` (a multiple of BK): w[o][tap][c]
// (the launcher's small copy per launch), so every slice of a weight row is 16-byte aligned and
// contiguous and is copied with cp.async, no plain-load fallback needed; padded channels have zero
// weights and are sampled as zeros.
//
// Block: 4 warps (2 x 2), a BM x BN output tile of one weight group; BN == 128 == threads, so in the
// gather thread i samples position n0 + i for every channel of the slice, and in the epilogue it
// writes that position of every output channel (a warp's stores are 32 consecutive positions).
// Per slice, double-buffered, one barrier each: the A tile (BM x BK weights, row pitch BK + 16 bytes)
// by cp.async; the B tile (BK x BN samples, [k][n], row pitch BN + 16 bytes) by gathers, each sample
// rounded to T: exactly the columns buffer's element, as on the im2col + GEMM path. Then
//   fp16/bf16: mma.sync m16n8k16, fp32 accumulation; A by ldmatrix.x4, B by ldmatrix.x4.trans. Both
//     pitches are odd multiples of 16 bytes, so the 8 rows of every ldmatrix phase (and of every
//     cp.async phase, see load_tile_async) fall in 8 distinct bank groups; a warp's gather stores
//     cover contiguous bytes of one row.
//   fp32: a SIMT inner product over the same tiles and accumulator layout (no TF32: the result must
//     meet the fp32 tolerance against float64). Its reads are conflict-free too (rows at a pitch of
//     36 words, one per g; B pairs contiguous).
// Accuracy: the same rounded columns as the im2col path, summed in fp32 in another order (per mma or
// FMA chain instead of cuBLAS's); results stay within the family's tolerances (the tests check it).
//
// Performance model, a PREDICTION (no GPU has run this kernel), fp16, BM 64 x BN 128 x BK 32:
//   per slice: mma 2*64*128*32 = 524k FLOPs (128 mma.sync per block); shared memory written 4 KiB
//   (A) + 8 KiB (B), read by ldmatrix 2 x 4 KiB (A, once per warp column) + 2 x 8 KiB (B, once per
//   warp row) = 24 KiB; gathers: 4096 samples x 4 corners x 2 B = 32 KiB of (mostly L1/L2-resident)
//   input reads in 512 warp-level 2-byte load instructions (NHWC: 64 of 16 bytes, 8 channels each),
//   plus 3 offset/mask loads per position and offset group crossed. 16 FLOPs per gathered byte and 4
//   load instructions per mma (NHWC: 0.5): the gather, not the tensor cores, is expected to bound the
//   kernel, and it is paid once per ceil(M / BM) output-channel tiles (each re-samples its
//   positions). Against im2col + GEMM it saves writing and re-reading the columns: 2 x 2 B x
//   C*taps*B*Ho*Wo through DRAM, ~300 MB for the issue's 256-channel 64x64 batch of 8, the bulk of
//   that path's traffic.
//   Occupancy (suite check, ptxas for sm_80/sm_90: 123-128 registers, NHWC included; no local
//   memory): 4 blocks (16 warps) per SM, by registers; fp32's 51 KiB of shared memory leaves 3 on sm_80.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "common/channel_chunks.cuh"
#include "common/cp_async.cuh"
#include "common/smem.cuh"
#include "common/tensor_core.cuh"

namespace deform_implicit_detail {

constexpr int THREADS = 128;
constexpr int WARPS_M = 2, WARPS_N = 2;

// The output position one thread samples and writes: n = b*Ho*Wo + pixel, and where its image starts.
template <typename T>
struct Position {
    bool valid;  // n < B*Ho*Wo
    long long b, pixel;
    int oy, ox;
    const T* image;  // input[b]
};

// acc += A B for one slice, tensor cores: warp tile (MT x 16) x (NT x 8), accumulators in the mma C
// layout (c[i]: row g + 8 * (i / 2), column 2t + i % 2).
template <int MT, int NT, int BK, int LDA, int LDB, typename T>
__device__ __forceinline__ void multiply_slice(float (&acc)[MT][NT][4], const T* a_tile, const T* b_tile, int lane) {
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
        uint32_t a[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
            ldmatrix_x4(a[mt], a_tile + (mt * 16 + lane % 16) * LDA + kk * 16 + 8 * (lane / 16));
#pragma unroll
        for (int nt = 0; nt < NT; nt += 2) mma_row_major_b_pair<T, LDB>(acc, a, b_tile, kk * 16, nt * 8, lane);
    }
}

// The same for fp32 with FMAs (SIMT), into the same accumulator layout so that the epilogue is shared.
template <int MT, int NT, int BK, int LDA, int LDB>
__device__ __forceinline__ void multiply_slice(float (&acc)[MT][NT][4], const float* a_tile, const float* b_tile,
                                               int lane) {
    const int g = lane / 4, t = lane % 4;
#pragma unroll 4
    for (int k = 0; k < BK; ++k) {
        float a[MT][2];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int h = 0; h < 2; ++h) a[mt][h] = a_tile[(mt * 16 + g + 8 * h) * LDA + k];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
            const float2 b = *reinterpret_cast<const float2*>(b_tile + k * LDB + nt * 8 + 2 * t);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    acc[mt][nt][2 * h] += a[mt][h] * b.x;
                    acc[mt][nt][2 * h + 1] += a[mt][h] * b.y;
                }
        }
    }
}

// Row k of the B tile, column threadIdx.x: channel first_channel + c0 + k of this thread's position
// sampled at `tap` (rounded to T), for k < BK; zero past the group's `group_in` channels or past the
// last position. The point is computed again only when the channel enters another offset group.
// NHWC (fp16/bf16; the launcher guarantees, nhwc_fits, that 8 divides the channels of every weight
// group and offset group): the input is channels-last, so the 8 consecutive channels of a corner
// are 16 aligned bytes, one uint4 load instead of 8 scalar ones; each channel then takes sample()'s
// very arithmetic (interpolate on its 4 corner values), so both layouts give the same bits.
template <int BK, int LDB, bool NHWC, typename T>
__device__ __forceinline__ void gather_slice(T* b_tile, const Position<T>& at, const DeformSizes& s, const T* offset,
                                             const T* mask, int use_mask, int tap, int first_channel, int c0,
                                             int group_in) {
    using C = compute_t<T>;
    constexpr int VECTOR = NHWC ? 16 / sizeof(T) : 1;  // channels per load
    static_assert(!NHWC || (sizeof(T) == 2 && BK % VECTOR == 0), "NHWC gathers 8 channels of 16-bit types");
    const int per_offset_group = s.channels / s.offset_groups;
    const long long plane = output_plane<long long>(s), image_plane = input_plane<long long>(s);
    const int taps = s.kernel_h * s.kernel_w;
    int point_group = -1;
    BilinearPoint<C> point{};
    C modulation = C(0);
    for (int k = 0; k < BK; k += VECTOR) {
        const int c = c0 + k, channel = first_channel + c;
        C values[VECTOR];
        for (int e = 0; e < VECTOR; ++e) values[e] = C(0);
        if (at.valid && c < group_in) {  // NHWC: c < group_in holds for all VECTOR channels or none
            const int og = channel / per_offset_group;
            if (og != point_group) {
                const long long group = at.b * s.offset_groups + og;
                point = tap_point(s, offset + group * 2 * taps * plane + at.pixel,
                                  mask + group * taps * plane + at.pixel, plane, at.oy, at.ox, tap, use_mask,
                                  modulation);
                point_group = og;
            }
            if constexpr (NHWC) {
                T corners[4][VECTOR];
#pragma unroll
                for (int j = 0; j < 4; ++j) {  // an invalid corner: zero bits, the +0 of sample()
                    const T* corner = at.image + (long long)point.offset[j] * s.channels + channel;
                    const uint4 bits = point.valid[j] ? __ldg(reinterpret_cast<const uint4*>(corner))
                                                      : make_uint4(0, 0, 0, 0);
                    memcpy(corners[j], &bits, sizeof(bits));
                }
#pragma unroll
                for (int e = 0; e < VECTOR; ++e) {
                    C v[4];
#pragma unroll
                    for (int j = 0; j < 4; ++j) v[j] = to_compute(corners[j][e]);
                    values[e] = interpolate(point, v) * modulation;  // x*1 is exact
                }
            } else {
                values[0] = sample(at.image + channel * image_plane, point) * modulation;
            }
        }
        for (int e = 0; e < VECTOR; ++e) store_rounded(b_tile + (k + e) * LDB + threadIdx.x, values[e]);
    }
}

// Two adjacent results rounded to T and stored as one access (8 bytes for fp32, 4 for 16-bit types).
// fp32 goes through a 64-bit integer: a float2 assignment is two 4-byte stores under the emulation.
__device__ __forceinline__ void store_rounded_pair(float* p, float lo, float hi) {
    *reinterpret_cast<unsigned long long*>(p) = (unsigned long long)__float_as_uint(hi) << 32 | __float_as_uint(lo);
}
template <typename T>
__device__ __forceinline__ void store_rounded_pair(T* p, float lo, float hi) {
    *reinterpret_cast<uint32_t*>(p) = pack2<T>(lo, hi);
}

}  // namespace deform_implicit_detail

// T: float, __half or __nv_bfloat16. Tile BM x BN x BK (see above; BN is the block's 128 threads).
// NHWC: the input is channels-last, [B, H, W, C], gathered 8 channels per load (gather_slice).
// Launch: grid (ceil(B*Ho*Wo / BN), ceil(out_channels / groups / BM), groups), block 128 threads,
// dynamic shared memory max(2 * (BM * (BK + P) + BK * (BN + P)), BM * (BN + 8)) * sizeof(T) bytes,
// P = 16 / sizeof(T). `padded`: channels per tap in `weight`, a multiple of BK.
template <typename T, int BM, int BN, int BK, bool NHWC>
__global__ void __launch_bounds__(deform_implicit_detail::THREADS)
    deform_conv2d_implicit(const T* __restrict__ input,   // [B, C, H, W], NHWC: [B, H, W, C]
                           const T* __restrict__ offset,  // [B, G*2*kh*kw, Ho, Wo]
                           const T* __restrict__ mask,    // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                           const T* __restrict__ weight,  // [O, kh*kw, padded]: w[o][tap][c], zero past C/groups
                           const T* __restrict__ bias,    // [O]; unread unless use_bias
                           T* __restrict__ output,        // [B, O, Ho, Wo]
                           DEFORM_SIZE_PARAMS, int out_channels, int groups, int padded, int use_mask, int use_bias) {
    using namespace deform_implicit_detail;
    constexpr int PAD = 16 / sizeof(T);             // 16 bytes of padding per shared row
    constexpr int LDA = BK + PAD, LDB = BN + PAD;   // row pitches (elements)
    // The staging tile's pitch: 8 elements over BN (a multiple of 32), so the lanes' pair stores of
    // each phase (32 lanes of 4 bytes, or 16 of 8) land in distinct banks: g's rows step 4 words
    // (16-bit) or 8 (fp32, whose 16 lanes per phase span 4 rows), and t's 2-element pairs fill the gaps.
    constexpr int LDS = BN + 8;
    constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N, MT = WM / 16, NT = WN / 8;
    static_assert(BN == THREADS && WM % 16 == 0 && WN % 16 == 0 && BK % 16 == 0, "unsupported tile");

    SUITE_DYNAMIC_SMEM(uint4, smem);
    T* a_tiles = reinterpret_cast<T*>(smem);  // 2 x BM x LDA
    T* b_tiles = a_tiles + 2 * BM * LDA;      // 2 x BK x LDB

    const DeformSizes s = DEFORM_SIZES;
    const int taps = kernel_h * kernel_w;
    const int group = blockIdx.z, group_in = channels / groups, group_out = out_channels / groups;
    const int m0 = blockIdx.y * BM;  // the tile's first output channel within the group
    const long long plane = output_plane<long long>(s);

    Position<T> at;
    const long long n = (long long)blockIdx.x * BN + threadIdx.x;
    at.valid = n < batch * plane;
    at.b = at.valid ? n / plane : 0;
    at.pixel = at.valid ? n - at.b * plane : 0;
    at.oy = int(at.pixel / out_w);
    at.ox = int(at.pixel - (long long)at.oy * out_w);
    at.image = input + at.b * channels * input_plane<long long>(s);

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int warp_m0 = warp % WARPS_M * WM, warp_n0 = warp / WARPS_M * WN;
    float acc[MT][NT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[mt][nt][i] = 0.f;

    // Slice q = tap * blocks + channel block: weight columns [q*BK, q*BK + BK) of the padded rows.
    // Iteration q fills buffer q % 2 with slice q and multiplies slice q - 1, which the barrier at
    // the end of iteration q - 1 made visible; that barrier also ended every read of slice q - 2,
    // the buffer's previous contents. One barrier per slice.
    const int blocks = padded / BK, slices = taps * blocks;
    const long long row_stride = (long long)taps * padded;
    const T* weight_rows = weight + (long long)group * group_out * row_stride;
    for (int q = 0; q <= slices; ++q) {
        if (q < slices) {
            // The copy moves bytes: 16-bit units serve fp32 rows too (twice as many per row).
            constexpr int UNITS = sizeof(T) / 2;
            load_tile_async<BM, BK * UNITS, LDA * UNITS, THREADS>(
                reinterpret_cast<unsigned short*>(a_tiles + (q % 2) * BM * LDA),
                reinterpret_cast<const unsigned short*>(weight_rows + (long long)q * BK), row_stride * UNITS, m0,
                group_out, BK * UNITS);
            cp_async_commit();
            const int tap = q / blocks;
            gather_slice<BK, LDB, NHWC>(b_tiles + (q % 2) * BK * LDB, at, s, offset, mask, use_mask, tap,
                                        group * group_in, (q - tap * blocks) * BK, group_in);
        }
        if (q > 0)
            multiply_slice<MT, NT, BK, LDA, LDB>(acc, a_tiles + (q - 1) % 2 * BM * LDA + warp_m0 * LDA,
                                                 b_tiles + (q - 1) % 2 * BK * LDB + warp_n0, lane);
        cp_async_wait<0>();
        __syncthreads();
    }

    // Epilogue: bias, one rounding to T into a staging tile over the slice buffers (idle since the
    // loop's last barrier), then each thread writes its own position of every output channel.
    T* stage = reinterpret_cast<T*>(smem);  // BM x LDS
    const int g = lane / 4, t = lane % 4;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = warp_m0 + mt * 16 + g + 8 * h;
            const int o = group * group_out + min(m0 + row, group_out - 1);  // rows past the group: never stored
            const float bias_value = use_bias ? load_compute(bias + o) : 0.f;
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
                store_rounded_pair(stage + row * LDS + warp_n0 + nt * 8 + 2 * t, acc[mt][nt][2 * h] + bias_value,
                                   acc[mt][nt][2 * h + 1] + bias_value);
        }
    __syncthreads();
    if (!at.valid) return;
    T* out = output + (at.b * out_channels + group * group_out + m0) * plane + at.pixel;
    const int rows = min(BM, group_out - m0);
    for (int row = 0; row < rows; ++row) out[row * plane] = stage[row * LDS + threadIdx.x];
}
