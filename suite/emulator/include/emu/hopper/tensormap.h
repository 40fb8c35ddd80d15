// The emulation's CUtensorMap: the 128 bytes a kernel receives (`const __grid_constant__
// CUtensorMap`), written by suite/emulator/tensormap.py after the checks of cuTensorMapEncodeTiled.
// The driver's own encoding is undocumented, so the emulation keeps the encoder's arguments, behind
// a magic word that tells its maps from a real one (or garbage). Little-endian, no padding inside.
#pragma once

#include <stdint.h>

#define __SUITE_TENSORMAP_MAGIC 0x50414d54534d4553ull  // "SEMSTMAP"

struct __suite_tensormap {
    uint64_t magic;
    uint64_t global_address;
    uint64_t dims[5];          // elements, innermost first
    uint64_t strides[5];       // bytes; strides[0] is the element size
    uint8_t box[5];            // elements, 1..256, stored minus one
    uint8_t element_strides[5];  // 1..8
    uint8_t rank;              // 1..5
    uint8_t dtype;             // CUtensorMapDataType
    uint8_t element_size;      // bytes (0: 4-bit types, not emulated)
    uint8_t interleave;        // CUtensorMapInterleave: 0 none, 1 16B, 2 32B
    uint8_t swizzle;           // CUtensorMapSwizzle: 0 none, 1 32B, 2 64B, 3 128B
    uint8_t l2_promotion;      // CUtensorMapL2promotion
    uint8_t oob_fill;          // CUtensorMapFloatOOBfill: 0 zeros, 1 NaN
    uint8_t is_float;          // the element type is a floating-point one (NaN fill applies)
    uint8_t reserved[14];
};
static_assert(sizeof(struct __suite_tensormap) == 128, "a CUtensorMap is 128 bytes");
