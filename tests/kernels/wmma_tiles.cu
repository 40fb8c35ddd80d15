// One warp, one WMMA tile: D = A B + C for every fragment shape, type and layout nvcuda::wmma offers
// (tests/test_emu_wmma.py instantiates them), plus probes of the fragments' element order and of
// misuse that a GPU punishes.
#include <mma.h>

using namespace nvcuda;

template <class T> struct stored { using type = T; };
template <> struct stored<wmma::precision::tf32> { using type = float; };
// is_same, without <type_traits>: NVRTC (the GPU build that judges host builds) has no such header.
template <class A, class B> struct same { static constexpr bool value = false; };
template <class A> struct same<A, A> { static constexpr bool value = true; };

// A and B as the fragments' layouts say (leading dimensions lda, ldb, in elements); C read and D
// written row- or column-major as c_col / d_col say. tf32 inputs are rounded in the fragment, as
// the Programming Guide's tf32 example does.
template <int M, int N, int K, class T, class Acc, class LA, class LB>
__global__ void wmma_tile(const typename stored<T>::type* a, unsigned lda, const typename stored<T>::type* b,
                          unsigned ldb, const Acc* c, Acc* d, unsigned ldc, int c_col, int d_col) {
    wmma::fragment<wmma::matrix_a, M, N, K, T, LA> fa;
    wmma::fragment<wmma::matrix_b, M, N, K, T, LB> fb;
    wmma::fragment<wmma::accumulator, M, N, K, Acc> fc;
    wmma::load_matrix_sync(fa, a, lda);
    wmma::load_matrix_sync(fb, b, ldb);
    wmma::load_matrix_sync(fc, c, ldc, c_col ? wmma::mem_col_major : wmma::mem_row_major);
    if constexpr (same<T, wmma::precision::tf32>::value) {
        for (int i = 0; i < fa.num_elements; ++i) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
        for (int i = 0; i < fb.num_elements; ++i) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
    }
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(d, fc, ldc, d_col ? wmma::mem_col_major : wmma::mem_row_major);
}

// What each lane holds after loading a row-major matrix: out[lane * num_elements + i] = x[i].
template <class Use, int M, int N, int K, class T, class L>
__global__ void fragment_elements(const typename stored<T>::type* m, unsigned ld, typename stored<T>::type* out) {
    wmma::fragment<Use, M, N, K, T, L> f;
    if constexpr (same<Use, wmma::accumulator>::value) wmma::load_matrix_sync(f, m, ld, wmma::mem_row_major);
    else wmma::load_matrix_sync(f, m, ld);
    for (int i = 0; i < f.num_elements; ++i) out[threadIdx.x * f.num_elements + i] = f.x[i];
}

// Lane `odd_lane` passes another pointer than the rest of its warp.
extern "C" __global__ void wmma_lanes_disagree(const __half* a, int odd_lane) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, a + (int(threadIdx.x) == odd_lane ? 8 : 0), 16);
}
