"""The counting model (suite/emulator/profile/memory_model.h) on made-up access records: the known
answers of issue 13 and a brute-force re-count of random requests."""

import numpy as np
import pytest

from suite.profile import accesses as acc
from suite.profile.counting import count
from suite.profile.summary import summarize


def count_requests(records):
    """The rows of `records`, by code address (each test's requests of one pc are alike)."""
    rows, _, _ = count(records)
    return {int(r["pc"]): r for r in rows}


def only(records):
    rows = count_requests(records)
    assert len(rows) == 1
    return next(iter(rows.values()))


def per_request(row, what):
    return int(row[what]) / int(row["requests"])


def records(addresses, *, lanes=None, warp=0, block=0, pc=1, occurrence=0, size=4, space=acc.SHARED,
            kind=acc.LOAD, op=acc.PLAIN):
    addresses = np.asarray(addresses, dtype=np.uint64)
    r = acc.empty(len(addresses))
    r["address"] = addresses
    r["lane"] = np.arange(len(addresses)) if lanes is None else lanes
    for name, value in dict(warp=warp, block=block, pc=pc, occurrence=occurrence, size=size, space=space, kind=kind,
                            op=op).items():
        r[name] = value
    return r


@pytest.fixture
def rng():
    return np.random.default_rng(13)


def transpose_reads(rng, pitch):
    """A 32x32 float tile read column-wise (tile[lane][warp]): each warp reads a column."""
    base = int(rng.integers(0, 1 << 20)) * 4
    warps = [records(base + (np.arange(32) * pitch + w) * 4, warp=w, pc=7) for w in range(32)]
    return np.concatenate(warps)


@pytest.mark.parametrize("pitch, ways", [(32, 32), (33, 1)])
def test_transpose_through_shared_memory(rng, pitch, ways):
    r = only(transpose_reads(rng, pitch))
    assert r["requests"] == 32 and r["threads"] == 32 * 32
    assert per_request(r, "wavefronts") == ways and per_request(r, "ideal_wavefronts") == 1


def test_row_writes_of_the_transpose_are_conflict_free(rng):
    base = int(rng.integers(0, 1 << 20)) * 4
    r = only(np.concatenate([records(base + (w * 32 + np.arange(32)) * 4, warp=w, kind=acc.STORE)
                             for w in range(32)]))
    assert r["requests"] == 32 and r["wavefronts"] == 32


@pytest.mark.parametrize("stride, sectors", [(1, 4), (32, 32)])
def test_global_fp32_loads_by_stride(rng, stride, sectors):
    base = int(rng.integers(1, 1 << 30)) * 128
    r = only(records(base + np.arange(32) * stride * 4, space=acc.GLOBAL))
    assert (r["sectors"], r["ideal_sectors"], r["lines"]) == (sectors, 4, 1 if stride == 1 else 32)


def test_misaligned_unit_stride_touches_one_more_sector(rng):
    base = int(rng.integers(1, 1 << 30)) * 128 + 4
    r = only(records(base + np.arange(32) * 4, space=acc.GLOBAL))
    assert (r["sectors"], r["lines"]) == (5, 2)


def test_16_byte_global_loads_at_unit_stride(rng):
    base = int(rng.integers(1, 1 << 30)) * 128
    r = only(records(base + np.arange(32) * 16, size=16, space=acc.GLOBAL))
    assert (r["sectors"], r["ideal_sectors"]) == (16, 16)


