// Depthwise deformable convolution (DCNv1, and DCNv2 with a modulation mask) in one pass: the case
// groups == in_channels of torchvision's deform_conv2d, where output channel o = c*m + k (channel
// multiplier m >= 1) reads input channel c alone, through weight [C*m, 1, kh, kw]:
//   output[b][c*m + k][oy][ox] = bias[c*m + k] + sum over taps (i, j), in order, of
//       weight[c*m + k][0][i][j] * column(c, i, j, b, oy, ox)
// where column(...) is deform_im2col's element (see deform_im2col.cu): input channel c of image b
// bilinearly sampled at the tap's offset position, times the mask, rounded to T. Rounding it to T
// here too, and accumulating in fp32 (double for double) with one rounding at the store, gives the
// arithmetic of the im2col + matmul path without its columns buffer (9x the input for a 3x3
// kernel, written and read back) or its GEMM (K = kh*kw, far too small to use a GEMM well).
//
// Mapping: one thread per (b, chunk of CHUNK channels of one offset group, oy, ox)
// (common/channel_chunks.cuh), a grid-stride loop over n = B * offset_groups * chunks per group *
// Ho*Wo. Per tap the offsets, the mask and the bilinear point are computed once and reused for
// every channel of the chunk; the weights are the same for a whole warp (a broadcast). The channel
// loop is fully unrolled and guarded, so the CHUNK accumulators stay in registers. The multiplier
// loop is outermost (m is usually 1): each k resamples rather than keeping CHUNK*m accumulators live.
// T is float, __half, __nv_bfloat16 or double; Index is int, or long long when some flat index can
// exceed 2^31-1 (the caller decides). The weight and bias, small, are indexed with int: 64-bit
// arithmetic there costs the long long instantiations dozens of registers.
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "common/channel_chunks.cuh"

template <typename T, typename Index, int CHUNK>
__global__ void deform_conv2d_depthwise(const T* __restrict__ input,   // [B, C, H, W]
                                        const T* __restrict__ offset,  // [B, G*2*kh*kw, Ho, Wo]
                                        const T* __restrict__ mask,    // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                                        const T* __restrict__ weight,  // [C*m, 1, kh, kw]
                                        const T* __restrict__ bias,    // [C*m]; unread unless use_bias
                                        T* __restrict__ output,        // [B, C*m, Ho, Wo]
                                        Index n,                       // B * G * chunks per group * Ho*Wo
                                        DEFORM_SIZE_PARAMS,
                                        int multiplier, int use_mask, int use_bias) {
    using C = compute_t<T>;
    const DeformSizes s = DEFORM_SIZES;
    const Index plane = output_plane<Index>(s);  // one output channel
    const int taps = kernel_h * kernel_w;

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        const ChannelChunk<Index> w = channel_chunk<CHUNK>(index, s);
        const T* image = chunk_image(input, w, s);
        for (int k = 0; k < multiplier; ++k) {
            const T* weights = weight + (w.channel * multiplier + k) * taps;  // [c*m + k][0]
            C sum[CHUNK];
#pragma unroll
            for (int cc = 0; cc < CHUNK; ++cc) sum[cc] = C(0);
            for_each_tap(w, s, offset, mask, use_mask, [&](int tap, const BilinearPoint<C>& point, C modulation) {
#pragma unroll
                for (int cc = 0; cc < CHUNK; ++cc) {
                    if (cc < w.count) {
                        const C value = sample(image + cc * input_plane<Index>(s), point) * modulation;  // x*1 is exact
                        const C weight_value = load_compute(weights + cc * multiplier * taps + tap);
                        sum[cc] += round_trip<T>(value) * weight_value;  // the columns buffer's element, widened
                    }
                }
            });

            T* out = output + (w.b * channels + w.channel) * multiplier * plane + Index(k) * plane + w.pixel;
#pragma unroll
            for (int cc = 0; cc < CHUNK; ++cc) {
                if (cc < w.count) {
                    C total = sum[cc];
                    if (use_bias) total += load_compute(bias + (w.channel + cc) * multiplier + k);
                    store_rounded(out + Index(cc) * multiplier * plane, total);
                }
            }
        }
    }
}
