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

// Samples the row-major `height` x `width` plane at (y, x). A point counts only when
// -1 < y < height and -1 < x < width (anything else, NaN included, gives 0); each of its four
// neighbours contributes only when it lies inside the plane, so the value fades to 0 across the
// border. The sum is taken in torchvision's order: (low,low), (low,high), (high,low), (high,high).
// Plane offsets are int: the caller guarantees height * width < 2^31.
template <typename T>
__device__ __forceinline__ compute_t<T> bilinear_sample(const T* __restrict__ plane, int height, int width,
                                                        compute_t<T> y, compute_t<T> x) {
    using C = compute_t<T>;
    if (!(y > C(-1) && y < C(height) && x > C(-1) && x < C(width))) return C(0);

    const int y_low = floor_to_int(y);
    const int x_low = floor_to_int(x);
    const int y_high = y_low + 1;
    const int x_high = x_low + 1;
    const C ly = y - C(y_low);
    const C lx = x - C(x_low);
    const C hy = C(1) - ly;
    const C hx = C(1) - lx;

    const bool top = y_low >= 0, bottom = y_high <= height - 1;
    const bool left = x_low >= 0, right = x_high <= width - 1;
    const C v1 = (top && left) ? load_compute(plane + y_low * width + x_low) : C(0);
    const C v2 = (top && right) ? load_compute(plane + y_low * width + x_high) : C(0);
    const C v3 = (bottom && left) ? load_compute(plane + y_high * width + x_low) : C(0);
    const C v4 = (bottom && right) ? load_compute(plane + y_high * width + x_high) : C(0);

    return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
}
