// <mma.h> for the host backend: nvcuda::wmma, the warp-wide matrix API of the CUDA C++ Programming
// Guide ("Warp Matrix Functions"), written here for the emulation (no NVIDIA code). A kernel's
// `#include <mma.h>` finds this file before the toolkit's (build.py puts include/api first).
//
// Shapes and types, as a CUDA 12/13 toolkit offers them on sm_80/sm_90:
//   m16n16k16, m32n8k16, m8n32k16: __half or __nv_bfloat16 (accumulator float or __half),
//                                  signed/unsigned char (accumulator int);
//   m16n16k8: precision::tf32 (accumulator float);  m8n8k4: double.
// Sub-byte types (experimental::precision::u4/s4/b1) are not emulated: naming them fails to compile.
//
// load/store/mma are warp collectives (suite_host_warp_collective: every lane must reach the same
// call, and synccheck sees them). After a load's or store's meeting each lane moves its own
// elements (the checks see them as its accesses); for mma the last lane to arrive computes the tile.
// Element order of a fragment (CUDA leaves it unspecified): that of the mma.sync fragments of the
// PTX ISA on sm_80, in 8-row blocks taken column by column: an A or accumulator block is 8 rows by
// 4P columns, lane (g = lane/4, t = lane%4) holding row g, columns P*t..P*t+P-1; a B block is 4P
// rows (k) by 8 columns (n), the lane holding rows P*t..P*t+P-1 of column g; P is 2 for 16-bit types
// and accumulators, 4 for 8-bit, 1 for tf32 and double A/B. For m16n16k16 (two m16n8k16 tiles),
// m16n16k8 tf32 and m8n8k4 this is the mma.sync layout, which sm_80's WMMA accumulators are known
// to follow (A and B not checked on a GPU here); for m32n8k16/m8n32k16 it is our choice. __half A/B fragments hold 16 elements in every shape (as NVIDIA's header declares): the
// unique elements repeat (x[i] == x[i % unique]); mma_sync reads the first copy.
//
// Numerics: products are exact and summed in double, rounded once to the accumulator type (fp16/bf16
// like sm_80's fp32 accumulation, which does not round between the k terms of one instruction);
// tf32 inputs lose their low 13 mantissa bits (the tensor core ignores them); int8 sums wrap to
// int32 unless satf; double is an fma chain in k order.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
// suite_host_warp_collective and suite_host_trap come from cuda_host.h, force-included before this.

namespace nvcuda {
namespace wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
}  // namespace precision

// cvt.rna.tf32.f32: to nearest, ties away from zero, kept in a float with the low 13 bits zero.
inline float __float_to_tf32(float in) {
    uint32_t bits;
    std::memcpy(&bits, &in, 4);
    if ((bits & 0x7f800000u) != 0x7f800000u) bits = (bits + 0x1000u) & 0xffffe000u;
    float out;
    std::memcpy(&out, &bits, 4);
    return out;
}

}  // namespace wmma
}  // namespace nvcuda

namespace __suite_wmma {

using namespace nvcuda::wmma;

template <class T> struct storage { using type = T; };
template <> struct storage<precision::tf32> { using type = float; };

template <class T, class... U> constexpr bool one_of = (std::is_same<T, U>::value || ...);

// Whether CUDA declares fragment<Use, M, N, K, T, Layout>.
template <class Use, int M, int N, int K, class T, class Layout>
constexpr bool declared() {
    constexpr bool ab = one_of<Use, matrix_a, matrix_b>;
    if (ab ? !one_of<Layout, row_major, col_major> : !std::is_void<Layout>::value) return false;
    constexpr bool k16 = (M == 16 && N == 16) || (M == 32 && N == 8) || (M == 8 && N == 32);
    if (k16 && K == 16)
        return ab ? one_of<T, __half, __nv_bfloat16, signed char, unsigned char> : one_of<T, float, __half, int>;
    if (M == 16 && N == 16 && K == 8) return ab ? std::is_same<T, precision::tf32>::value : std::is_same<T, float>::value;
    if (M == 8 && N == 8 && K == 4) return std::is_same<T, double>::value;
    return false;
}

// The matrix a fragment holds: A is M x K, B is K x N, the accumulator M x N.
template <class Use, int M, int N, int K>
struct extent {
    static constexpr int rows = std::is_same<Use, matrix_b>::value ? K : M;
    static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
    static constexpr int unique = rows * cols / 32;  // elements per lane without repeats
};

}  // namespace __suite_wmma

