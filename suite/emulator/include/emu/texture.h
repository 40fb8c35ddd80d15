// Texture objects (cudaTextureObject_t) as CuPy creates them: the handle is the address of a
// descriptor that suite/emulator/texture.py fills (its ctypes mirror must match this struct), and
// tex1Dfetch / tex1D / tex2D / tex3D sample it as the CUDA Programming Guide's "Texture Fetching"
// appendix specifies: address modes on texel indices (wrap and mirror only with normalized
// coordinates, else clamp), point or linear filtering with the GPU's 9-bit fixed-point weights
// (8 fraction bits), read mode element type or normalized float (8/16-bit integer formats).
// Legacy texture references (texture<T, dim> and tex1D(texref, x)) were removed in CUDA 12 and are
// not emulated.
#pragma once

#include <math.h>
#include <stdint.h>

typedef unsigned long long cudaTextureObject_t;  // as texture_types.h (an identical typedef is legal)

extern "C" {
struct __suite_texture {
    const unsigned char* data;
    uint64_t extent[3];    // width, height, depth in texels (1 for unused dimensions)
    uint64_t pitch[2];     // bytes between rows, between slices
    int channels;          // 1..4
    int channel_bytes;     // 1, 2 or 4 (each channel the same size)
    int kind;              // 0 signed, 1 unsigned, 2 float (2 bytes: half)
    int address[3];        // 0 wrap, 1 clamp, 2 mirror, 3 border
    int filter;            // 0 point, 1 linear
    int normalized_read;   // read mode: 1 normalized float
    int normalized_coords;
    int linear;            // a linear-memory resource (tex1Dfetch's)
    float border[4];
};
}

namespace suite_host {

struct Texel {
    float v[4];
};

inline float texel_channel(const __suite_texture& t, const unsigned char* p) {
    switch (t.kind * 8 + t.channel_bytes) {
        case 0 * 8 + 1: return t.normalized_read ? fmaxf(*(const int8_t*)p / 127.0f, -1.0f) : *(const int8_t*)p;
        case 0 * 8 + 2: return t.normalized_read ? fmaxf(*(const int16_t*)p / 32767.0f, -1.0f) : *(const int16_t*)p;
        case 0 * 8 + 4: return float(*(const int32_t*)p);
        case 1 * 8 + 1: return t.normalized_read ? *(const uint8_t*)p / 255.0f : *(const uint8_t*)p;
        case 1 * 8 + 2: return t.normalized_read ? *(const uint16_t*)p / 65535.0f : *(const uint16_t*)p;
        case 1 * 8 + 4: return float(*(const uint32_t*)p);
        case 2 * 8 + 2: return __half2float(*(const __half*)p);
        default: return *(const float*)p;
    }
}

// Integer texels read as elements keep every bit (a float cannot hold all of int32).
inline long long texel_integer(const __suite_texture& t, const unsigned char* p) {
    switch (t.kind * 8 + t.channel_bytes) {
        case 0 * 8 + 1: return *(const int8_t*)p;
        case 0 * 8 + 2: return *(const int16_t*)p;
        case 0 * 8 + 4: return *(const int32_t*)p;
        case 1 * 8 + 1: return *(const uint8_t*)p;
        case 1 * 8 + 2: return *(const uint16_t*)p;
        default: return *(const uint32_t*)p;
    }
}

// The texel index after the address mode, or -1 for a border texel.
inline long long address_index(long long i, long long n, int mode, bool normalized) {
    if (!normalized && (mode == 0 || mode == 2)) mode = 1;  // wrap and mirror need normalized coordinates
    if (i >= 0 && i < n) return i;
    switch (mode) {
        case 0: return (i % n + n) % n;
        case 2: {
            const long long m = (i % (2 * n) + 2 * n) % (2 * n);
            return m < n ? m : 2 * n - 1 - m;
        }
        case 3: return -1;
        default: return i < 0 ? 0 : n - 1;
    }
}

inline const unsigned char* texel_address(const __suite_texture& t, const long long* idx, int dims) {
    long long at[3] = {0, 0, 0};
    for (int d = 0; d < dims; ++d) {
        at[d] = address_index(idx[d], (long long)t.extent[d], t.address[d], t.normalized_coords);
        if (at[d] < 0) return nullptr;
    }
    return t.data + at[2] * t.pitch[1] + at[1] * t.pitch[0] + at[0] * uint64_t(t.channels * t.channel_bytes);
}

inline Texel fetch_texel(const __suite_texture& t, const long long* idx, int dims) {
    Texel r{};
    const unsigned char* p = texel_address(t, idx, dims);
    for (int c = 0; c < 4; ++c)
        r.v[c] = !p ? t.border[c] : c < t.channels ? texel_channel(t, p + c * t.channel_bytes) : 0.0f;
    return r;
}

// Sampling at (unnormalized after scaling) coordinates: point takes floor(x), linear blends the
// 2^dims neighbours of x - 0.5 with weights rounded to multiples of 1/256, as the hardware does.
inline Texel sample(const __suite_texture& t, const float* coords, int dims) {
    float x[3];
    for (int d = 0; d < dims; ++d) x[d] = t.normalized_coords ? coords[d] * float(t.extent[d]) : coords[d];
    long long base[3];
    float alpha[3];
    if (!t.filter) {
        for (int d = 0; d < dims; ++d) base[d] = (long long)floorf(x[d]);
        return fetch_texel(t, base, dims);
    }
    for (int d = 0; d < dims; ++d) {
        const float xb = x[d] - 0.5f;
        base[d] = (long long)floorf(xb);
        alpha[d] = rintf((xb - floorf(xb)) * 256.0f) / 256.0f;  // 9-bit fixed point, 8 bits of fraction
    }
    Texel r{};
    for (int corner = 0; corner < (1 << dims); ++corner) {
        long long idx[3];
        float w = 1.0f;
        for (int d = 0; d < dims; ++d) {
            const int up = corner >> d & 1;
            idx[d] = base[d] + up;
            w *= up ? alpha[d] : 1.0f - alpha[d];
        }
        const Texel s = fetch_texel(t, idx, dims);
        for (int c = 0; c < 4; ++c) r.v[c] += w * s.v[c];
    }
    return r;
}

template <class T> struct tex_components { static constexpr int n = 1; using type = T; };
#define SUITE_TEX_VECTOR(V, C)                                                                   \
    template <> struct tex_components<V##1> { static constexpr int n = 1; using type = C; };   \
    template <> struct tex_components<V##2> { static constexpr int n = 2; using type = C; };   \
    template <> struct tex_components<V##4> { static constexpr int n = 4; using type = C; };
SUITE_TEX_VECTOR(float, float)
SUITE_TEX_VECTOR(int, int)
SUITE_TEX_VECTOR(uint, unsigned)
SUITE_TEX_VECTOR(short, short)
SUITE_TEX_VECTOR(ushort, unsigned short)
SUITE_TEX_VECTOR(char, signed char)
SUITE_TEX_VECTOR(uchar, unsigned char)
#undef SUITE_TEX_VECTOR

template <class T>
T texel_as(const __suite_texture& t, const Texel& s, const unsigned char* raw) {
    using C = typename tex_components<T>::type;
    T out;
    C* c = reinterpret_cast<C*>(&out);
    for (int i = 0; i < tex_components<T>::n; ++i) {
        // Integer results of an integer texture read as elements: the texel's exact bits.
        if (raw && !std::is_floating_point<C>::value && t.kind != 2 && !t.normalized_read && !t.filter)
            c[i] = i < t.channels ? C(texel_integer(t, raw + i * t.channel_bytes)) : C(0);
        else
            c[i] = C(s.v[i]);
    }
    return out;
}

inline const __suite_texture& texture_of(cudaTextureObject_t handle) {
    return *reinterpret_cast<const __suite_texture*>(handle);
}

template <class T>
T texture_point_or_linear(cudaTextureObject_t handle, const float* coords, int dims) {
    const __suite_texture& t = texture_of(handle);
    long long idx[3];
    for (int d = 0; d < dims; ++d)
        idx[d] = (long long)floorf(t.normalized_coords ? coords[d] * float(t.extent[d]) : coords[d]);
    const unsigned char* raw = t.filter ? nullptr : texel_address(t, idx, dims);
    return texel_as<T>(t, sample(t, coords, dims), raw);
}

}  // namespace suite_host

