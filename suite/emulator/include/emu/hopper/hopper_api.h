// Hopper (sm_90a) asynchronous machinery, as the host runtime emulates it: mbarriers with phases and
// transaction counts, TMA and bulk copies that land at a later, seeded point, wgmma with its
// warpgroup groups, and the checks that turn their misuse into faults naming the line. The C
// interface between a module and the runtime (runtime/hopper_*.cpp); kernels reach it through
// hopper.h's wrappers or, with inline PTX, through the translator. Semantics:
// shared/reference/hopper-wgmma-tma.md and the PTX ISA sections named there.
#pragma once

#include <stdint.h>

#include "../runtime_api.h"

extern "C" {

// ---- mbarrier (an 8-byte object in shared memory; its state lives in the runtime, per block) ----
void __suite_mbarrier_init(suite_host_site site, uint64_t* bar, unsigned count);
void __suite_mbarrier_inval(suite_host_site site, uint64_t* bar);
// arrive: pending -= count; returns a token naming the phase arrived on (for test_wait/try_wait).
uint64_t __suite_mbarrier_arrive(suite_host_site site, uint64_t* bar, unsigned count);
// expect_tx: tx += bytes (no arrival); arrive_expect_tx: expect_tx, then arrive (count 1).
void __suite_mbarrier_expect_tx(suite_host_site site, uint64_t* bar, unsigned bytes);
uint64_t __suite_mbarrier_arrive_expect_tx(suite_host_site site, uint64_t* bar, unsigned bytes);
void __suite_mbarrier_complete_tx(suite_host_site site, uint64_t* bar, unsigned bytes);
// test_wait: 1 when the phase waited for has completed (never blocks). try_wait: the same, but a
// thread whose phase has not completed first lets the block's other threads (and in-flight
// copies) run, as the hardware's time-limited wait does; loop on it as on the GPU.
int __suite_mbarrier_test_wait_parity(suite_host_site site, uint64_t* bar, unsigned parity);
int __suite_mbarrier_try_wait_parity(suite_host_site site, uint64_t* bar, unsigned parity);
int __suite_mbarrier_test_wait(suite_host_site site, uint64_t* bar, uint64_t token);
int __suite_mbarrier_try_wait(suite_host_site site, uint64_t* bar, uint64_t token);

// ---- bulk copies (async proxy) ----
// cp.async.bulk global -> shared, complete_tx(bytes) on `bar` when it lands.
void __suite_bulk_load(suite_host_site site, void* dst, const void* src, unsigned bytes, uint64_t* bar);
// cp.async.bulk shared -> global in the thread's bulk group.
void __suite_bulk_store(suite_host_site site, void* dst, const void* src, unsigned bytes);
// cp.async.bulk.tensor.Nd load (box at coords, innermost first) and store; `map` is the 128-byte
// CUtensorMap that suite/emulator/tensormap.py encoded.
void __suite_tensor_load(suite_host_site site, void* dst, const void* map, int rank, const int32_t* coords,
                         uint64_t* bar);
void __suite_tensor_store(suite_host_site site, const void* map, int rank, const int32_t* coords, const void* src);
void __suite_bulk_commit_group(suite_host_site site);
// wait_group{.read} n: at most n of the thread's bulk groups still pending.
void __suite_bulk_wait_group(suite_host_site site, int pending);
// fence.proxy.async and prefetch.tensormap: ordering and cache hints, checked only.
void __suite_fence_proxy_async(suite_host_site site);
void __suite_prefetch_tensormap(suite_host_site site, const void* map);

// ---- wgmma (a warpgroup: 4 consecutive warps, the first a multiple of 4) ----
enum __suite_wgmma_type { __SUITE_WGMMA_F16 = 0, __SUITE_WGMMA_BF16 = 1, __SUITE_WGMMA_F32 = 2 };
struct __suite_wgmma_op {
    int n;                // 8..256, a multiple of 8 (m64nNk16)
    int type_ab;          // __SUITE_WGMMA_F16 or __SUITE_WGMMA_BF16
    int type_d;           // __SUITE_WGMMA_F32 (n/2 float registers) or __SUITE_WGMMA_F16 (n/4 f16x2 words)
    void* d[128];         // the addresses of the thread's accumulator registers, written at the wait
    uint64_t desc_a;      // SS form: A's shared-memory descriptor
    int rs;               // RS form: A from a_values (desc_a unused)
    uint32_t a_values[4];  // RS: the thread's 4 A-fragment registers
    const uint32_t* a_watch;  // RS, optional: where those registers live (checked unchanged at the wait)
    uint64_t desc_b;
    int scale_d;          // 0: D = A*B, else D = A*B + D
    int scale_a, scale_b; // 1 or -1
    int tnsp_a, tnsp_b;   // 0 K-major, 1 MN-major
    const char* window;   // the block's shared window (descriptor addresses are offsets into it)
    uint64_t window_bytes;
};
void __suite_wgmma_fence(suite_host_site site);
void __suite_wgmma_mma_async(suite_host_site site, const struct __suite_wgmma_op* op);
void __suite_wgmma_commit_group(suite_host_site site);
void __suite_wgmma_wait_group(suite_host_site site, int pending);

// ---- warp-specialisation helpers ----
// setmaxnreg.{inc,dec}: accepted; the count is checked (24..256, a multiple of 8).
void __suite_setmaxnreg(suite_host_site site, int increase, unsigned count);

}  // extern "C"
