"""Per-architecture SM limits and theoretical occupancy, following cuda_occupancy.h.

Numbers and rules: /work/shared/reference/ptx-and-limits.md §4. Pure functions, no GPU needed.
The shared-memory pool is the full per-SM size (the driver's default carveout preference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from suite.errors import InputError

KB = 1024
WARP = 32
MAX_THREADS_PER_BLOCK = 1024
REGS_PER_SM = 64 * KB
REGS_PER_BLOCK = 64 * KB
MAX_REGS_PER_THREAD = 256  # the occupancy header rejects more; ptxas never allocates more than 255
REG_ALLOC_UNIT = 256  # registers are allocated per warp in units of 256
SUB_PARTITIONS = 4  # a block's warps are spread over the SM's 4 register files
SMEM_ALLOC_UNIT = 128
SMEM_RESERVED_PER_BLOCK = 1 * KB


@dataclass(frozen=True)
class ArchLimits:
    name: str
    max_warps_per_sm: int
    max_blocks_per_sm: int
    smem_per_sm: int
    smem_per_block_optin: int


ARCH_LIMITS = {
    80: ArchLimits("sm_80", 64, 32, 164 * KB, 163 * KB),
    86: ArchLimits("sm_86", 48, 16, 100 * KB, 99 * KB),
    89: ArchLimits("sm_89", 48, 24, 100 * KB, 99 * KB),
    90: ArchLimits("sm_90", 64, 32, 228 * KB, 227 * KB),
}


def arch_limits(arch: str) -> ArchLimits:
    """Limits of a real architecture name such as "sm_80" or "sm_90a"."""
    match = re.fullmatch(r"sm_(\d+)a?", arch)
    if not match or int(match.group(1)) not in ARCH_LIMITS:
        known = ", ".join(l.name for l in ARCH_LIMITS.values())
        raise InputError(f"unknown GPU architecture {arch!r}; expected one of {known} (an 'a' suffix is allowed)")
    return ARCH_LIMITS[int(match.group(1))]


@dataclass(frozen=True)
class Occupancy:
    blocks_per_sm: int
    warps_per_sm: int
    fraction: float  # resident warps / the SM's maximum
    limited_by: str  # "threads", "warps", "registers", "shared memory" or "blocks"
    smem_per_block: int  # static + dynamic + reserved, rounded to the allocation unit


def _round_up(value: int, unit: int) -> int:
    return -(-value // unit) * unit


def _blocks_by_registers(registers: int, warps: int) -> int:
    if registers == 0:  # as in the header: no register limit
        return 1 << 30
    per_warp = _round_up(registers * WARP, REG_ALLOC_UNIT)
    if registers > MAX_REGS_PER_THREAD or per_warp * warps > REGS_PER_BLOCK \
            or per_warp * _round_up(warps, SUB_PARTITIONS) > REGS_PER_SM:
        return 0
    warps_per_sub_partition = (REGS_PER_SM // SUB_PARTITIONS) // per_warp
    return SUB_PARTITIONS * warps_per_sub_partition // warps


def _blocks_by_smem(limits: ArchLimits, requested: int, per_block: int) -> int:
    # Above 48 KB a launch must opt in (the backends set max_dynamic_shared_size_bytes) up to this.
    if requested > limits.smem_per_block_optin:
        return 0
    return limits.smem_per_sm // per_block


def occupancy(limits: ArchLimits, threads_per_block: int, registers_per_thread: int,
              static_smem: int = 0, dynamic_smem: int = 0) -> Occupancy:
    """Resident blocks and warps per SM for one kernel launch configuration."""
    warps = -(-threads_per_block // WARP)
    smem = _round_up(static_smem + dynamic_smem + SMEM_RESERVED_PER_BLOCK, SMEM_ALLOC_UNIT)
    if threads_per_block > MAX_THREADS_PER_BLOCK or threads_per_block < 1:
        return Occupancy(0, 0, 0.0, "threads", smem)
    # Ties go to the first factor in this order.
    by_factor = {
        "warps": limits.max_warps_per_sm // warps,
        "registers": _blocks_by_registers(registers_per_thread, warps),
        "shared memory": _blocks_by_smem(limits, static_smem + dynamic_smem, smem),
        "blocks": limits.max_blocks_per_sm,
    }
    limited_by = min(by_factor, key=by_factor.get)
    blocks = by_factor[limited_by]
    return Occupancy(blocks, blocks * warps, blocks * warps / limits.max_warps_per_sm, limited_by, smem)

