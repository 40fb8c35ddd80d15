// The gradients of deform_im2col (deform_im2col.cu) with respect to its offsets and its mask,
// torchvision's semantics (its deformable_col2im_coord kernel):
//   grad_offset[b][g*2*taps + 2*tap + d][oy][ox] = sum over the channels c of offset group g of
//       mask * coordinate_weight(point, input[b][c], d) * grad_columns[c*taps + tap][(b*Ho + oy)*Wo + ox]
//   grad_mask[b][g*taps + tap][oy][ox] = sum over the same channels of grad_columns[...] * sample(input[b][c], point)
// where coordinate_weight is the bilinear sample's derivative along y (d = 0) or x (d = 1)
// (common/bilinear.cuh). On the edges y == -1, y == H (and x's) torchvision takes the one-sided
// derivative from inside the image, so the point here counts those edges (closed_edges); its
// sample there is 0 all the same (the corner inside has weight 0), so the mask's gradient reuses its
// corner values.
//
// One thread per offset element (b, g, tap, d, oy, ox), numbered as the offset tensor, pixel fastest
// (neighbouring threads read neighbouring grad_columns and write neighbouring gradients); it sums
// over the group's channels in a fixed order in float (double for double) registers and stores once:
// deterministic, no atomics. The y thread (d = 0) also writes the mask's gradient. T is float,
// __half, __nv_bfloat16 or double; Index is int, or long long when some flat index can exceed 2^31-1.
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "common/channel_chunks.cuh"

template <typename T, typename Index>
__global__ void deform_col2im_coord(const T* __restrict__ input,         // [B, C, H, W]
                                    const T* __restrict__ offset,        // [B, G*2*kh*kw, Ho, Wo]
                                    const T* __restrict__ mask,          // [B, G*kh*kw, Ho, Wo]; unread unless use_mask
                                    const T* __restrict__ grad_columns,  // [C*kh*kw, B*Ho*Wo]
                                    T* __restrict__ grad_offset,         // as offset
                                    T* __restrict__ grad_mask,           // as mask; unwritten unless use_mask
                                    Index n,                             // B * G*2*kh*kw * Ho*Wo
                                    DEFORM_SIZE_PARAMS, int use_mask) {
    using C = compute_t<T>;
    const DeformSizes s = DEFORM_SIZES;
    const Index plane = output_plane<Index>(s);
    const Index row_length = Index(batch) * plane;
    const int taps = kernel_h * kernel_w;
    const int channels_per_group = channels / offset_groups;

    for (Index index = Index(blockIdx.x) * blockDim.x + threadIdx.x; index < n;
         index += Index(blockDim.x) * gridDim.x) {
        const Index pixel = index % plane;
        const Index row = index / plane;  // (b*G + g)*2*taps + 2*tap + d
        const bool y_direction = (row & 1) == 0;
        const int tap = int((row >> 1) % taps);
        const Index group = (row >> 1) / taps;  // b*G + g
        const Index b = group / offset_groups;
        const int first = int(group - b * offset_groups) * channels_per_group;
        const int oy = int(pixel / out_w), ox = int(pixel - Index(oy) * out_w);

        const T* offsets = offset + (group * 2 * taps + 2 * tap) * plane + pixel;
        C y, x;
        tap_position(s, oy, ox, tap, load_compute(offsets), load_compute(offsets + plane), y, x);
        const Index mask_index = (group * taps + tap) * plane + pixel;
        const C modulation = use_mask ? load_compute(mask + mask_index) : C(1);
        const BilinearPoint<C> point = bilinear_point(height, width, y, x, /*closed_edges=*/true);

        const T* image = input + (b * channels + first) * input_plane<Index>(s);
        const T* grads = grad_columns + Index(first) * taps * row_length + Index(tap) * row_length + b * plane + pixel;
        C grad_coordinate = C(0), grad_modulation = C(0);
        for (int c = 0; c < channels_per_group; ++c) {
            C v[4];
            corner_values(image + c * input_plane<Index>(s), point, v);
            const C grad = load_compute(grads + Index(c) * taps * row_length);
            grad_coordinate += modulation * coordinate_weight(point, v, y_direction) * grad;
            if (use_mask && y_direction) {
                grad_modulation += grad * interpolate(point, v);
            }
        }
        store_rounded(grad_offset + index, grad_coordinate);
        if (use_mask && y_direction) store_rounded(grad_mask + mask_index, grad_modulation);
    }
}