// tex1Dfetch: an integer index into linear memory; no filtering, no address modes, 0 outside.
template <class T>
T tex1Dfetch(cudaTextureObject_t handle, int x) {
    const __suite_texture& t = suite_host::texture_of(handle);
    suite_host::Texel s{};
    const unsigned char* raw = nullptr;
    if (x >= 0 && uint64_t(x) < t.extent[0]) {
        raw = t.data + uint64_t(x) * uint64_t(t.channels * t.channel_bytes);
        for (int c = 0; c < t.channels; ++c) s.v[c] = suite_host::texel_channel(t, raw + c * t.channel_bytes);
    }
    return suite_host::texel_as<T>(t, s, raw);
}
template <class T>
T tex1D(cudaTextureObject_t handle, float x) {
    const float c[1] = {x};
    return suite_host::texture_point_or_linear<T>(handle, c, 1);
}
template <class T>
T tex2D(cudaTextureObject_t handle, float x, float y) {
    const float c[2] = {x, y};
    return suite_host::texture_point_or_linear<T>(handle, c, 2);
}
template <class T>
T tex3D(cudaTextureObject_t handle, float x, float y, float z) {
    const float c[3] = {x, y, z};
    return suite_host::texture_point_or_linear<T>(handle, c, 3);
}
// The pointer forms: tex2D(&value, handle, x, y).
template <class T>
void tex1Dfetch(T* out, cudaTextureObject_t handle, int x) { *out = tex1Dfetch<T>(handle, x); }
template <class T>
void tex1D(T* out, cudaTextureObject_t handle, float x) { *out = tex1D<T>(handle, x); }
template <class T>
void tex2D(T* out, cudaTextureObject_t handle, float x, float y) { *out = tex2D<T>(handle, x, y); }
template <class T>
void tex3D(T* out, cudaTextureObject_t handle, float x, float y, float z) { *out = tex3D<T>(handle, x, y, z); }
