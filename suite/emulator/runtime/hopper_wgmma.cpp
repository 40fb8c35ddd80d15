// wgmma.mma_async (m64nNk16, f16/bf16 inputs, f32 or f16 accumulators), fence, commit_group and
// wait_group. Each thread computes its own accumulator elements (the fragment layout of PTX's
// "wgmma 64xN D": reg i of warp w, lane 4g+t holds row 16w+g+8((i>>1)&1), column 8(i>>2)+2t+(i&1))
// when a wait_group covers the instruction; until then its accumulator registers hold a NaN
// pattern, so reading them early shows up, and writing them (or the A registers of the RS form)
// before that wait is a fault. Shared-memory operands are read through the 64-bit matrix
// descriptors at completion, so an operand overwritten before the wait changes the result as on
// the GPU. Products are exact in f32 and summed in f32 in k order.
#include <cmath>
#include <cstring>

#include "hopper_state.h"

namespace suite_rt {

namespace {

constexpr uint32_t kPoisonF32 = 0x7fc0bad0u;  // a quiet NaN with a payload
constexpr uint32_t kPoisonF16x2 = 0x7e2d7e2du;

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h >> 15) << 31, exponent = (h >> 10) & 31, mantissa = h & 1023;
    uint32_t bits;
    if (exponent == 31) bits = sign | 0x7f800000u | (mantissa << 13);
    else if (exponent) bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    else if (!mantissa) bits = sign;
    else return (h >> 15 ? -1.0f : 1.0f) * std::ldexp(float(mantissa), -24);  // subnormal
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_half(float f) {  // round to nearest even, as cvt.rn.f16.f32
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);
    if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: infinity
    if (abs < 0x38800000u) {  // subnormal or zero in f16
        const float scaled = std::fabs(f) * 16777216.0f;  // units of 2^-24
        return uint16_t(sign | uint32_t(std::nearbyint(scaled)));
    }
    const uint32_t mantissa = abs & 0x7fffffu, exponent = (abs >> 23) - 112;
    uint32_t h = (exponent << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) ++h;
    return uint16_t(sign | h);
}

float element(int type, const void* p) {
    uint16_t bits;
    std::memcpy(&bits, p, 2);
    if (type == __SUITE_WGMMA_F16) return half_to_float(bits);
    const uint32_t wide = uint32_t(bits) << 16;  // bf16
    float f;
    std::memcpy(&f, &wide, 4);
    return f;
}

struct Descriptor {
    uint32_t start, lbo, sbo;
    int layout;  // 0 none, 1 128B, 2 64B, 3 32B
};

Descriptor decode(Worker& w, suite_host_site site, uint64_t desc, const char* operand) {
    const uint64_t unused = (3ull << 14) | (3ull << 30) | (7ull << 46) | (0x3ffull << 52);
    if (desc & unused)
        device_fault(w, "wgmma.mma_async (%s): descriptor %s = 0x%016llx sets bits the format leaves 0 "
                     "(14-15, 30-31, 46-48, 52-61)", where(site).c_str(), operand, (unsigned long long)desc);
    if ((desc >> 49) & 7)
        device_fault(w, "wgmma.mma_async (%s): descriptor %s has base offset %llu; the emulation takes swizzle atoms "
                     "on their natural boundary (base offset 0) only", where(site).c_str(), operand,
                     (unsigned long long)((desc >> 49) & 7));
    Descriptor d{uint32_t(desc & 0x3fff) << 4, uint32_t((desc >> 16) & 0x3fff) << 4, uint32_t((desc >> 32) & 0x3fff) << 4,
                 int(desc >> 62)};
    return d;
}

// 16-byte chunks per swizzled row (W), and the swizzle's bit count (B in Swizzle<B,4,3>).
int chunks(int layout) { return layout == 1 ? 8 : layout == 2 ? 4 : layout == 3 ? 2 : 1; }
int swizzle_bits(int layout) { return layout == 1 ? 3 : layout == 2 ? 2 : layout == 3 ? 1 : 0; }

