// Deformable im2col (DCNv1, and DCNv2 with a modulation mask), torchvision's semantics.
//
// Each element of `columns` [C*kh*kw, B*Ho*Wo] is the input channel c of image b bilinearly sampled
// at the kernel tap (i, j) of output pixel (oy, ox), moved by that tap's learned offset and, with a
// mask, scaled by its modulation scalar:
//   columns[(c*kh + i)*kw + j][(b*Ho + oy)*Wo + ox] =
//       mask[b][g*kh*kw + i*kw + j][oy][ox] * sample(input[b][c], oy*sh - ph + i*dh + offset_y,
//                                                                 ox*sw - pw + j*dw + offset_x)
// with g = c / (C / offset_groups), offset_y = offset[b][g*2*kh*kw + 2*(i*kw + j)][oy][ox] and
// offset_x the channel after it.
//
// One thread per (b, chunk of CHUNK channels of one offset group, oy, ox) (common/channel_chunks.cuh),
// a grid-stride loop over n = B * offset_groups * chunks per group * Ho*Wo; per tap the point is
// computed once and sampled in each channel of the chunk. The stores of a warp go to neighbouring
// columns (coalesced); the input reads are gathers served by L1/L2. T is float, __half,
// __nv_bfloat16 or double; sampling runs in fp32 (double for double) with one rounding at each
// store. Index is int, or long long when some flat index can exceed 2^31-1 (the caller decides).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "common/channel_chunks.cuh"

template <typename T, typename Index, int CHUNK>
__global__ void deform_im2col(const T* __restrict__ input,   // [B, C, H, W]
                              const T* __restrict__ offset,  // [B, G*2*kh*kw, Ho, Wo]
                              const T* __restrict__ mask,    // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                              T* __restrict__ columns,       // [C*kh*kw, B*Ho*Wo]
                              Index n,                       // B * G * chunks per group * Ho*Wo
                              DEFORM_SIZE_PARAMS, int use_mask) {
    using C = compute_t<T>;
    const DeformSizes s = DEFORM_SIZES;
    const Index row_length = Index(batch) * output_plane<Index>(s);  // one row of columns
    const int taps = kernel_h * kernel_w;

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        const ChannelChunk<Index> w = channel_chunk<CHUNK>(index, s);
        const T* image = chunk_image(input, w, s);
        T* out = columns + Index(w.channel) * taps * row_length + w.b * output_plane<Index>(s) + w.pixel;
        for_each_tap(w, s, offset, mask, use_mask, [&](int tap, const BilinearPoint<C>& point, C modulation) {
#pragma unroll
            for (int cc = 0; cc < CHUNK; ++cc) {
                if (cc < w.count) {
                    store_rounded(out + (Index(cc) * taps + tap) * row_length,
                                  sample(image + cc * input_plane<Index>(s), point) * modulation);  // x*1 is exact
                }
            }
        });
    }
}
