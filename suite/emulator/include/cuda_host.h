// CUDA on the CPU: force-included (g++ -include) before a kernel source, so that the unchanged .cu
// compiles with g++ and runs with CUDA's execution semantics on the host runtime (rt/*.cpp).
// Kernels can test SUITE_HOST to choose a host path (the wrappers in common/ do).
#pragma once

#define SUITE_HOST 1
// libcu++'s waits yield to the block's other threads (include/api/cuda/std/__thread/).
#define _CCCL_HAS_THREAD_API_CUDA

// Standard headers that use __noinline__ as an attribute name must come before the macro below.
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

// The CUDA qualifiers, for g++. __shared__ is per block: a block runs all its threads on one OS
// thread, one block at a time, so thread-local storage is exactly one copy per running block.
#define __host__
#define __device__
#define __global__
#define __constant__
#define __managed__
// 16-byte aligned: nvcc aligns a __shared__ array only to its type (PTX `.shared .align 2` for a
// __half array), but ptxas packs a kernel's arrays in declaration order from offset 0 of the
// window, so its first array, and each one after arrays whose sizes are multiples of 16, is
// 16-byte aligned and kernels store int4 into them (cuda_hgemm's mmaNaive); thread-local storage
// would place them at any offset their type allows.
#define __shared__ thread_local __attribute__((aligned(16)))
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

#include <vector_types.h>
#include <vector_functions.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "emu/runtime_api.h"
#include "emu/lanes.h"
#include "emu/device_math.h"
#include "emu/rounding.h"
#include "emu/conversions.h"
#include "emu/half_math.h"
#include "emu/simd_video.h"
#include "emu/dpx.h"
#include "emu/float_mode.h"
#include "emu/device_atomics.h"
#include "emu/device_threads.h"
#include "emu/device_warp.h"
#include "emu/lanes_ops.h"  // what rewritten kernels call (suite/emulator/lanes)
#include "emu/ptx.h"
#include "emu/launch.h"
#include "emu/texture.h"
#include "emu/hopper/hopper.h"
#include "emu/profile_math_marks.h"  // last: it renames math built-ins the headers above define