// The shared address of element (mn, k) of an operand (cutlass make_gmma_desc's canonical layouts).
uint32_t operand_address(const Descriptor& d, bool mn_major, unsigned mn, unsigned k) {
    const unsigned e = 2, t = 16 / e, wide = chunks(d.layout);
    uint32_t a;
    if (!mn_major && d.layout == 0) a = d.start + (mn % 8) * 16 + (mn / 8) * d.sbo + (k / t) * d.lbo + (k % t) * e;
    else if (!mn_major) a = d.start + (mn % 8) * 16 * wide + (mn / 8) * d.sbo + k * e;
    else if (d.layout == 0) a = d.start + (mn % t) * e + (mn / t) * d.sbo + (k % 8) * 16 + (k / 8) * d.lbo;
    else a = d.start + (mn % (t * wide)) * e + (mn / (t * wide)) * d.lbo + (k % 8) * 16 * wide + (k / 8) * d.sbo;
    const int bits = swizzle_bits(d.layout);
    return bits ? a ^ (((a >> 7) & ((1u << bits) - 1)) << 4) : a;
}

void check_descriptor(Worker& w, suite_host_site site, const Descriptor& d, const char* operand, unsigned mn_extent,
                      bool mn_major, uint64_t size) {
    const int bits = swizzle_bits(d.layout);
    if (bits && (d.start >> 7) & ((1u << bits) - 1))
        device_fault(w, "wgmma.mma_async (%s): descriptor %s starts at shared address 0x%x, inside a %d-byte swizzle "
                     "atom (row %u of 8); with base offset 0 the swizzle needs the atom's rows to start on a %u-byte "
                     "boundary (advance along K within a row only)", where(site).c_str(), operand, d.start,
                     16 * chunks(d.layout), (d.start >> 7) & ((1u << bits) - 1), 128u << bits);
    for (unsigned mn = 0; mn < mn_extent; ++mn)
        for (unsigned k = 0; k < 16; ++k) {
            const uint32_t a = operand_address(d, mn_major, mn, k);
            if (a + 2 > size)
                device_fault(w, "wgmma.mma_async (%s): descriptor %s (start 0x%x, LBO %u, SBO %u, swizzle %s) "
                             "addresses shared byte 0x%x for element (%u, k=%u), past the %llu bytes of the "
                             "block's shared memory", where(site).c_str(), operand, d.start, d.lbo, d.sbo,
                             d.layout == 0 ? "none" : d.layout == 1 ? "128B" : d.layout == 2 ? "64B" : "32B", a, mn, k,
                             (unsigned long long)size);
        }
}

unsigned registers(const __suite_wgmma_op& op) { return op.type_d == __SUITE_WGMMA_F32 ? op.n / 2 : op.n / 4; }
uint32_t poison(const __suite_wgmma_op& op) { return op.type_d == __SUITE_WGMMA_F32 ? kPoisonF32 : kPoisonF16x2; }

// The accumulator element held by register `i` (f32) or element e of the f16x2 registers.
void d_coordinates(unsigned warp_in_group, unsigned lane, unsigned i, unsigned& row, unsigned& col) {
    const unsigned g = lane >> 2, t = lane & 3;
    row = 16 * warp_in_group + g + 8 * ((i >> 1) & 1);
    col = 8 * (i >> 2) + 2 * t + (i & 1);
}

// Element e of the accumulators: register e (f32), or half e % 2 of f16x2 register e / 2.
float d_value(const __suite_wgmma_op& op, unsigned e) {
    if (op.type_d == __SUITE_WGMMA_F32) return *static_cast<const float*>(op.d[e]);
    uint16_t h;
    std::memcpy(&h, static_cast<const char*>(op.d[e / 2]) + 2 * (e % 2), 2);
    return half_to_float(h);
}

void set_d(const __suite_wgmma_op& op, unsigned e, float v) {
    if (op.type_d == __SUITE_WGMMA_F32) *static_cast<float*>(op.d[e]) = v;
    else {
        const uint16_t h = float_to_half(v);
        std::memcpy(static_cast<char*>(op.d[e / 2]) + 2 * (e % 2), &h, 2);
    }
}

