// Asynchronous global -> shared copies (cp.async, sm_80+): inline PTX on the GPU; on the host,
// per-thread copy groups applied at the wait that covers them (suite/emulator/runtime/block.cpp),
// with the destination poisoned until then, so a missing wait shows up as NaN.
//
// As on the GPU, the data is guaranteed only to the issuing thread after its wait; other threads
// need a __syncthreads() after the wait before they read it. load_tile_async (below both
// backends' primitives) copies a tile of rows into padded shared memory with them.
#pragma once

#ifdef SUITE_HOST

// The host emulation of the cp.async instructions the GPU path below issues
// (suite/emulator/include/emu/ptx/cp_async.h), which translated inline PTX uses as well.
#define cp_async_16(dst, src) __suite_ptx_cp_async(SUITE_HOST_SITE, (dst), (src), 16, 16)
#define cp_async_16_zfill(dst, src, valid) __suite_ptx_cp_async(SUITE_HOST_SITE, (dst), (src), 16, (valid) ? 16 : 0)
inline void cp_async_commit() { suite_host_cp_async_commit(); }
template <int N>
inline void cp_async_wait() {
    static_assert(N >= 0, "cp.async.wait_group takes a non-negative count");
    suite_host_cp_async_wait(N);
}
inline void cp_async_wait_all() {
    suite_host_cp_async_commit();
    suite_host_cp_async_wait(0);
}

#else

__device__ __forceinline__ unsigned suite_smem_address(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// cp.async.cg: 16 bytes, cached in L2 only (global data read once per tile).
__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* gmem_src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(suite_smem_address(smem_dst)), "l"(gmem_src));
}

// With valid false no byte is read (src may be any mapped address) and the 16 bytes become zero.
__device__ __forceinline__ void cp_async_16_zfill(void* smem_dst, const void* gmem_src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(suite_smem_address(smem_dst)),
                 "l"(gmem_src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::); }

#endif

// Issues cp.async copies of rows [row0, row0 + ROWS) x [0, HD) of one head into a tile with row
// pitch LD. Rows past seq and 8-element chunks at or past head_dim are zero-filled, so padded keys
// and columns contribute nothing (masked keys are also set to -inf before the softmax).
// Chunk e goes to row (e / (8 * CHUNKS)) * 8 + e % 8 and column chunk (e / 8) % CHUNKS: the 8 lanes
// of each shared-memory phase write one column chunk of 8 consecutive rows, which the odd pitch in
// 16-byte units puts in 8 distinct bank groups, as for ldmatrix. (Row-major chunks put two rows in a
// phase whenever a row has fewer than 8 chunks or the chunks wrap, and those rows shared banks:
// 2-way conflicts that `suite profile` counted at head dims 32, 48, 80, ...). ROWS is a multiple of 8.
// Thread i copies chunks i, i + NTHREADS, ...: its row within the band stays i % 8 and its band and
// column advance by fixed steps, so its source offset advances in place. (Computing each chunk's
// address afresh let ptxas hoist one 64-bit address per chunk out of the key loop, 32 registers for
// K and V together, and spill.) The trip count is a compile-time constant, so the copies unroll
// without a loop test; only the last one can be partial. Index: the type of in-head offsets (int
// when the caller guarantees they fit, as attention_tc's launcher does: it halves the offset
// registers; long long otherwise).
template <int ROWS, int HD, int LD, int NTHREADS, typename T, typename Index>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, Index row_stride, int row0, int seq,
                                                int head_dim) {
    constexpr int CHUNKS = HD / 8;                        // 16-byte chunks per row
    constexpr int TOTAL = ROWS * CHUNKS;                  // chunks in the tile
    constexpr int COPIES = (TOTAL + NTHREADS - 1) / NTHREADS;  // per thread
    constexpr int Q_STEP = NTHREADS / 8;                  // e / 8 advances by this per step
    constexpr int ROW_STEP = Q_STEP / CHUNKS * 8;         // whole 8-row bands a step advances, in rows
    constexpr int COL_STEP = Q_STEP % CHUNKS * 8;         // and elements beyond them
    static_assert(ROWS % 8 == 0 && NTHREADS % 8 == 0, "tiles are copied in bands of 8 rows");
    const int q = threadIdx.x / 8;
    int r = q / CHUNKS * 8 + threadIdx.x % 8, col = q % CHUNKS * 8;
    Index offset = Index(row0 + r) * row_stride + col;
#pragma unroll
    for (int i = 0; i < COPIES; ++i) {
        if (TOTAL % NTHREADS == 0 || threadIdx.x + i * NTHREADS < TOTAL) {
            const bool valid = row0 + r < seq && col < head_dim;
            cp_async_16_zfill(tile + r * LD + col, src + (valid ? offset : Index(0)), valid);
        }
        r += ROW_STEP, col += COL_STEP, offset += ROW_STEP * row_stride + COL_STEP;
        // Arithmetic rather than a branch: every lane then runs the same code (a host compiler would
        // otherwise duplicate the next copy into both arms, which profiling sees as two instructions).
        const int wrap = COL_STEP != 0 && col >= HD;
        col -= wrap * HD, r += wrap * 8, offset += wrap * (8 * row_stride - HD);
    }
}