namespace nvcuda {
namespace wmma {

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
    static_assert(__suite_wmma::declared<Use, M, N, K, T, Layout>(),
                  "nvcuda::wmma::fragment: CUDA has no such fragment (the host backend emulates m16n16k16, m32n8k16 "
                  "and m8n32k16 for __half, __nv_bfloat16, signed/unsigned char; m16n16k8 precision::tf32; "
                  "m8n8k4 double; A/B take row_major or col_major, accumulators no layout)");
    static constexpr bool repeats = std::is_same<T, __half>::value && !std::is_same<Use, accumulator>::value;

public:
    enum { num_elements = repeats ? 16 : __suite_wmma::extent<Use, M, N, K>::unique };
    enum { num_storage_elements = num_elements };
    typedef T element_type;
    typedef typename __suite_wmma::storage<T>::type storage_element_type;
    alignas(8) storage_element_type x[num_elements];
};

template <class Use, int M, int N, int K, class T, class L>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f,
                          const typename fragment<Use, M, N, K, T, L>::storage_element_type& v) {
    for (int i = 0; i < f.num_elements; ++i) f.x[i] = v;
}

}  // namespace wmma
}  // namespace nvcuda

namespace __suite_wmma {

template <class Frag> struct traits;
template <class Use, int M, int N, int K, class T, class L>
struct traits<fragment<Use, M, N, K, T, L>> {
    using use = Use;
    using element = T;
    using shape = extent<Use, M, N, K>;
    static constexpr int elements = fragment<Use, M, N, K, T, L>::num_elements;
    static constexpr bool is_b = std::is_same<Use, matrix_b>::value;
    // Elements of one lane in a row (A, accumulator) or column (B) of an 8-row block.
    static constexpr int run = std::is_same<Use, accumulator>::value ? 2 : sizeof(typename storage<T>::type) >= 4 ? 1
                                                                          : 4 / int(sizeof(typename storage<T>::type));
    static constexpr bool col_major_memory = std::is_same<L, col_major>::value;
};

// Row and column (in the fragment's matrix) of element i of `lane`.
template <class Tr>
inline void coordinates(int lane, int i, int& row, int& col) {
    const int g = lane / 4, t = lane % 4, u = i % Tr::shape::unique;
    const int block = u / Tr::run, j = u % Tr::run;
    if (Tr::is_b) {
        const int k_blocks = Tr::shape::rows / (4 * Tr::run);
        row = 4 * Tr::run * (block % k_blocks) + Tr::run * t + j;
        col = 8 * (block / k_blocks) + g;
    } else {
        const int row_blocks = Tr::shape::rows / 8;
        row = 8 * (block % row_blocks) + g;
        col = 4 * Tr::run * (block / row_blocks) + Tr::run * t + j;
    }
}

inline double to_double(__half v) { return double(__half2float(v)); }
inline double to_double(__nv_bfloat16 v) { return double(__bfloat162float(v)); }
inline double to_double(float v) { return double(v); }
inline double to_double(double v) { return v; }

struct MemoryRecord {
    const void* pointer;
    unsigned ldm;
    bool col_major;
    suite_host_site site;
};

// CUDA's documented requirements on the pointer and ldm (Programming Guide, "Warp Matrix Functions"),
// except that the pointer is held to 16 bytes, not 32: host buffers (NumPy's) are only 16-byte
// aligned where cudaMalloc's are 256-byte aligned.
template <class S>
inline void check_operands(const char* what, const void* p, unsigned ldm, suite_host_site site) {
    char message[200];
    if (reinterpret_cast<uintptr_t>(p) % 16) {
        std::snprintf(message, sizeof message, "%s: the matrix pointer %p is not 16-byte aligned (CUDA asks for 32)",
                      what, p);
        suite_host_trap(site, message);
    }
    if (ldm * sizeof(S) % 16) {
        std::snprintf(message, sizeof message, "%s: ldm=%u is not a multiple of 16 bytes (%d elements of this type)",
                      what, ldm, int(16 / sizeof(S)));
        suite_host_trap(site, message);
    }
}

template <bool Store>
void agree_complete(void* const* records, unsigned) {
    const MemoryRecord& first = *static_cast<const MemoryRecord*>(records[0]);
    for (int lane = 1; lane < 32; ++lane) {
        const MemoryRecord& r = *static_cast<const MemoryRecord*>(records[lane]);
        if (r.pointer != first.pointer || r.ldm != first.ldm || r.col_major != first.col_major) {
            char message[160];
            std::snprintf(message, sizeof message,
                          "%s: every lane of the warp must pass the same pointer, ldm and layout (lane %d differs)",
                          Store ? "store_matrix_sync" : "load_matrix_sync", lane);
            suite_host_trap(r.site, message);
        }
    }
}

// The warp meets (every lane must call, with the same operands), then each lane moves its own
// elements, so the checks see every access as the lane's own, at the kernel's line.
template <class Frag, bool Store>
inline void memory(const char* what, Frag& f, const void* p, unsigned ldm, bool col_major, suite_host_site site) {
    using Tr = traits<Frag>;
    using S = typename Frag::storage_element_type;
    check_operands<S>(what, p, ldm, site);
    MemoryRecord record{p, ldm, col_major, site};
    suite_host_warp_collective(site, what, 0xffffffffu, &record, agree_complete<Store>);
    S* base = static_cast<S*>(const_cast<void*>(p));
    const int lane = int(::suite_host::lanes::self()->linear % 32);
    for (int i = 0; i < Tr::elements; ++i) {
        int row, col;
        coordinates<Tr>(lane, i, row, col);
        S& cell = base[col_major ? size_t(col) * ldm + row : size_t(row) * ldm + col];
        if (!Store) f.x[i] = cell;
        else if (i < Tr::shape::unique) cell = f.x[i];
    }
}

struct MmaRecord {
    void* d;
    const void* a;
    const void* b;
    const void* c;
    bool satf;
};

// Every lane's fragment of one operand, as the dense matrix it spells.
template <class Frag, class V, int Rows, int Cols>
void gather(void* const* records, const void* MmaRecord::*which, V (&out)[Rows][Cols]) {
    using Tr = traits<Frag>;
    for (int lane = 0; lane < 32; ++lane) {
        const Frag& f = *static_cast<const Frag*>(static_cast<const MmaRecord*>(records[lane])->*which);
        for (int i = 0; i < Tr::shape::unique; ++i) {
            int row, col;
            coordinates<Tr>(lane, i, row, col);
            auto v = f.x[i];
            if constexpr (std::is_same<typename Tr::element, precision::tf32>::value) {
                uint32_t bits;
                std::memcpy(&bits, &v, 4);
                bits &= 0xffffe000u;  // the tensor core reads tf32: the low 13 mantissa bits are ignored
                std::memcpy(&v, &bits, 4);
            }
            if constexpr (std::is_integral<V>::value) out[row][col] = V(v);
            else out[row][col] = to_double(v);
        }
    }
}

template <class T>
T accumulator_value(double v, bool satf) {
    if (satf) {
        const double limit = std::is_same<T, __half>::value ? 65504.0 : 3.4028234663852886e38;
        v = v != v ? 0.0 : v > limit ? limit : v < -limit ? -limit : v;
    }
    if constexpr (std::is_same<T, __half>::value) return __double2half(v);
    else return T(v);
}

template <class D, class A, class B, class C>
void mma_complete(void* const* records, unsigned) {
    constexpr int rows = traits<A>::shape::rows, depth = traits<A>::shape::cols, cols = traits<B>::shape::cols;
    constexpr bool integer = std::is_integral<typename traits<D>::element>::value;
    using V = typename std::conditional<integer, long long, double>::type;
    V a[rows][depth], b[depth][cols], c[rows][cols];
    gather<A>(records, &MmaRecord::a, a);
    gather<B>(records, &MmaRecord::b, b);
    gather<C>(records, &MmaRecord::c, c);
    const bool satf = static_cast<const MmaRecord*>(records[0])->satf;
    for (int lane = 0; lane < 32; ++lane) {
        D& d = *static_cast<D*>(static_cast<const MmaRecord*>(records[lane])->d);
        for (int i = 0; i < traits<D>::elements; ++i) {
            int row, col;
            coordinates<traits<D>>(lane, i, row, col);
            V sum = c[row][col];
            for (int k = 0; k < depth; ++k) {
                if constexpr (std::is_same<typename traits<D>::element, double>::value)
                    sum = __builtin_fma(a[row][k], b[k][col], sum);
                else
                    sum += a[row][k] * b[k][col];
            }
            if constexpr (integer) {
                const long long lo = INT32_MIN, hi = INT32_MAX;
                d.x[i] = satf ? int(sum < lo ? lo : sum > hi ? hi : sum) : int(uint32_t(uint64_t(sum)));
            } else {
                d.x[i] = accumulator_value<typename traits<D>::element>(sum, satf);
            }
        }
    }
}

inline suite_host_site here(const char* file = __builtin_FILE(), int line = __builtin_LINE()) { return {file, line}; }

}  // namespace __suite_wmma

