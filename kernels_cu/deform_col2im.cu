// Deformable col2im: the gradient of deform_im2col (deform_im2col.cu) with respect to its input,
// torchvision's semantics. Each sampled column element spreads its gradient back onto the valid
// corners of its bilinear point:
//   grad_input[b][c][y][x] = sum over every (tap, oy, ox) of image b and c's offset group whose point
//       has (y, x) as a valid corner, of (mask * corner weight) * grad_columns[c*kh*kw + tap][(b*Ho + oy)*Wo + ox]
// The corners, weights and validity are those of the forward (common/bilinear.cuh), so the
// gradient follows the same zero-padding and border rules. Two ways to sum:
//
// - deform_col2im_atomic (fast): scatters. One thread per (b, chunk of CHUNK channels of one offset
//   group, oy, ox), as deform_im2col (common/channel_chunks.cuh); each contribution is an atomicAdd
//   into `accumulator`, float for float/__half/__nv_bfloat16 (double for double), which the caller
//   zeroes before and rounds into grad_input after. The order of the additions, so the last bits
//   of the sum, vary from run to run.
// - deterministic, in three steps: deform_col2im_plan writes, for each (b, offset group, tap, pixel)
//   and corner k, in that order, the corner's key (b*G + g)*(H*W + 1) + its plane position (H*W
//   when invalid) and its weight (mask * corner weight). The caller sorts the keys stably (so each
//   input element's entries keep that order) and finds where each key's run starts.
//   deform_col2im_gather then gives each input element (per chunk of channels) the sum of its run,
//   in order, in float (double) registers, and stores it once: the same bits every run, no atomics
//   and no zeroing. A point's corners do not depend on the channel, so one sorted plan serves all
//   channels of its offset group.
//
// T is float, __half, __nv_bfloat16 or double; Index is int, or long long when some flat index can
// exceed 2^31-1 (the caller decides). Keys and the sort's order are long long (torch.int64).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "common/channel_chunks.cuh"

template <typename T, typename Index, int CHUNK>
__global__ void deform_col2im_atomic(const T* __restrict__ offset,        // [B, G*2*kh*kw, Ho, Wo]
                                     const T* __restrict__ mask,          // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                                     const T* __restrict__ grad_columns,  // [C*kh*kw, B*Ho*Wo]
                                     compute_t<T>* __restrict__ accumulator,  // [B, C, H, W], zeroed
                                     Index n,                             // B * G * chunks per group * Ho*Wo
                                     DEFORM_SIZE_PARAMS, int use_mask) {
    using C = compute_t<T>;
    const DeformSizes s = DEFORM_SIZES;
    const Index row_length = Index(batch) * output_plane<Index>(s);
    const int taps = kernel_h * kernel_w;

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        const ChannelChunk<Index> w = channel_chunk<CHUNK>(index, s);
        const T* grads = grad_columns + Index(w.channel) * taps * row_length + w.b * output_plane<Index>(s) + w.pixel;
        C* image = accumulator + (w.b * s.channels + w.channel) * input_plane<Index>(s);
        for_each_tap(w, s, offset, mask, use_mask, [&](int tap, const BilinearPoint<C>& point, C modulation) {
            C weight[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) weight[k] = modulation * point.weight[k];
#pragma unroll
            for (int cc = 0; cc < CHUNK; ++cc) {
                if (cc < w.count) {
                    const C grad = load_compute(grads + (Index(cc) * taps + tap) * row_length);
                    C* plane = image + cc * input_plane<Index>(s);
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        if (point.valid[k]) atomicAdd(plane + point.offset[k], weight[k] * grad);
                    }
                }
            }
        });
    }
}

template <typename T, typename Index>
__global__ void deform_col2im_plan(const T* __restrict__ offset,  // [B, G*2*kh*kw, Ho, Wo]
                                   const T* __restrict__ mask,    // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                                   long long* __restrict__ keys,  // [B, G, kh*kw, Ho*Wo, 4]
                                   compute_t<T>* __restrict__ weights,  // [B, G, kh*kw, Ho*Wo, 4]
                                   Index n,                       // B * G * Ho*Wo
                                   DEFORM_SIZE_PARAMS, int use_mask) {
    using C = compute_t<T>;
    const DeformSizes s = DEFORM_SIZES;
    const Index plane = output_plane<Index>(s);
    const int taps = kernel_h * kernel_w;
    const long long cells = (long long)height * width + 1;  // a key run per plane position, and one for invalid

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        // Work item (b, g, pixel): one whole offset group, its channels left to the gather.
        ChannelChunk<Index> w;
        const Index group = index / plane;  // b*G + g
        w.pixel = index - group * plane;
        w.b = group / offset_groups;
        w.group = int(group - w.b * offset_groups);
        w.oy = int(w.pixel / out_w);
        w.ox = int(w.pixel - Index(w.oy) * out_w);
        for_each_tap(w, s, offset, mask, use_mask, [&](int tap, const BilinearPoint<C>& point, C modulation) {
            const Index entry = ((group * taps + tap) * plane + w.pixel) * 4;
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                keys[entry + k] = group * cells + (point.valid[k] ? point.offset[k] : cells - 1);
                weights[entry + k] = modulation * point.weight[k];
            }
        });
    }
}

template <typename T, typename Index, int CHUNK>
__global__ void deform_col2im_gather(const T* __restrict__ grad_columns,     // [C*kh*kw, B*Ho*Wo]
                                     const long long* __restrict__ order,    // plan entries, sorted by key (stable)
                                     const long long* __restrict__ starts,   // [B*G*(H*W + 1) + 1]: run of each key
                                     const compute_t<T>* __restrict__ weights,  // the plan's, unsorted
                                     T* __restrict__ grad_input,             // [B, C, H, W]
                                     Index n,                                // B * G * chunks per group * H*W
                                     DEFORM_SIZE_PARAMS) {
    using C = compute_t<T>;
    const DeformSizes s = DEFORM_SIZES;
    // Work items over input pixels: channel_chunk's numbering with the input plane as its "output".
    DeformSizes over_input = s;
    over_input.out_h = height;
    over_input.out_w = width;
    const Index plane = output_plane<Index>(s);
    const Index row_length = Index(batch) * plane;
    const int taps = kernel_h * kernel_w;
    const long long cells = (long long)height * width + 1;

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        const ChannelChunk<Index> w = channel_chunk<CHUNK>(index, over_input);
        const long long cell = (w.b * offset_groups + w.group) * cells + w.pixel;
        const T* grads = grad_columns + Index(w.channel) * taps * row_length + w.b * plane;
        C sum[CHUNK];
#pragma unroll
        for (int cc = 0; cc < CHUNK; ++cc) sum[cc] = C(0);
        for (long long e = starts[cell]; e < starts[cell + 1]; ++e) {
            const long long entry = order[e];
            const C weight = weights[entry];
            const long long item = entry >> 2;  // ((b*G + g)*taps + tap)*plane + pixel
            const Index pixel = Index(item % plane);
            const int tap = int((item / plane) % taps);
#pragma unroll
            for (int cc = 0; cc < CHUNK; ++cc) {
                if (cc < w.count) sum[cc] += weight * load_compute(grads + (Index(cc) * taps + tap) * row_length + pixel);
            }
        }
        T* out = grad_input + (w.b * channels + w.channel) * input_plane<Index>(s) + w.pixel;
#pragma unroll
        for (int cc = 0; cc < CHUNK; ++cc) {
            if (cc < w.count) store_rounded(out + Index(cc) * input_plane<Index>(s), sum[cc]);
        }
    }
}
