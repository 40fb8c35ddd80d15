// The work item of the deformable kernels: one output pixel of one image and a chunk of up to CHUNK
// consecutive input channels of one offset group. Channels of an offset group are sampled at the
// same points, so a thread computes each tap's offsets, mask and bilinear point once and reuses
// them for the chunk's channels, instead of every channel re-reading them through the caches.
//
// Work items are numbered (b, chunk, pixel) with the pixel fastest: neighbouring threads read
// neighbouring offsets and masks and write neighbouring outputs (coalesced). Chunks never cross an
// offset group; the last chunk of a group may be partial (`count` < CHUNK).
#pragma once

#include "common/bilinear.cuh"

// The sizes every deformable kernel takes (as int parameters, in this order: DEFORM_SIZE_PARAMS).
struct DeformSizes {
    int batch, channels, height, width, kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w, dilation_h,
        dilation_w, offset_groups, out_h, out_w;
};

// The kernels' size parameters, and the DeformSizes made of them inside a kernel.
#define DEFORM_SIZE_PARAMS                                                                                    \
    int batch, int channels, int height, int width, int kernel_h, int kernel_w, int pad_h, int pad_w,         \
        int stride_h, int stride_w, int dilation_h, int dilation_w, int offset_groups, int out_h, int out_w
#define DEFORM_SIZES                                                                                          \
    DeformSizes { batch, channels, height, width, kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w,      \
                  dilation_h, dilation_w, offset_groups, out_h, out_w }

template <typename Index>
__device__ __forceinline__ Index output_plane(const DeformSizes& s) { return Index(s.out_h) * s.out_w; }

template <typename Index>
__device__ __forceinline__ Index input_plane(const DeformSizes& s) { return Index(s.height) * s.width; }

template <typename Index>
struct ChannelChunk {
    Index b;            // image
    Index pixel;        // oy*Wo + ox
    int oy, ox;
    int group;          // offset group
    int channel;        // the chunk's first input channel
    int count;          // its channels, 1..CHUNK
};

// Work item `index` of B * offset_groups * chunks per group * Ho*Wo.
template <int CHUNK, typename Index>
__device__ __forceinline__ ChannelChunk<Index> channel_chunk(Index index, const DeformSizes& s) {
    const Index plane = output_plane<Index>(s);
    const int channels_per_group = s.channels / s.offset_groups;
    const int per_group = (channels_per_group + CHUNK - 1) / CHUNK;
    const Index row = index / plane;  // b * offset_groups * per_group + chunk
    ChannelChunk<Index> w;
    w.pixel = index - row * plane;
    w.b = row / (s.offset_groups * per_group);
    const int chunk = int(row - w.b * (s.offset_groups * per_group));
    w.group = chunk / per_group;
    const int first = (chunk - w.group * per_group) * CHUNK;  // within the group
    w.count = min(CHUNK, channels_per_group - first);
    w.channel = w.group * channels_per_group + first;
    w.oy = int(w.pixel / s.out_w);
    w.ox = int(w.pixel - Index(w.oy) * s.out_w);
    return w;
}

// The chunk's first input plane; plane cc of the chunk is input_plane<Index>(s) elements further.
template <typename T, typename Index>
__device__ __forceinline__ const T* chunk_image(const T* input, const ChannelChunk<Index>& w, const DeformSizes& s) {
    return input + (w.b * s.channels + w.channel) * input_plane<Index>(s);
}

// The sampling position (y, x) of kernel tap `tap` (= i*kernel_w + j) of output pixel (oy, ox), moved
// by the tap's learned offsets: the integer base position, converted, plus the offset (as torchvision).
template <typename C>
__device__ __forceinline__ void tap_position(const DeformSizes& s, int oy, int ox, int tap, C offset_y, C offset_x,
                                             C& y, C& x) {
    const int i = tap / s.kernel_w, j = tap - i * s.kernel_w;
    y = C(oy * s.stride_h - s.pad_h + i * s.dilation_h) + offset_y;
    x = C(ox * s.stride_w - s.pad_w + j * s.dilation_w) + offset_x;
}

// The bilinear point of kernel tap `tap` of output pixel (oy, ox), moved by its learned offsets, and
// its mask value (1 without a mask) in `modulation`. `offsets` and `masks` point at the pixel's
// elements of tap 0 of one (image, offset group): the tap's offsets are channels 2*tap and 2*tap + 1
// of the group, its mask channel tap, each channel `plane` elements further.
template <typename T, typename Index>
__device__ __forceinline__ BilinearPoint<compute_t<T>> tap_point(const DeformSizes& s, const T* offsets, const T* masks,
                                                                 Index plane, int oy, int ox, int tap, int use_mask,
                                                                 compute_t<T>& modulation) {
    using C = compute_t<T>;
    C y, x;
    tap_position(s, oy, ox, tap, load_compute(offsets + Index(2 * tap) * plane),
                 load_compute(offsets + Index(2 * tap + 1) * plane), y, x);
    modulation = use_mask ? load_compute(masks + Index(tap) * plane) : C(1);
    return bilinear_point(s.height, s.width, y, x);
}

// Calls visit(tap, point, modulation) for each kernel tap (i, j) of work item w, in order (tap_point).
template <typename T, typename Index, typename Visit>
__device__ __forceinline__ void for_each_tap(const ChannelChunk<Index>& w, const DeformSizes& s, const T* offset,
                                             const T* mask, int use_mask, Visit visit) {
    using C = compute_t<T>;
    const Index plane = output_plane<Index>(s);
    const int taps = s.kernel_h * s.kernel_w;
    const Index group = w.b * s.offset_groups + w.group;
    const T* offsets = offset + group * 2 * taps * plane + w.pixel;
    const T* masks = mask + group * taps * plane + w.pixel;
    for (int tap = 0; tap < taps; ++tap) {
        C modulation;
        const BilinearPoint<C> point = tap_point(s, offsets, masks, plane, w.oy, w.ox, tap, use_mask, modulation);
        visit(tap, point, modulation);
    }
}