uint32_t d_bits(const __suite_wgmma_op& op, unsigned r) {
    uint32_t bits;
    std::memcpy(&bits, op.d[r], 4);
    return bits;
}

struct ARecord {
    uint32_t mine[4];
    uint32_t all[32][4];
};

void share_a(void* const* records, unsigned) {
    for (unsigned l = 0; l < 32; ++l)
        for (unsigned m = 0; m < 32; ++m)
            std::memcpy(static_cast<ARecord*>(records[l])->all[m], static_cast<ARecord*>(records[m])->mine, 16);
}

void complete(Worker& w, suite_host_site wait, WgmmaPending& p) {
    const __suite_wgmma_op& op = p.op;
    const unsigned lane = w.current->info.lane, warp_in_group = w.current->info.warp % 4;
    const unsigned n_regs = registers(op), elements = op.type_d == __SUITE_WGMMA_F32 ? n_regs : 2 * n_regs;
    if (!p.chained)
        for (unsigned r = 0; r < n_regs; ++r)
            if (d_bits(op, r) != poison(op))
                device_fault(w, "wgmma.wait_group (%s): accumulator register %u of the wgmma.mma_async at %s was "
                             "written between that instruction and this wait, which covers it",
                             where(wait).c_str(), r, where(p.site).c_str());
    if (op.rs && op.a_watch && std::memcmp(op.a_values, op.a_watch, 16) != 0)
        device_fault(w, "wgmma.wait_group (%s): an A-fragment register of the RS wgmma.mma_async at %s was written "
                     "between that instruction and this wait, which covers it", where(wait).c_str(),
                     where(p.site).c_str());
    const char* smem = op.window;
    const Descriptor da = op.rs ? Descriptor{} : decode(w, p.site, op.desc_a, "A");
    const Descriptor db = decode(w, p.site, op.desc_b, "B");
    for (unsigned e = 0; e < elements; ++e) {
        unsigned row, col;
        d_coordinates(warp_in_group, lane, e, row, col);
        float sum = !op.scale_d ? 0.0f : p.chained ? d_value(op, e) : p.d_in[e];
        for (unsigned k = 0; k < 16; ++k) {
            const float a = op.rs ? p.a_rows[(row % 16 >= 8) * 16 + k]
                                 : element(op.type_ab, smem + operand_address(da, op.tnsp_a, row, k));
            const float b = element(op.type_ab, smem + operand_address(db, op.tnsp_b, col, k));
            sum += (op.scale_a * a) * (op.scale_b * b);
        }
        set_d(op, e, sum);
    }
}

}  // namespace

}  // namespace suite_rt

using namespace suite_rt;

