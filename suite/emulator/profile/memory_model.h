// How a GPU serves each warp request: shared-memory wavefronts and global sectors, counted from the
// per-thread access records of one block at a time (a request never spans blocks).
//
// Requests: the lanes of one warp at the same code address and the same dynamic occurrence (the
// n-th time each lane executes that address), as GPU simulators rebuild warp instructions.
// Rules (shared/reference/gpu-tuning-facts.md, sections 2 and 3; what Nsight Compute counts):
// - Shared: 32 banks of 4 bytes, bank = (address / 4) % 32. A request is served in phases: accesses
//   of 4 bytes or less in one phase of 32 lanes, 8-byte in two of 16, 16-byte in four of 8
//   (ldmatrix: one phase per 8x8 matrix, its 8 row addresses). A phase takes as many wavefronts as
//   its busiest bank has distinct 32-bit words (lanes on one word share it: a broadcast).
//   Ideal: one wavefront per phase with an active lane (a phase holds at most 128 bytes); for a
//   whole warp that is max(1, bytes requested / 128), and a partly active warp is no conflict.
// - Global: 32-byte sectors of 128-byte lines; a request costs the distinct sectors its bytes
//   touch. Ideal: ceil(distinct bytes / 32), what those bytes cost contiguous and aligned.
// - Unique bytes: every global byte loaded (stored) by the launch, once: the least DRAM traffic.
#pragma once

#include <stdint.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

namespace suite_profile {

enum { GLOBAL = 0, SHARED = 1, NO_MEMORY = 2 };
enum { LOAD = 0, STORE = 1, ATOMIC = 2 };

struct Access {  // suite/profile/accesses.py ACCESS_DTYPE
    uint64_t address, pc;
    uint32_t block, occurrence;
    uint16_t warp;
    uint8_t lane, size, space, kind, op, pad;
};
static_assert(sizeof(Access) == 32, "the record layout is shared with Python");

struct Row {  // one instruction class at one code address, summed over the launch (ROW_DTYPE)
    uint64_t pc;
    uint8_t space, kind, op, pad[5];
    uint64_t requests, threads, bytes, wavefronts, ideal_wavefronts, sectors, ideal_sectors, lines;
};
static_assert(sizeof(Row) == 80, "the row layout is shared with Python");

class Counter {
  public:
    // The launch's global arrays, [start, end) pairs, for the unique-byte maps.
    void set_regions(const uint64_t* ranges, int n) {
        regions_.assign(size_t(n), Region{});
        for (int i = 0; i < n; ++i) {
            Region& r = regions_[size_t(i)];
            r.start = ranges[2 * i], r.end = ranges[2 * i + 1];
            r.loaded.assign((r.end - r.start + 63) / 64, 0);
            r.stored.assign((r.end - r.start + 63) / 64, 0);
        }
        rows_.clear();
    }

    // Counts the records of one block (reordered in place).
    void add_block(std::vector<Access>& records) {
        std::sort(records.begin(), records.end(), [](const Access& a, const Access& b) {
            return std::tie(a.pc, a.space, a.kind, a.op, a.warp, a.occurrence, a.lane) <
                   std::tie(b.pc, b.space, b.kind, b.op, b.warp, b.occurrence, b.lane);
        });
        for (size_t i = 0; i < records.size();) {
            size_t j = i + 1;
            while (j < records.size() && same_request(records[i], records[j])) ++j;
            add_request(&records[i], &records[j]);
            i = j;
        }
    }

    std::vector<Row> rows() const {
        std::vector<Row> out;
        for (const auto& kv : rows_) out.push_back(kv.second);
        return out;
    }

    uint64_t unique_bytes(bool stored) const {
        uint64_t n = 0;
        for (const Region& r : regions_)
            for (uint64_t word : stored ? r.stored : r.loaded) n += uint64_t(__builtin_popcountll(word));
        return n;
    }

  private:
    struct Region {
        uint64_t start, end;
        std::vector<uint64_t> loaded, stored;  // a bit per byte
    };
    std::map<std::tuple<uint64_t, int, int, int>, Row> rows_;
    std::vector<Region> regions_;

    static bool same_request(const Access& a, const Access& b) {
        return a.pc == b.pc && a.space == b.space && a.kind == b.kind && a.op == b.op && a.warp == b.warp &&
               a.occurrence == b.occurrence;
    }

    void add_request(const Access* first, const Access* last) {
        Row& row = rows_[std::make_tuple(first->pc, int(first->space), int(first->kind), int(first->op))];
        if (row.requests == 0) row.pc = first->pc, row.space = first->space, row.kind = first->kind, row.op = first->op;
        uint64_t bytes = 0;
        for (const Access* a = first; a != last; ++a) bytes += a->size;
        row.requests += 1;
        row.threads += uint64_t(last - first);
        row.bytes += bytes;
        if (first->space == SHARED) {
            uint64_t phases = 0;
            row.wavefronts += shared_wavefronts(first, last, phases);
            row.ideal_wavefronts += phases;
        } else if (first->space == GLOBAL) {
            global_sectors(first, last, row);
            for (const Access* a = first; a != last; ++a) mark(*a);
        }
    }

    // Wavefronts of one request; `phases`: how many phases have an active lane.
    static uint64_t shared_wavefronts(const Access* first, const Access* last, uint64_t& phases) {
        std::vector<std::pair<unsigned, uint64_t>> touched;  // (phase, 32-bit word)
        for (const Access* a = first; a != last; ++a) {
            const unsigned words = std::max(1u, unsigned(a->size) / 4);
            const unsigned phase = a->lane / (32 / words);
            for (unsigned w = 0; w < words; ++w) touched.emplace_back(phase, a->address / 4 + w);
        }
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        uint64_t wavefronts = 0;
        for (size_t i = 0; i < touched.size();) {
            unsigned per_bank[32] = {};
            size_t j = i;
            for (; j < touched.size() && touched[j].first == touched[i].first; ++j) ++per_bank[touched[j].second % 32];
            wavefronts += *std::max_element(per_bank, per_bank + 32);
            ++phases;
            i = j;
        }
        return wavefronts;
    }

    static uint64_t distinct(std::vector<uint64_t>& v) {
        std::sort(v.begin(), v.end());
        return uint64_t(std::unique(v.begin(), v.end()) - v.begin());
    }

    static void global_sectors(const Access* first, const Access* last, Row& row) {
        std::vector<uint64_t> sectors, lines;
        std::vector<std::pair<uint64_t, unsigned>> spans;
        for (const Access* a = first; a != last; ++a) {
            const uint64_t end = a->address + std::max<unsigned>(a->size, 1) - 1;
            sectors.push_back(a->address / 32), sectors.push_back(end / 32);
            lines.push_back(a->address / 128), lines.push_back(end / 128);
            spans.emplace_back(a->address, a->size);
        }
        row.sectors += distinct(sectors);
        row.lines += distinct(lines);
        std::sort(spans.begin(), spans.end());
        spans.erase(std::unique(spans.begin(), spans.end()), spans.end());
        uint64_t bytes = 0;
        for (const auto& s : spans) bytes += s.second;
        row.ideal_sectors += (bytes + 31) / 32;
    }

    void mark(const Access& a) {
        for (Region& r : regions_) {
            if (a.address < r.start || a.address >= r.end) continue;
            std::vector<uint64_t>& bits = a.kind == LOAD ? r.loaded : r.stored;
            for (uint64_t b = a.address - r.start; b < std::min<uint64_t>(a.address + a.size, r.end) - r.start; ++b)
                bits[b / 64] |= uint64_t(1) << (b % 64);
            return;
        }
    }
};

}  // namespace suite_profile
