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
// One thread per (c, b, oy, ox), a grid-stride loop over n = C*B*Ho*Wo. The flat index runs ox
// fastest, so neighbouring threads read neighbouring offsets and write neighbouring columns
// (coalesced); the input reads are gathers served by L1/L2. T is float, __half, __nv_bfloat16 or
// double; sampling runs in fp32 (double for double) with one rounding at each store. Index is int,
// or long long when some flat index can exceed 2^31-1 (the caller decides).
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "common/bilinear.cuh"

template <typename T, typename Index>
__global__ void deform_im2col(const T* __restrict__ input,   // [B, C, H, W]
                              const T* __restrict__ offset,  // [B, G*2*kh*kw, Ho, Wo]
                              const T* __restrict__ mask,    // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                              T* __restrict__ columns,       // [C*kh*kw, B*Ho*Wo]
                              Index n,                       // C*B*Ho*Wo
                              int batch, int channels, int height, int width,
                              int kernel_h, int kernel_w, int pad_h, int pad_w,
                              int stride_h, int stride_w, int dilation_h, int dilation_w,
                              int offset_groups, int out_h, int out_w, int use_mask) {
    using C = compute_t<T>;
    const Index plane = Index(out_h) * out_w;       // one offset/mask channel
    const Index row_length = Index(batch) * plane;  // one row of columns
    const Index image_size = Index(height) * width;
    const int taps = kernel_h * kernel_w;
    const int channels_per_group = channels / offset_groups;

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        const Index c = index / row_length;
        const Index column = index - c * row_length;  // (b*Ho + oy)*Wo + ox
        const Index b = column / plane;
        const Index pixel = column - b * plane;       // oy*Wo + ox
        const int oy = int(pixel / out_w);
        const int ox = int(pixel - Index(oy) * out_w);
        const Index group = b * offset_groups + int(c) / channels_per_group;

        const T* image = input + (b * channels + c) * image_size;
        const T* offsets = offset + group * 2 * taps * plane + pixel;
        const T* masks = mask + group * taps * plane + pixel;
        T* out = columns + c * taps * row_length + column;
        const int y0 = oy * stride_h - pad_h;
        const int x0 = ox * stride_w - pad_w;

        for (int i = 0; i < kernel_h; ++i) {
            for (int j = 0; j < kernel_w; ++j) {
                const int tap = i * kernel_w + j;
                const C y = C(y0 + i * dilation_h) + load_compute(offsets + Index(2 * tap) * plane);
                const C x = C(x0 + j * dilation_w) + load_compute(offsets + Index(2 * tap + 1) * plane);
                C value = bilinear_sample(image, height, width, y, x);
                if (use_mask) value *= load_compute(masks + Index(tap) * plane);
                store_rounded(out + Index(tap) * row_length, value);
            }
        }
    }
}
