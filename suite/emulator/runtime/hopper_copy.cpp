// TMA and bulk copies (PTX cp.async.bulk, cp.async.bulk.tensor): a load's destination holds
// all-ones bytes (NaN in every float format) from the issue until the copy lands at a seeded later
// point (hopper_mbarrier.cpp's waits), when its bytes complete the mbarrier's transaction count;
// stores land at the bulk wait_group that covers them. Tensor boxes follow the map (tensormap.h):
// out-of-bounds elements read as zero (or NaN), the swizzle XORs shared address bits [4, 4+B) with
// [7, 7+B), and out-of-bounds elements of a store are not written.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../include/emu/hopper/tensormap.h"
#include "hopper_state.h"

namespace suite_rt {

namespace {

const char* const kSwizzleNames[] = {"none", "32B", "64B", "128B"};

const __suite_tensormap& read_map(Worker& w, suite_host_site site, const void* map, const char* op) {
    if (reinterpret_cast<uintptr_t>(map) % 64)
        device_fault(w, "%s (%s): the tensor map at %p is not 64-byte aligned (declare it `const __grid_constant__ "
                     "CUtensorMap` or alignas(64))", op, where(site).c_str(), map);
    const auto& m = *static_cast<const __suite_tensormap*>(map);
    if (m.magic != __SUITE_TENSORMAP_MAGIC)
        device_fault(w, "%s (%s): the 128 bytes at %p are not a tensor map of the emulation (encode it with "
                     "suite.emulator.tensormap.encode_tiled; a driver-encoded map only works on the GPU)",
                     op, where(site).c_str(), map);
    if (m.interleave != 0)
        device_fault(w, "%s (%s): interleaved tensor maps are not emulated", op, where(site).c_str());
    if (m.element_size == 0)
        device_fault(w, "%s (%s): 4-bit tensor map types are not emulated", op, where(site).c_str());
    return m;
}

// The swizzled byte address of `address` (a shared address: the pattern follows its bits).
uintptr_t swizzled(uintptr_t address, int swizzle) {
    if (swizzle == 0) return address;
    const uintptr_t mask = (uintptr_t(1) << swizzle) - 1;  // 32B: 1 bit, 64B: 2, 128B: 3
    return address ^ (((address >> 7) & mask) << 4);
}

struct Box {
    unsigned count[5];  // elements copied along each dimension: ceil(box / element stride)
    size_t elements;
};

Box box_of(const __suite_tensormap& m) {
    Box b{};
    b.elements = 1;
    for (int d = 0; d < 5; ++d) {
        b.count[d] = d < m.rank ? (m.box[d] + 1u + m.element_strides[d] - 1) / m.element_strides[d] : 1;
        b.elements *= b.count[d];
    }
    return b;
}

void check_shared(Worker& w, suite_host_site site, const char* op, const void* smem, const __suite_tensormap& m,
                  size_t bytes) {
    const unsigned align = m.swizzle ? 128u << m.swizzle : 128u;  // 256/512/1024 for 32/64/128B, else 128
    if (reinterpret_cast<uintptr_t>(smem) % align)
        device_fault(w, "%s (%s): shared memory at %p must be %u-byte aligned for swizzle %s", op,
                     where(site).c_str(), smem, align, kSwizzleNames[m.swizzle]);
    const char* base = static_cast<const char*>(suite_host_dynamic_smem());
    const char* p = static_cast<const char*>(smem);
    const size_t size = w.job->config.dynamic_smem;
    if (p >= base && p < base + size && p + bytes > base + size)
        device_fault(w, "%s (%s): the box of %zu bytes at shared offset %zu runs past the %zu bytes of dynamic "
                     "shared memory", op, where(site).c_str(), bytes, size_t(p - base), size);
}

// Calls f(global element address or null when out of bounds, shared byte address) for each box
// element, innermost dimension fastest.
template <class F>
void for_each_element(const __suite_tensormap& m, const int32_t* coords, char* smem, F f) {
    const Box b = box_of(m);
    unsigned j[5] = {0, 0, 0, 0, 0};
    for (size_t e = 0; e < b.elements; ++e) {
        bool inside = true;
        uint64_t offset = 0;
        for (int d = 0; d < m.rank; ++d) {
            const int64_t c = int64_t(coords[d]) + int64_t(j[d]) * m.element_strides[d];
            inside = inside && c >= 0 && uint64_t(c) < m.dims[d];
            offset += uint64_t(c) * (d == 0 ? m.element_size : m.strides[d]);
        }
        const uintptr_t dst = swizzled(reinterpret_cast<uintptr_t>(smem) + e * m.element_size, m.swizzle);
        f(inside ? reinterpret_cast<char*>(m.global_address + offset) : nullptr, reinterpret_cast<char*>(dst));
        for (int d = 0; d < 5 && ++j[d] == b.count[d]; ++d) j[d] = 0;
    }
}

void fill_oob(const __suite_tensormap& m, char* dst) {
    if (m.oob_fill && m.is_float) std::memset(dst, 0xff, m.element_size);  // all-ones: a NaN in every float type
    else std::memset(dst, 0, m.element_size);
}

void check_bulk(Worker& w, suite_host_site site, const char* op, const void* dst, const void* src, unsigned bytes) {
    if (bytes == 0 || bytes % 16)
        device_fault(w, "%s (%s): size %u is not a positive multiple of 16 bytes", op, where(site).c_str(), bytes);
    if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % 16)
        device_fault(w, "%s (%s): addresses must be 16-byte aligned; got dst %p, src %p", op, where(site).c_str(), dst,
                     src);
}

void add_store(Worker& w, suite_host_site site, std::function<void()> apply, unsigned bytes) {
    hopper_thread(w).bulk_uncommitted.push_back({site, nullptr, bytes, w.current->info.linear, std::move(apply)});
}

}  // namespace

}  // namespace suite_rt