namespace nvcuda {
namespace wmma {

// A and B: the layout is the fragment's.
template <class Use, int M, int N, int K, class T, class L,
          class = typename std::enable_if<!std::is_same<Use, accumulator>::value>::type>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& a,
                             const typename fragment<Use, M, N, K, T, L>::storage_element_type* p, unsigned ldm,
                             suite_host_site site = __suite_wmma::here()) {
    __suite_wmma::memory<fragment<Use, M, N, K, T, L>, false>("load_matrix_sync", a, p, ldm,
                                                             std::is_same<L, col_major>::value, site);
}

template <int M, int N, int K, class T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T>& c, const T* p, unsigned ldm, layout_t layout,
                             suite_host_site site = __suite_wmma::here()) {
    __suite_wmma::memory<fragment<accumulator, M, N, K, T>, false>("load_matrix_sync", c, p, ldm,
                                                                  layout == mem_col_major, site);
}

template <int M, int N, int K, class T>
inline void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& c, unsigned ldm, layout_t layout,
                              suite_host_site site = __suite_wmma::here()) {
    __suite_wmma::memory<fragment<accumulator, M, N, K, T>, true>(
        "store_matrix_sync", const_cast<fragment<accumulator, M, N, K, T>&>(c), p, ldm, layout == mem_col_major, site);
}

template <int M, int N, int K, class TD, class TAB, class LA, class LB, class TC>
inline void mma_sync(fragment<accumulator, M, N, K, TD>& d, const fragment<matrix_a, M, N, K, TAB, LA>& a,
                     const fragment<matrix_b, M, N, K, TAB, LB>& b, const fragment<accumulator, M, N, K, TC>& c,
                     bool satf = false, suite_host_site site = __suite_wmma::here()) {
    static_assert(std::is_integral<TD>::value == std::is_integral<TC>::value,
                  "mma_sync: C and D are both int or both floating point");
    __suite_wmma::MmaRecord record{&d, &a, &b, &c, satf};
    suite_host_warp_collective(site, "mma_sync", 0xffffffffu, &record,
                               __suite_wmma::mma_complete<fragment<accumulator, M, N, K, TD>,
                                                          fragment<matrix_a, M, N, K, TAB, LA>,
                                                          fragment<matrix_b, M, N, K, TAB, LB>,
                                                          fragment<accumulator, M, N, K, TC>>);
}

}  // namespace wmma
}  // namespace nvcuda