def ldmatrix_x4_a(rng, pitch_bytes):
    """ldmatrix.x4 of a 16x16 half tile: lane L gives &T[L % 16][8 * (L / 16)]."""
    base = int(rng.integers(0, 1 << 16)) * 128
    lanes = np.arange(32)
    return records(base + (lanes % 16) * pitch_bytes + 16 * (lanes // 16), size=16, op=acc.LDMATRIX)


@pytest.mark.parametrize("pitch, wavefronts", [(128, 32), (144, 4)])
def test_ldmatrix_row_pitch(rng, pitch, wavefronts):
    r = only(ldmatrix_x4_a(rng, pitch))
    assert (r["wavefronts"], r["ideal_wavefronts"]) == (wavefronts, 4)


def test_broadcast_is_one_wavefront(rng):
    address = int(rng.integers(0, 1 << 20)) * 4
    r = only(records(np.full(32, address)))
    assert (r["wavefronts"], r["ideal_wavefronts"]) == (1, 1)


def test_8_byte_accesses_take_two_phases(rng):
    base = int(rng.integers(0, 1 << 20)) * 8
    r = only(records(base + np.arange(32) * 8, size=8))
    assert (r["wavefronts"], r["ideal_wavefronts"]) == (2, 2)
    # a stride of 16 bytes: lanes l and l+8 of a half-warp share banks -> 2-way in each phase
    assert only(records(base + np.arange(32) * 16, size=8))["wavefronts"] == 4


def brute_force_wavefronts(lanes, addresses, sizes):
    words = max(1, sizes[0] // 4)
    per_phase = {}
    for lane, address in zip(lanes, addresses):
        for w in range(words):
            word = address // 4 + w
            per_phase.setdefault(lane // (32 // words), {}).setdefault(word % 32, set()).add(word)
    return sum(max(len(s) for s in banks.values()) for banks in per_phase.values())


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16])
def test_random_shared_requests_match_a_brute_force_count(rng, size):
    batches, expected = [], {}
    for pc in range(1, 41):
        active = np.flatnonzero(rng.random(32) < 0.7)
        addresses = rng.integers(0, 1024, len(active)) * size  # aligned, small region: many collisions
        batches.append(records(addresses, lanes=active, size=size, pc=pc, warp=pc % 3, block=pc % 2))
        expected[pc] = brute_force_wavefronts(active, addresses, [size])
    shuffled = np.concatenate(batches)
    rng.shuffle(shuffled)
    rows = count_requests(shuffled)
    assert {pc: int(r["wavefronts"]) for pc, r in rows.items()} == expected


def test_requests_are_split_by_warp_pc_and_occurrence(rng):
    base = int(rng.integers(1, 1 << 30)) * 128
    parts = [records(base + np.arange(32) * 4, warp=w, pc=pc, occurrence=o, space=acc.GLOBAL)
             for w in range(2) for pc in (3, 9) for o in range(3)]
    parts.append(records(base + np.arange(32) * 4, block=5, space=acc.GLOBAL, pc=3))
    rows = count_requests(np.concatenate(parts))
    assert rows[3]["requests"] == 2 * 3 + 1 and rows[9]["requests"] == 2 * 3
    assert rows[3]["threads"] == 32 * rows[3]["requests"]


def test_unique_bytes_counts_overlaps_once(rng):
    base = int(rng.integers(1, 1 << 30)) * 128
    starts = rng.integers(0, 4096, 500) * 4
    r = records(base + starts, space=acc.GLOBAL, lanes=np.arange(32).repeat(16)[:500], occurrence=np.arange(500) // 32)
    expected = len({int(s) + b for s in starts for b in range(4)})
    _, loaded, stored = count(r, regions=[(base, base + 4096 * 4)])
    assert (loaded, stored) == (expected, 0)


def test_summary_sorts_the_worst_line_first(rng):
    conflicted = transpose_reads(rng, 32)
    clean = transpose_reads(rng, 33)
    clean["pc"] = 8
    rows, loaded, stored = count(np.concatenate([clean, conflicted]))
    profile = summarize("transpose", (1, 1, 1), (32, 32, 1), 0, rows, loaded, stored, lambda pc: f"t.cu:{pc}")
    assert [line.line for line in profile.lines] == ["t.cu:7", "t.cu:8"]
    assert profile.bank_conflicts == 32 * 31
    assert profile.lines[0].per_request("wavefronts") == 32


def test_a_partly_active_warp_is_no_conflict(rng):
    base = int(rng.integers(0, 1 << 16)) * 128
    r = only(records(base + np.arange(20) * 16, size=16))  # lanes 0-19: phases of 8, 8 and 4 lanes
    assert (r["wavefronts"], r["ideal_wavefronts"]) == (3, 3)


def test_a_dram_bound_kernel_with_a_flop_model_gets_a_gbps_ceiling():
    from suite.profile.speed_of_light import GPUS, bound

    memory = bound(GPUS["H100"], mma=0, wavefronts=0, sfu=0, dram_bytes=10**9, flops=2 * 10**9, nbytes=10**9)
    assert memory.binding == "dram" and memory.ceiling() == (pytest.approx(3350.0), "GB/s")
    compute = bound(GPUS["H100"], mma=10**9, wavefronts=0, sfu=0, dram_bytes=10**6, flops=4096 * 10**9, nbytes=10**6)
    assert compute.binding == "tensor" and compute.ceiling()[1] == "TFLOP/s"
