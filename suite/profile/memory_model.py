"""How a GPU serves each warp request: shared-memory wavefronts and global sectors.

The rules (shared/reference/gpu-tuning-facts.md, sections 2 and 3; what Nsight Compute counts):
- Shared memory has 32 banks of 4 bytes; bank = (address / 4) mod 32. A request is served in
  phases: 4-byte (and narrower) accesses in one phase of 32 lanes, 8-byte in two of 16 lanes,
  16-byte in four of 8 lanes (ldmatrix: one phase per 8x8 matrix, its 8 row addresses). Within a
  phase, the distinct 32-bit words that fall in one bank are read one after another: the phase
  takes as many wavefronts as its busiest bank has distinct words (lanes on the same word share
  it: a broadcast). Ideal: max(1, ceil(bytes requested / 128)).
- Global memory is served in 32-byte sectors of 128-byte lines. A request costs the distinct
  sectors its bytes touch; ideal: ceil(distinct bytes / 32), what the same bytes would cost if
  they were contiguous and aligned.
Only addresses and lane numbers enter: the counts are those of any GPU with these rules (sm_70 to
sm_90), independent of timing, caches and scheduling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.profile import accesses as acc

BANKS, BANK_BYTES, WAVEFRONT_BYTES = 32, 4, 128
SECTOR_BYTES, LINE_BYTES = 32, 128


@dataclass(frozen=True)
class Requests:
    """One entry per warp request (all arrays of the same length)."""

    pc: np.ndarray
    space: np.ndarray
    kind: np.ndarray
    op: np.ndarray
    threads: np.ndarray  # lanes taking part
    bytes: np.ndarray  # bytes requested (every lane's size, broadcasts counted per lane)
    wavefronts: np.ndarray  # shared: wavefronts; else 0
    ideal_wavefronts: np.ndarray
    sectors: np.ndarray  # global: distinct 32-byte sectors; else 0
    ideal_sectors: np.ndarray
    lines: np.ndarray  # global: distinct 128-byte lines; else 0

    def __len__(self) -> int:
        return len(self.pc)

    def where(self, mask: np.ndarray) -> "Requests":
        return Requests(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


def _distinct_per_request(request: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    """For each request 0..n-1, how many distinct `value`s its rows hold."""
    pairs = np.unique(np.stack([request, value.astype(np.int64)]), axis=1)
    return np.bincount(pairs[0], minlength=n)


def _group_max(group: np.ndarray, value: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.int64)
    np.maximum.at(out, group, value)
    return out


def shared_wavefronts(request: np.ndarray, lane: np.ndarray, address: np.ndarray, size: np.ndarray,
                      n: int) -> np.ndarray:
    """Wavefronts of each of n shared-memory requests, from its lanes' accesses."""
    if len(request) == 0:
        return np.zeros(n, np.int64)
    words = np.maximum(size.astype(np.int64) // BANK_BYTES, 1)  # 32-bit words each access spans
    phase = lane.astype(np.int64) // (BANKS // words)  # 32, 16 or 8 lanes per phase
    # One row per (access, word it touches).
    rows = np.repeat(np.arange(len(request)), words)
    word = address[rows].astype(np.int64) // BANK_BYTES + (np.arange(len(rows)) - np.repeat(np.cumsum(words) - words, words))
    # Distinct words per (request, phase, bank): the bank's serialisation in that phase.
    key = np.stack([request[rows].astype(np.int64), phase[rows], word % BANKS, word])
    distinct = np.unique(key, axis=1)
    bank_key, per_bank = np.unique(distinct[:3], axis=1, return_counts=True)
    phase_key, first = np.unique(bank_key[:2], axis=1, return_index=True)
    # max over banks of a phase: the unique keys are sorted, so each phase's banks are contiguous
    phase_wavefronts = np.maximum.reduceat(per_bank, first)
    return np.bincount(phase_key[0], weights=phase_wavefronts, minlength=n).astype(np.int64)


def global_sectors(request: np.ndarray, address: np.ndarray, size: np.ndarray, n: int):
    """(sectors, lines, ideal sectors) of each of n global requests."""
    if len(request) == 0:
        zero = np.zeros(n, np.int64)
        return zero, zero, zero
    first = address.astype(np.int64)
    last = first + size.astype(np.int64) - 1
    # An access of at most 16 bytes touches one sector, or two when it straddles a boundary.
    both = np.concatenate([request, request])
    sectors = _distinct_per_request(both, np.concatenate([first, last]) // SECTOR_BYTES, n)
    lines = _distinct_per_request(both, np.concatenate([first, last]) // LINE_BYTES, n)
    distinct_bytes = np.zeros(n, np.int64)
    np.add.at(distinct_bytes, *_distinct_accesses(request, first, size))
    ideal = -(-distinct_bytes // SECTOR_BYTES)
    return sectors, lines, ideal


def _distinct_accesses(request, first, size):
    """(request, bytes) of each distinct (request, address, size): lanes reading the same bytes
    count them once."""
    triples = np.unique(np.stack([request.astype(np.int64), first, size.astype(np.int64)]), axis=1)
    return triples[0], triples[2]


def count_requests(records: np.ndarray) -> Requests:
    """The warp requests of a launch's access records, with their wavefronts and sectors."""
    order, ids = acc.request_ids(records)
    r = records[order]
    n = int(ids[-1]) + 1 if len(ids) else 0
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.zeros(0, np.int64)
    head = r[starts]
    threads = np.bincount(ids, minlength=n)
    nbytes = np.bincount(ids, weights=r["size"], minlength=n).astype(np.int64)
    shared = r["space"] == acc.SHARED
    wavefronts = shared_wavefronts(ids[shared], r["lane"][shared], r["address"][shared], r["size"][shared], n)
    glob = r["space"] == acc.GLOBAL
    sectors, lines, ideal_sectors = global_sectors(ids[glob], r["address"][glob], r["size"][glob], n)
    is_shared = head["space"] == acc.SHARED
    ideal_wavefronts = np.where(is_shared, np.maximum(1, -(-nbytes // WAVEFRONT_BYTES)), 0)
    return Requests(pc=head["pc"], space=head["space"], kind=head["kind"], op=head["op"], threads=threads,
                    bytes=nbytes, wavefronts=wavefronts, ideal_wavefronts=ideal_wavefronts, sectors=sectors,
                    ideal_sectors=ideal_sectors, lines=lines)


def unique_bytes(records: np.ndarray, kind: int) -> int:
    """Bytes of global memory that accesses of `kind` touch, each byte once: the least DRAM traffic
    they can cause (with perfect caching)."""
    sel = records[(records["space"] == acc.GLOBAL) & (records["kind"] == kind)]
    if len(sel) == 0:
        return 0
    start = np.sort(sel["address"].astype(np.int64) * 32 + sel["size"])  # by start, then size
    first, size = start // 32, start % 32
    end = first + size
    covered_until = np.r_[first[0], np.maximum.accumulate(end)[:-1]]
    return int(np.maximum(0, end - np.maximum(first, covered_until)).sum())
