// Warp collectives, barriers, atomics, memory and address forms of inline PTX, for
// tests/test_emu_ptx_warp_memory.py.

// shfl.sync in each mode with a clamp/segment operand c, and the valid-lane predicate.
extern "C" __global__ void shfl_modes(const unsigned* in, const unsigned* b, const unsigned* c, unsigned* out) {
    const int l = threadIdx.x;
    const unsigned v = in[l];
#define SHFL(k, mode)                                                                                 \
    asm volatile("{ .reg .pred p; .reg .b32 r; shfl.sync." mode ".b32 r|p, %1, %2, %3, 0xffffffff;\n" \
                 " selp.b32 %0, r, 0xdeadbeef, p; }"                                                 \
                 : "=r"(out[k * 32 + l]) : "r"(v), "r"(b[k]), "r"(c[k]))
    SHFL(0, "idx");
    SHFL(1, "up");
    SHFL(2, "down");
    SHFL(3, "bfly");
}

extern "C" __global__ void votes(const unsigned* pred, const unsigned* value, unsigned* out) {
    const int l = threadIdx.x;
    unsigned ballot, all, any, uni, match_any, match_all, all_pred, sum, mn, mask;
    asm volatile("{ .reg .pred p, q; setp.ne.u32 p, %6, 0;\n"
                 " vote.sync.ballot.b32 %0, p, 0xffffffff;\n"
                 " vote.sync.all.pred q, p, 0xffffffff; selp.u32 %1, 1, 0, q;\n"
                 " vote.sync.any.pred q, !p, 0xffffffff; selp.u32 %2, 1, 0, q;\n"
                 " vote.sync.uni.pred q, p, 0xffffffff; selp.u32 %3, 1, 0, q;\n"
                 " match.sync.any.b32 %4, %7, 0xffffffff;\n"
                 " match.sync.all.b32 %5|q, %7, 0xffffffff; }\n"
                 : "=r"(ballot), "=r"(all), "=r"(any), "=r"(uni), "=r"(match_any), "=r"(match_all)
                 : "r"(pred[l]), "r"(value[l]));
    asm volatile("{ .reg .pred q; match.sync.all.b32 %1|q, %2, 0xffffffff; selp.u32 %0, 1, 0, q; }"
                 : "=r"(all_pred), "=r"(match_all) : "r"(value[l]));
    asm volatile("redux.sync.add.u32 %0, %2, 0xffffffff;\nredux.sync.min.s32 %1, %2, 0xffffffff;"
                 : "=r"(sum), "=r"(mn) : "r"(value[l]));
    asm volatile("activemask.b32 %0;" : "=r"(mask));
    unsigned* o = out + l * 10;
    o[0] = ballot, o[1] = all, o[2] = any, o[3] = uni, o[4] = match_any, o[5] = match_all, o[6] = all_pred;
    o[7] = sum, o[8] = mn, o[9] = mask;
}

// Named barriers with thread counts: warps 0-1 exchange through shared memory on barrier 1 (64
// threads) while warps 2-3 do on barrier 2 (bar.arrive by the producer warp, bar.sync by the consumer).
extern "C" __global__ void named_barriers(unsigned* out) {
    __shared__ unsigned slot[128];
    const int t = threadIdx.x, w = t / 32;
    if (w < 2) {
        slot[t] = t * 3;
        asm volatile("bar.sync 1, 64;" ::: "memory");
        out[t] = slot[t ^ 32];
    } else {
        if (w == 2) {
            slot[t] = t * 5;
            asm volatile("bar.arrive 2, 64;" ::: "memory");
        } else {
            asm volatile("barrier.sync 2, 64;" ::: "memory");
            out[t] = slot[t - 32];
        }
    }
    unsigned count;
    asm volatile("{ .reg .pred p; setp.eq.u32 p, %1, 0; bar.red.popc.u32 %0, 0, p; }" : "=r"(count) : "r"(t % 3));
    out[128 + t] = count;
}

// ld/st of every width and space, vectors, cache qualifiers, mov packing and the special registers.
extern "C" __global__ void memory_forms(const unsigned* in, unsigned* out, unsigned long long* addrs) {
    __shared__ __align__(16) unsigned tile[4 * 64];
    const int t = threadIdx.x;
    unsigned a, b, c, d;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(a), "=r"(b), "=r"(c), "=r"(d) : "l"(in + 4 * t));
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(&tile[4 * t]));
    asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(s), "r"(d), "r"(c), "r"(b), "r"(a) : "memory");
    __syncthreads();
    unsigned x, y;
    const unsigned s2 = static_cast<unsigned>(__cvta_generic_to_shared(&tile[4 * ((t + 1) % 64)]));
    asm volatile("ld.shared.v2.u32 {%0, %1}, [%2+8];" : "=r"(x), "=r"(y) : "r"(s2));
    asm volatile("st.global.cs.v2.u32 [%0], {%1, %2};" ::"l"(out + 2 * t), "r"(x), "r"(y) : "memory");
    unsigned long long generic, back, tid, lane, warp, ctaid, ntid;
    asm("cvta.shared.u64 %0, %1;" : "=l"(generic) : "l"((unsigned long long)s));
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(back) : "l"(generic));
    asm("{ .reg .b32 r; mov.u32 r, %%tid.x; cvt.u64.u32 %0, r; }" : "=l"(tid));
    asm("{ .reg .b32 r; mov.u32 r, %%laneid; cvt.u64.u32 %0, r; }" : "=l"(lane));
    asm("{ .reg .b32 r; mov.u32 r, %%warpid; cvt.u64.u32 %0, r; }" : "=l"(warp));
    asm("{ .reg .b32 r; mov.u32 r, %%ctaid.x; cvt.u64.u32 %0, r; }" : "=l"(ctaid));
    asm("{ .reg .b32 r; mov.u32 r, %%ntid.x; cvt.u64.u32 %0, r; }" : "=l"(ntid));
    if (blockIdx.x != gridDim.x - 1) return;  // one block reports (blocks run in any order, on any worker)
    unsigned long long* o = addrs + 8 * t;
    o[0] = generic, o[1] = (unsigned long long)&tile[4 * t], o[2] = back, o[3] = s, o[4] = tid, o[5] = lane;
    o[6] = warp | ctaid << 16 | ntid << 32, o[7] = __isShared(&tile[0]) | __isGlobal(in) << 1 | __isShared(in) << 2;
}

// Atomics in global and shared memory: a histogram with red.shared.add, then atom.global.add of the
// bins, atom.cas and atom.exch.
extern "C" __global__ void atomics(const unsigned* keys, unsigned* hist, unsigned* cas_out) {
    __shared__ unsigned bins[8];
    const int t = threadIdx.x;
    if (t < 8) bins[t] = 0;
    __syncthreads();
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(&bins[keys[blockIdx.x * 64 + t] % 8]));
    asm volatile("red.shared.add.u32 [%0], 1;" ::"r"(s) : "memory");
    __syncthreads();
    if (t < 8) {
        unsigned old;
        asm volatile("atom.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(hist + t), "r"(bins[t]) : "memory");
    }
    if (t == 0) {
        unsigned old;
        asm volatile("atom.global.cas.b32 %0, [%1], %2, %3;" : "=r"(old) : "l"(cas_out), "r"(0u), "r"(blockIdx.x + 1)
                     : "memory");
        asm volatile("atom.global.exch.b32 %0, [%1], %2;" : "=r"(old) : "l"(cas_out + 1 + blockIdx.x), "r"(7u) : "memory");
    }
}
