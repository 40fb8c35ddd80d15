// Warp collectives: __syncwarp, __shfl*_sync, votes and __reduce_*_sync. Each lane hands the
// runtime a record on its own stack; when every lane of the mask has arrived at the same call,
// the last one computes every lane's result from all the records (suite_host_warp_collective).
#pragma once

#include <cstring>
#include <type_traits>

#include "runtime_api.h"
#include "lanes.h"

namespace suite_host {

inline unsigned lane_id() { return ::suite_host::lanes::self()->linear % 32; }

inline void syncwarp(suite_host_site site, unsigned mask = 0xffffffffu) {
    suite_host_warp_collective(site, "__syncwarp", mask, nullptr, [](void* const*, unsigned) {});
}

enum class Shfl { Idx, Up, Down, Xor };

template <typename T>
struct ShflRecord {
    T value;
    int source;  // lane to read, computed by the caller
    T result;
};

// A lane outside the mask holds no defined value (undefined on the GPU): all-ones bytes stand in,
// which are NaN for floating types, so results built on them do not pass validation.
template <typename T>
void shfl_complete(void* const* records, unsigned mask) {
    for (unsigned l = 0; l < 32; ++l) {
        if (!(mask >> l & 1)) continue;
        auto* r = static_cast<ShflRecord<T>*>(records[l]);
        if (mask >> r->source & 1) r->result = static_cast<ShflRecord<T>*>(records[r->source])->value;
        else std::memset(static_cast<void*>(&r->result), 0xff, sizeof(T));
    }
}

// The source lane as PTX shfl.sync computes it (PTX ISA, "shfl.sync"), with c as CUDA's
// __shfl*_sync build it from width: segmask = 32 - width in bits 8..12, clamp in bits 0..4.
inline int shfl_source(Shfl mode, int lane, unsigned b, int width) {
    const int segmask = (32 - width) & 31;
    const int clamp = mode == Shfl::Up ? 0 : 31;
    const int max_lane = (lane & segmask) | (clamp & ~segmask);
    const int min_lane = lane & segmask;
    int j = 0;
    bool valid = false;
    switch (mode) {
        case Shfl::Up: j = lane - int(b); valid = j >= max_lane; break;
        case Shfl::Down: j = lane + int(b); valid = j <= max_lane; break;
        case Shfl::Xor: j = int(unsigned(lane) ^ b); valid = (unsigned(lane) ^ b) <= unsigned(max_lane); break;
        case Shfl::Idx: j = min_lane | (int(b & 31) & ~segmask); valid = j <= max_lane; break;
    }
    return valid ? j : lane;
}

// Any trivially copyable T (cooperative groups shuffle structs too, a word at a time on the GPU).
template <typename T>
T shfl_any(suite_host_site site, const char* name, Shfl mode, unsigned mask, T value, unsigned b, int width) {
    static_assert(std::is_trivially_copyable<T>::value, "a shuffled value must be trivially copyable");
    if (width < 1 || width > 32 || (width & (width - 1)))
        suite_host_trap(site, "__shfl*_sync: width must be a power of two from 1 to 32");
    ShflRecord<T> record{value, shfl_source(mode, int(lane_id()), b, width), value};
    suite_host_warp_collective(site, name, mask, &record, shfl_complete<T>);
    return record.result;
}

template <typename T>
T shfl(suite_host_site site, const char* name, Shfl mode, unsigned mask, T value, unsigned b, int width) {
    static_assert(std::is_trivially_copyable<T>::value && (sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8),
                  "__shfl*_sync takes a 2-, 4- or 8-byte value (int, float, double, __half, __half2, ...)");
    return shfl_any(site, name, mode, mask, value, b, width);
}

struct VoteRecord {
    int predicate;
    unsigned ballot;
};

inline unsigned ballot(suite_host_site site, const char* name, unsigned mask, int predicate) {
    VoteRecord record{predicate != 0, 0};
    suite_host_warp_collective(site, name, mask, &record, [](void* const* records, unsigned m) {
        unsigned ballot = 0;
        for (unsigned l = 0; l < 32; ++l)
            if ((m >> l & 1) && static_cast<VoteRecord*>(records[l])->predicate) ballot |= 1u << l;
        for (unsigned l = 0; l < 32; ++l)
            if (m >> l & 1) static_cast<VoteRecord*>(records[l])->ballot = ballot;
    });
    return record.ballot;
}

inline int any(suite_host_site site, unsigned mask, int predicate) {
    return ballot(site, "__any_sync", mask, predicate) != 0;
}
inline int all(suite_host_site site, unsigned mask, int predicate) {
    return ballot(site, "__all_sync", mask, predicate) == mask;
}

template <typename T, typename Op>
struct ReduceRecord {
    T value;
    T result;
    static void complete(void* const* records, unsigned mask) {
        bool first = true;
        T total{};
        for (unsigned l = 0; l < 32; ++l) {
            if (!(mask >> l & 1)) continue;
            const T v = static_cast<ReduceRecord*>(records[l])->value;
            total = first ? v : Op()(total, v);
            first = false;
        }
        for (unsigned l = 0; l < 32; ++l)
            if (mask >> l & 1) static_cast<ReduceRecord*>(records[l])->result = total;
    }
};

template <typename Op, typename T>
T reduce(suite_host_site site, const char* name, unsigned mask, T value) {
    ReduceRecord<T, Op> record{value, value};
    suite_host_warp_collective(site, name, mask, &record, ReduceRecord<T, Op>::complete);
    return record.result;
}

struct Min {
    template <typename T> T operator()(T a, T b) const { return b < a ? b : a; }
};
struct Max {
    template <typename T> T operator()(T a, T b) const { return a < b ? b : a; }
};
struct Add {
    template <typename T> T operator()(T a, T b) const { return a + b; }
};
struct And {
    template <typename T> T operator()(T a, T b) const { return a & b; }
};
struct Or {
    template <typename T> T operator()(T a, T b) const { return a | b; }
};
struct Xor {
    template <typename T> T operator()(T a, T b) const { return a ^ b; }
};

// __match_any_sync / __match_all_sync: lanes compare the value's bits (CUDA takes 4- and 8-byte
// integers and floats; floats compare by bits, as the hardware's match.sync does).
struct MatchRecord {
    unsigned long long bits;
    unsigned any;  // lanes of the mask whose value equals this lane's
    int all;       // every lane of the mask holds the same value
};

template <typename T>
unsigned long long match_bits(T value) {
    static_assert(std::is_trivially_copyable<T>::value && (sizeof(T) == 4 || sizeof(T) == 8),
                  "__match_any_sync/__match_all_sync take a 4- or 8-byte value (int, unsigned, long long, float, double)");
    unsigned long long bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    return bits;
}

inline void match_complete(void* const* records, unsigned mask) {
    bool all = true;
    unsigned long long first = 0;
    bool seen = false;
    for (unsigned l = 0; l < 32; ++l) {
        if (!(mask >> l & 1)) continue;
        auto* r = static_cast<MatchRecord*>(records[l]);
        r->any = 0;
        for (unsigned k = 0; k < 32; ++k)
            if ((mask >> k & 1) && static_cast<MatchRecord*>(records[k])->bits == r->bits) r->any |= 1u << k;
        if (seen && r->bits != first) all = false;
        first = seen ? first : r->bits;
        seen = true;
    }
    for (unsigned l = 0; l < 32; ++l)
        if (mask >> l & 1) static_cast<MatchRecord*>(records[l])->all = all;
}

template <typename T>
unsigned match_any(suite_host_site site, unsigned mask, T value) {
    MatchRecord record{match_bits(value), 0, 0};
    suite_host_warp_collective(site, "__match_any_sync", mask, &record, match_complete);
    return record.any;
}

// Returns the mask when all lanes agree (and sets *predicate), else 0.
template <typename T>
unsigned match_all(suite_host_site site, unsigned mask, T value, int* predicate) {
    MatchRecord record{match_bits(value), 0, 0};
    suite_host_warp_collective(site, "__match_all_sync", mask, &record, match_complete);
    *predicate = record.all;
    return record.all ? mask : 0;
}

}  // namespace suite_host

