// SUITE_PROFILE_MARK and SUITE_PROFILE_TAG: what `suite profile` cannot see as memory accesses of the
// thread that issues them. On the host they come with the emulation
// (suite/emulator/include/emu/ptx/profile_hooks.h), whose ldmatrix, mma and cp.async mark
// themselves, and the special-function built-ins are marked by emu/profile_math_marks.h; on the
// GPU they are no-ops.
#pragma once

#ifndef SUITE_HOST

#define SUITE_PROFILE_MARK(address, size, space, kind, op) ((void)0)
#define SUITE_PROFILE_TAG(op, accesses) ((void)0)

#endif
