// Bilinear sampling with zero padding, as torchvision's deformable convolution defines it, plus the
// load/store conversions the sampling kernels share. Usable on the GPU and under the host emulation.
//
// Arithmetic happens in a "compute" type: float for float, __half and __nv_bfloat16 (loads widen to
// fp32, the caller rounds once at the store), double for double.
#pragma once

#include <cuda_fp16.h>
#include <cuda_bf16.h>

__device__ __forceinline__ float to_compute(float v) { return v; }
__device__ __forceinline__ double to_compute(double v) { return v; }
__device__ __forceinline__ float to_compute(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_compute(__nv_bfloat16 v) { return __bfloat162float(v); }

// The compute type of storage type T.
template <typename T>
using compute_t = decltype(to_compute(T{}));

// Read-only loads go through the non-coherent cache; every buffer a sampling kernel reads is const.
template <typename T>
__device__ __forceinline__ compute_t<T> load_compute(const T* p) { return to_compute(__ldg(p)); }

// The one rounding of a result to its storage type (round to nearest even).
__device__ __forceinline__ void store_rounded(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_rounded(double* p, double v) { *p = v; }
__device__ __forceinline__ void store_rounded(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store_rounded(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

__device__ __forceinline__ int floor_to_int(float v) { return static_cast<int>(floorf(v)); }
__device__ __forceinline__ int floor_to_int(double v) { return static_cast<int>(floor(v)); }

// The one rounding to storage type T and back: what a value becomes once stored in a T buffer and
// read again (identity for float and double).
template <typename T>
__device__ __forceinline__ compute_t<T> round_trip(compute_t<T> v) {
    T stored;
    store_rounded(&stored, v);
    return to_compute(stored);
}

// Where a bilinear sample of a row-major `height` x `width` plane at (y, x) reads, and with which
// weights: everything about the point and nothing about the plane, so one point serves every
// channel sampled at the same coordinates. Corners in torchvision's order (low,low), (low,high),
// (high,low), (high,high); an invalid corner has offset 0, is never read and contributes 0.
template <typename C>
struct BilinearPoint {
    int offset[4];  // y*width + x of each valid corner; int: the caller guarantees height * width < 2^31
    C weight[4];    // hy*hx, hy*lx, ly*hx, ly*lx
    bool valid[4];
    C ly, lx;       // the point's distance below its low row and right of its low column
};

// A point counts only when -1 < y < height and -1 < x < width; anything else, NaN included, has four
// invalid corners and so samples to 0. Each of a point's four neighbours contributes only when it
// lies inside the plane, so the value fades to 0 across the border. `closed_edges` also counts the
// edges y == -1, y == height (and x's): the sample there is 0 either way (the corner inside has
// weight 0), but torchvision's coordinate derivative (its col2im_coord kernel) takes that corner.
template <typename C>
__device__ __forceinline__ BilinearPoint<C> bilinear_point(int height, int width, C y, C x, bool closed_edges = false) {
    const bool inside = closed_edges ? y >= C(-1) && y <= C(height) && x >= C(-1) && x <= C(width)
                                     : y > C(-1) && y < C(height) && x > C(-1) && x < C(width);
    // Branch-free: a point outside goes on at (0, 0), where every step below is defined (floor of
    // NaN or of a huge value would not be), and its corners are then all marked invalid.
    if (!inside) y = x = C(0);
    const int y_low = floor_to_int(y);
    const int x_low = floor_to_int(x);
    const int y_high = y_low + 1;
    const int x_high = x_low + 1;
    const C ly = y - C(y_low);
    const C lx = x - C(x_low);
    const C hy = C(1) - ly;
    const C hx = C(1) - lx;
    // The low corners' upper bounds matter on closed edges only (y == height, x == width).
    const bool top = inside && y_low >= 0 && y_low <= height - 1, bottom = inside && y_high <= height - 1;
    const bool left = x_low >= 0 && x_low <= width - 1, right = x_high <= width - 1;

    BilinearPoint<C> p;
    p.valid[0] = top && left;
    p.valid[1] = top && right;
    p.valid[2] = bottom && left;
    p.valid[3] = bottom && right;
    // Offsets only for valid corners: an outside corner's y*width + x could overflow int.
    p.offset[0] = p.valid[0] ? y_low * width + x_low : 0;
    p.offset[1] = p.valid[1] ? y_low * width + x_high : 0;
    p.offset[2] = p.valid[2] ? y_high * width + x_low : 0;
    p.offset[3] = p.valid[3] ? y_high * width + x_high : 0;
    p.weight[0] = hy * hx;
    p.weight[1] = hy * lx;
    p.weight[2] = ly * hx;
    p.weight[3] = ly * lx;
    p.ly = ly;
    p.lx = lx;
    return p;
}

// The plane's values at the point's four corners, 0 for an invalid corner.
template <typename T>
__device__ __forceinline__ void corner_values(const T* __restrict__ plane, const BilinearPoint<compute_t<T>>& point,
                                              compute_t<T> (&v)[4]) {
    for (int k = 0; k < 4; ++k) v[k] = point.valid[k] ? load_compute(plane + point.offset[k]) : compute_t<T>(0);
}

// The value at `point` from its corner values: each corner's weight times its value, in corner order.
template <typename C>
__device__ __forceinline__ C interpolate(const BilinearPoint<C>& point, const C (&v)[4]) {
    return point.weight[0] * v[0] + point.weight[1] * v[1] + point.weight[2] * v[2] + point.weight[3] * v[3];
}

// The plane's value at `point` (an invalid corner's value is 0).
template <typename T>
__device__ __forceinline__ compute_t<T> sample(const T* __restrict__ plane, const BilinearPoint<compute_t<T>>& point) {
    compute_t<T> v[4];
    corner_values(plane, point, v);
    return interpolate(point, v);
}

// The derivative of the sample at `point` along y (y_direction) or x, from the corner values `v`:
// torchvision's get_coordinate_weight, arithmetic and order included.
template <typename C>
__device__ __forceinline__ C coordinate_weight(const BilinearPoint<C>& point, const C (&v)[4], bool y_direction) {
    return y_direction ? point.lx * (v[3] - v[1]) + (C(1) - point.lx) * (v[2] - v[0])
                       : point.ly * (v[3] - v[2]) + (C(1) - point.ly) * (v[1] - v[0]);
}
