// The emulation of PTX instructions (names __suite_ptx_*), called by the C++ that the inline-PTX
// translator (suite/emulator/ptx) writes for each asm statement, and by the suite's own wrappers
// (kernels_cu/common/tensor_core.cuh, cp_async.cuh): one emulation for both.
#pragma once

#include "ptx/operands.h"
#include "ptx/profile_hooks.h"
#include "ptx/arith.h"
#include "ptx/convert.h"
#include "ptx/shared_window.h"
#include "ptx/sreg.h"
#include "ptx/warp.h"
#include "ptx/sync.h"
#include "ptx/cp_async.h"
#include "ptx/tensor.h"