#define __syncwarp(...) ::suite_host::syncwarp(SUITE_HOST_SITE __VA_OPT__(, ) __VA_ARGS__)
// width defaults to warpSize; SUITE_HOST_WIDTH(...) picks the optional last argument.
#define SUITE_HOST_WIDTH(...) (::suite_host::width_or_32(0 __VA_OPT__(, ) __VA_ARGS__))
namespace suite_host {
inline int width_or_32(int) { return 32; }
inline int width_or_32(int, int width) { return width; }
}  // namespace suite_host

#define __shfl_sync(mask, value, lane, ...) \
    ::suite_host::shfl(SUITE_HOST_SITE, "__shfl_sync", ::suite_host::Shfl::Idx, (mask), (value), unsigned(lane), SUITE_HOST_WIDTH(__VA_ARGS__))
#define __shfl_up_sync(mask, value, delta, ...) \
    ::suite_host::shfl(SUITE_HOST_SITE, "__shfl_up_sync", ::suite_host::Shfl::Up, (mask), (value), unsigned(delta), SUITE_HOST_WIDTH(__VA_ARGS__))
#define __shfl_down_sync(mask, value, delta, ...) \
    ::suite_host::shfl(SUITE_HOST_SITE, "__shfl_down_sync", ::suite_host::Shfl::Down, (mask), (value), unsigned(delta), SUITE_HOST_WIDTH(__VA_ARGS__))