extern "C" {

void __suite_wgmma_fence(suite_host_site) { hopper_thread(*tls_worker).fenced = true; }

void __suite_wgmma_mma_async(suite_host_site site, const __suite_wgmma_op* in) {
    Worker& w = *tls_worker;
    const __suite_wgmma_op& op = *in;
    const unsigned warp = w.current->info.warp;
    if ((warp / 4 + 1) * 128 > w.block.size)
        device_fault(w, "wgmma.mma_async (%s): warp %u is in warpgroup %u, which the block's %u threads do not fill; "
                     "a warpgroup is 4 whole warps (128 threads)", where(site).c_str(), warp, warp / 4, w.block.size);
    if (op.n < 8 || op.n > 256 || op.n % 8)
        device_fault(w, "wgmma.mma_async (%s): N = %d; m64nNk16 takes N in 8..256, a multiple of 8", where(site).c_str(),
                     op.n);
    if ((op.type_ab != __SUITE_WGMMA_F16 && op.type_ab != __SUITE_WGMMA_BF16) ||
        (op.type_d != __SUITE_WGMMA_F32 && !(op.type_d == __SUITE_WGMMA_F16 && op.type_ab == __SUITE_WGMMA_F16)))
        device_fault(w, "wgmma.mma_async (%s): the emulation takes f16 or bf16 inputs with f32 accumulators, or f16 "
                     "with f16 accumulators", where(site).c_str());
    if ((op.scale_a != 1 && op.scale_a != -1) || (op.scale_b != 1 && op.scale_b != -1))
        device_fault(w, "wgmma.mma_async (%s): imm-scale-a/b must be 1 or -1; got %d, %d", where(site).c_str(),
                     op.scale_a, op.scale_b);
    if ((op.tnsp_a != 0 && op.tnsp_a != 1) || (op.tnsp_b != 0 && op.tnsp_b != 1))
        device_fault(w, "wgmma.mma_async (%s): imm-trans-a/b must be 0 or 1", where(site).c_str());
    HopperThread& t = hopper_thread(w);
    if (!t.fenced)
        device_fault(w, "wgmma.mma_async (%s) without a wgmma.fence since this thread's last wgmma.wait_group (or its "
                     "start): the fence orders the thread's register accesses before the instruction reads them",
                     where(site).c_str());
    if (!op.rs) check_descriptor(w, site, decode(w, site, op.desc_a, "A"), "A", 64, op.tnsp_a, op.window_bytes);
    check_descriptor(w, site, decode(w, site, op.desc_b, "B"), "B", unsigned(op.n), op.tnsp_b, op.window_bytes);

    WgmmaPending p{site, op, {}, {}, false};
    if (op.rs && op.tnsp_a)
        device_fault(w, "wgmma.mma_async (%s): A from registers is K-major; imm-trans-a must be 0", where(site).c_str());
    // The instruction is warp-synchronous: every lane meets here (a lane missing is a fault), and the
    // RS form gathers the warp's A fragments on the way.
    ARecord record;
    std::memcpy(record.mine, op.a_values, 16);
    suite_host_warp_collective(site, "wgmma.mma_async", 0xffffffffu, &record, share_a);
    if (op.rs) {
        const unsigned g = w.current->info.lane >> 2;
        p.a_rows.resize(32);
        for (unsigned half = 0; half < 2; ++half)
            for (unsigned k = 0; k < 16; ++k) {
                const unsigned src = 4 * g + (k % 8) / 2, reg = half + 2 * (k / 8);
                uint16_t bits;
                std::memcpy(&bits, reinterpret_cast<const char*>(&record.all[src][reg]) + 2 * (k % 2), 2);
                p.a_rows[half * 16 + k] = element(op.type_ab, &bits);
            }
    }
    for (const WgmmaPending& q : t.wgmma) p.chained = p.chained || q.op.d[0] == op.d[0];
    const unsigned n_regs = registers(op);
    if (op.scale_d && !p.chained) {
        const unsigned elements = op.type_d == __SUITE_WGMMA_F32 ? n_regs : 2 * n_regs;
        p.d_in.resize(elements);
        for (unsigned e = 0; e < elements; ++e) p.d_in[e] = d_value(op, e);
    }
    const uint32_t bits = poison(op);
    for (unsigned r = 0; r < n_regs; ++r) std::memcpy(op.d[r], &bits, 4);
    t.wgmma.push_back(std::move(p));
}

void __suite_wgmma_commit_group(suite_host_site) {
    HopperThread& t = hopper_thread(*tls_worker);
    t.wgmma_group_ends.push_back(t.wgmma.size());
}

void __suite_wgmma_wait_group(suite_host_site site, int pending) {
    Worker& w = *tls_worker;
    if (pending < 0 || pending > 7)
        device_fault(w, "wgmma.wait_group (%s): %d is outside 0..7", where(site).c_str(), pending);
    HopperThread& t = hopper_thread(w);
    t.fenced = false;
    if (int(t.wgmma_group_ends.size()) <= pending) return;
    const size_t done = t.wgmma_group_ends[t.wgmma_group_ends.size() - size_t(pending) - 1];
    for (size_t i = 0; i < done; ++i) complete(w, site, t.wgmma[i]);
    t.wgmma.erase(t.wgmma.begin(), t.wgmma.begin() + long(done));
    t.wgmma_group_ends.erase(t.wgmma_group_ends.begin(), t.wgmma_group_ends.end() - pending);
    for (size_t& end : t.wgmma_group_ends) end -= done;
}

}  // extern "C"
