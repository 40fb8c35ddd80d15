// <cuda_pipeline.h> as the host emulation provides it: the primitives, and the C++ form
// (nvcuda::experimental::pipeline and memcpy_async) over them. arrive_on (an mbarrier that
// counts the copies) is not emulated here: it is a compile-time error.
#pragma once

#include "cuda_pipeline_primitives.h"

namespace nvcuda {
namespace experimental {

class pipeline {
  public:
    pipeline() = default;
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;
    size_t commit() {
        __pipeline_commit();
        return 0;
    }
    void commit_and_wait() {
        __pipeline_commit();
        __pipeline_wait_prior(0);
    }
    void wait_prior(size_t prior) { __pipeline_wait_prior(prior); }
    template <size_t N> void wait_prior() { __pipeline_wait_prior(N); }
};

// One object, in the widest cp.async pieces (16, 8 or 4 bytes) its size and addresses allow.
template <typename T>
void memcpy_async(T& dst, const T& src, pipeline&, suite_host_site site = {__builtin_FILE(), __builtin_LINE()}) {
    static_assert(sizeof(T) % 4 == 0, "memcpy_async copies objects whose size is a multiple of 4 bytes");
    const size_t both = reinterpret_cast<size_t>(&dst) | reinterpret_cast<size_t>(&src) | sizeof(T);
    const size_t piece = both % 16 == 0 ? 16 : both % 8 == 0 ? 8 : 4;
    for (size_t at = 0; at < sizeof(T); at += piece)
        __pipeline_memcpy_async(reinterpret_cast<char*>(&dst) + at, reinterpret_cast<const char*>(&src) + at, piece, 0, site);
}
template <typename T, size_t DstN, size_t SrcN>
void memcpy_async(T (*dst)[DstN], const T (*src)[SrcN], pipeline& pipe,
                  suite_host_site site = {__builtin_FILE(), __builtin_LINE()}) {
    for (size_t i = 0; i < (DstN < SrcN ? DstN : SrcN); ++i) memcpy_async((*dst)[i], (*src)[i], pipe, site);
}

}  // namespace experimental
}  // namespace nvcuda