#define __shfl_xor_sync(mask, value, lane_mask, ...) \
    ::suite_host::shfl(SUITE_HOST_SITE, "__shfl_xor_sync", ::suite_host::Shfl::Xor, (mask), (value), unsigned(lane_mask), SUITE_HOST_WIDTH(__VA_ARGS__))

#define __ballot_sync(mask, predicate) ::suite_host::ballot(SUITE_HOST_SITE, "__ballot_sync", (mask), (predicate))
#define __any_sync(mask, predicate) ::suite_host::any(SUITE_HOST_SITE, (mask), (predicate))
#define __all_sync(mask, predicate) ::suite_host::all(SUITE_HOST_SITE, (mask), (predicate))
#define __activemask() suite_host_activemask(SUITE_HOST_SITE)

#define __reduce_add_sync(mask, value) ::suite_host::reduce<::suite_host::Add>(SUITE_HOST_SITE, "__reduce_add_sync", (mask), (value))
#define __reduce_min_sync(mask, value) ::suite_host::reduce<::suite_host::Min>(SUITE_HOST_SITE, "__reduce_min_sync", (mask), (value))
#define __reduce_max_sync(mask, value) ::suite_host::reduce<::suite_host::Max>(SUITE_HOST_SITE, "__reduce_max_sync", (mask), (value))
#define __reduce_and_sync(mask, value) ::suite_host::reduce<::suite_host::And>(SUITE_HOST_SITE, "__reduce_and_sync", (mask), (value))
#define __reduce_or_sync(mask, value) ::suite_host::reduce<::suite_host::Or>(SUITE_HOST_SITE, "__reduce_or_sync", (mask), (value))
#define __reduce_xor_sync(mask, value) ::suite_host::reduce<::suite_host::Xor>(SUITE_HOST_SITE, "__reduce_xor_sync", (mask), (value))

#define __match_any_sync(mask, value) ::suite_host::match_any(SUITE_HOST_SITE, (mask), (value))
#define __match_all_sync(mask, value, predicate) ::suite_host::match_all(SUITE_HOST_SITE, (mask), (value), (predicate))