using namespace suite_rt;

extern "C" {

void __suite_bulk_load(suite_host_site site, void* dst, const void* src, unsigned bytes, uint64_t* bar) {
    Worker& w = *tls_worker;
    check_bulk(w, site, "cp.async.bulk", dst, src, bytes);
    mbarrier_at(w, site, bar, "cp.async.bulk's complete_tx");
    std::memset(dst, 0xff, bytes);
    hopper_block(w).in_flight.push_back({site, bar, bytes, w.current->info.linear, [=] { std::memcpy(dst, src, bytes); }});
}

void __suite_bulk_store(suite_host_site site, void* dst, const void* src, unsigned bytes) {
    Worker& w = *tls_worker;
    check_bulk(w, site, "cp.async.bulk (store)", dst, src, bytes);
    add_store(w, site, [=] { std::memcpy(dst, src, bytes); }, bytes);
}

void __suite_tensor_load(suite_host_site site, void* dst, const void* map, int rank, const int32_t* coords,
                         uint64_t* bar) {
    Worker& w = *tls_worker;
    const char* op = "cp.async.bulk.tensor (load)";
    const __suite_tensormap& m = read_map(w, site, map, op);
    if (rank != m.rank)
        device_fault(w, "%s (%s): a %dd copy with a rank-%d tensor map", op, where(site).c_str(), rank, int(m.rank));
    const size_t bytes = box_of(m).elements * m.element_size;
    check_shared(w, site, op, dst, m, bytes);
    mbarrier_at(w, site, bar, "cp.async.bulk.tensor's complete_tx");
    std::memset(dst, 0xff, bytes);
    const __suite_tensormap copy = m;  // the map is read at the issue
    int32_t at[5] = {0, 0, 0, 0, 0};
    std::copy(coords, coords + rank, at);
    char* smem = static_cast<char*>(dst);
    hopper_block(w).in_flight.push_back({site, bar, unsigned(bytes), w.current->info.linear, [=] {
        for_each_element(copy, at, smem, [&](const char* global, char* shared) {
            if (global) std::memcpy(shared, global, copy.element_size);
            else fill_oob(copy, shared);
        });
    }});
}

void __suite_tensor_store(suite_host_site site, const void* map, int rank, const int32_t* coords, const void* src) {
    Worker& w = *tls_worker;
    const char* op = "cp.async.bulk.tensor (store)";
    const __suite_tensormap& m = read_map(w, site, map, op);
    if (rank != m.rank)
        device_fault(w, "%s (%s): a %dd copy with a rank-%d tensor map", op, where(site).c_str(), rank, int(m.rank));
    const size_t bytes = box_of(m).elements * m.element_size;
    check_shared(w, site, op, src, m, bytes);
    const __suite_tensormap copy = m;
    int32_t at[5] = {0, 0, 0, 0, 0};
    std::copy(coords, coords + rank, at);
    char* smem = static_cast<char*>(const_cast<void*>(src));
    add_store(w, site, [=] {
        for_each_element(copy, at, smem, [&](char* global, const char* shared) {
            if (global) std::memcpy(global, shared, copy.element_size);
        });
    }, unsigned(bytes));
}

void __suite_bulk_commit_group(suite_host_site) {
    HopperThread& t = hopper_thread(*tls_worker);
    t.bulk_groups.push_back(std::move(t.bulk_uncommitted));
    t.bulk_uncommitted.clear();
}

void __suite_bulk_wait_group(suite_host_site site, int pending) {
    Worker& w = *tls_worker;
    if (pending < 0 || pending > 63)
        device_fault(w, "cp.async.bulk.wait_group (%s): %d is outside 0..63", where(site).c_str(), pending);
    HopperThread& t = hopper_thread(w);
    while (t.bulk_groups.size() > size_t(pending)) {
        for (BulkCopy& c : t.bulk_groups.front()) c.apply();
        t.bulk_groups.erase(t.bulk_groups.begin());
    }
}

void __suite_fence_proxy_async(suite_host_site) {}

void __suite_prefetch_tensormap(suite_host_site site, const void* map) {
    read_map(*tls_worker, site, map, "prefetch.tensormap");
}

void __suite_setmaxnreg(suite_host_site site, int increase, unsigned count) {
    if (count < 24 || count > 256 || count % 8)
        device_fault(*tls_worker, "setmaxnreg.%s (%s): %u registers; the count must be a multiple of 8 in 24..256",
                     increase ? "inc" : "dec", where(site).c_str(), count);
}

}  // extern "C"
