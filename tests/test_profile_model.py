"""The counting model on synthetic access records: the known answers of issue 13 and a brute-force
re-count of random requests."""

import numpy as np
import pytest

from suite.profile import accesses as acc
from suite.profile.memory_model import count_requests, unique_bytes
from suite.profile.summary import summarize


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
    r = count_requests(transpose_reads(rng, pitch))
    assert len(r) == 32
    assert (r.wavefronts == ways).all() and (r.ideal_wavefronts == 1).all()


def test_row_writes_of_the_transpose_are_conflict_free(rng):
    base = int(rng.integers(0, 1 << 20)) * 4
    r = count_requests(np.concatenate([records(base + (w * 32 + np.arange(32)) * 4, warp=w, kind=acc.STORE)
                                       for w in range(32)]))
    assert (r.wavefronts == 1).all()


@pytest.mark.parametrize("stride, sectors", [(1, 4), (32, 32)])
def test_global_fp32_loads_by_stride(rng, stride, sectors):
    base = int(rng.integers(1, 1 << 30)) * 128
    r = count_requests(records(base + np.arange(32) * stride * 4, space=acc.GLOBAL))
    assert r.sectors.tolist() == [sectors] and r.ideal_sectors.tolist() == [4]
    assert r.lines.tolist() == [1 if stride == 1 else 32]


def test_misaligned_unit_stride_touches_one_more_sector(rng):
    base = int(rng.integers(1, 1 << 30)) * 128 + 4
    r = count_requests(records(base + np.arange(32) * 4, space=acc.GLOBAL))
    assert r.sectors.tolist() == [5] and r.lines.tolist() == [2]


def test_16_byte_global_loads_at_unit_stride(rng):
    base = int(rng.integers(1, 1 << 30)) * 128
    r = count_requests(records(base + np.arange(32) * 16, size=16, space=acc.GLOBAL))
    assert r.sectors.tolist() == [16] and r.ideal_sectors.tolist() == [16]


def ldmatrix_x4_a(rng, pitch_bytes):
    """ldmatrix.x4 of a 16x16 half tile: lane L gives &T[L % 16][8 * (L / 16)]."""
    base = int(rng.integers(0, 1 << 16)) * 128
    lanes = np.arange(32)
    return records(base + (lanes % 16) * pitch_bytes + 16 * (lanes // 16), size=16, op=acc.LDMATRIX)


@pytest.mark.parametrize("pitch, wavefronts", [(128, 32), (144, 4)])
def test_ldmatrix_row_pitch(rng, pitch, wavefronts):
    r = count_requests(ldmatrix_x4_a(rng, pitch))
    assert r.wavefronts.tolist() == [wavefronts] and r.ideal_wavefronts.tolist() == [4]


def test_broadcast_is_one_wavefront(rng):
    address = int(rng.integers(0, 1 << 20)) * 4
    r = count_requests(records(np.full(32, address)))
    assert r.wavefronts.tolist() == [1] and r.ideal_wavefronts.tolist() == [1]


def test_8_byte_accesses_take_two_phases(rng):
    base = int(rng.integers(0, 1 << 20)) * 8
    r = count_requests(records(base + np.arange(32) * 8, size=8))
    assert r.wavefronts.tolist() == [2] and r.ideal_wavefronts.tolist() == [2]
    # a stride of 16 bytes: lanes l and l+8 of a half-warp share banks -> 2-way in each phase
    r = count_requests(records(base + np.arange(32) * 16, size=8))
    assert r.wavefronts.tolist() == [4]


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
    batches, expected = [], []
    for occurrence in range(40):
        active = np.flatnonzero(rng.random(32) < 0.7)
        addresses = rng.integers(0, 1024, len(active)) * size  # aligned, small region: many collisions
        batches.append(records(addresses, lanes=active, size=size, occurrence=occurrence))
        expected.append(brute_force_wavefronts(active, addresses, [size]))
    shuffled = np.concatenate(batches)
    rng.shuffle(shuffled)
    r = count_requests(shuffled)
    assert sorted(r.wavefronts.tolist()) == sorted(expected)


def test_requests_are_split_by_warp_pc_and_occurrence(rng):
    base = int(rng.integers(1, 1 << 30)) * 128
    parts = [records(base + np.arange(32) * 4, warp=w, pc=pc, occurrence=o, space=acc.GLOBAL)
             for w in range(2) for pc in (3, 9) for o in range(3)]
    parts.append(records(base + np.arange(32) * 4, block=5, space=acc.GLOBAL, pc=3))
    r = count_requests(np.concatenate(parts))
    assert len(r) == 2 * 2 * 3 + 1 and (r.threads == 32).all()


def test_unique_bytes_counts_overlaps_once(rng):
    base = int(rng.integers(1, 1 << 30)) * 128
    starts = rng.integers(0, 4096, 500) * 4
    r = records(base + starts, space=acc.GLOBAL, lanes=np.arange(500) % 32)
    expected = len({int(s) + b for s in starts for b in range(4)})
    assert unique_bytes(r, acc.LOAD) == expected and unique_bytes(r, acc.STORE) == 0


def test_summary_sorts_the_worst_line_first(rng):
    conflicted = transpose_reads(rng, 32)
    clean = transpose_reads(rng, 33)
    clean["pc"] = 8
    profile = summarize("transpose", (1, 1, 1), (32, 32, 1), 0, np.concatenate([clean, conflicted]),
                        lambda pc: f"t.cu:{pc}")
    assert [line.line for line in profile.lines] == ["t.cu:7", "t.cu:8"]
    assert profile.bank_conflicts == 32 * 31
    assert profile.lines[0].per_request("wavefronts") == 32
