"""Hopper mbarriers on the host backend: phase arithmetic (by parity and by token), a two-stage
producer/consumer ring, and each misuse reported as a fault naming the line (tests/kernels/
hopper_mbarrier.cu)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.errors import KernelFault
from suite.host import RawModule

SOURCE = Path(__file__).parent / "kernels" / "hopper_mbarrier.cu"


@pytest.fixture(scope="module")
def module():
    return RawModule(path=SOURCE)


def _line(text: str) -> int:
    """The line of hopper_mbarrier.cu holding `text` (fault messages name it)."""
    return next(i for i, line in enumerate(SOURCE.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("use_token", [0, 1])
@pytest.mark.parametrize("threads", [32, 96, 256])
def test_each_phase_sees_every_arrival_before_it(module, threads, use_token):
    rounds = 5
    values = torch.from_numpy(np.random.default_rng(threads + use_token).integers(-99, 99, (rounds, threads),
                                                                                    dtype=np.int32))
    out = torch.full((rounds, threads), -1, dtype=torch.int32)
    module.get_function("phases")((2,), (threads,), (values, out, np.int32(rounds), np.int32(use_token)))
    expected = values.sum(dim=1, keepdim=True).expand(rounds, threads)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("consumer_warps", [1, 3])
def test_two_stage_ring_hands_every_item_to_every_consumer(module, consumer_warps):
    count = 9
    items = torch.from_numpy(np.random.default_rng(consumer_warps).integers(1, 1000, count, dtype=np.int32))
    out = torch.zeros(32 * consumer_warps, dtype=torch.int32)
    module.get_function("ring")((1,), (32 * (consumer_warps + 1),), (items, out, np.int32(count)))
    assert (out == items.sum()).all()


@pytest.mark.parametrize("mode, message", [
    (0, r"over-arrival on .* in phase 0: 1 arrival\(s\) when 0 of 1 are pending \(tx \+64"),
    (1, r"parity 1 means phase 1, but the barrier has completed phases 1 and 2"),
    (2, r"deadlock: every thread of the block waits and no copy is in flight\..*phase 0, 0 of 1 arrivals pending, "
        r"tx \+128 bytes never arrived"),
    (3, r"mbarrier.arrive .* which is not an initialised mbarrier of this block"),
    (4, r"mbarrier.init .* an mbarrier already initialised at .*hopper_mbarrier.cu:\d+"),
    (5, r"deadlock: .*phase 0, 1 of 33 arrivals pending, tx \+0 bytes\."),
    (6, r"mbarrier.arrive .* in phase 1, but no thread's test_wait/try_wait has seen phase 0 complete"),
])
def test_misuse_is_a_fault_naming_the_line(module, mode, message):
    out = torch.zeros(4, dtype=torch.int32)
    with pytest.raises(KernelFault, match=message) as info:
        module.get_function("misuse")((1,), (32,), (np.int32(mode), out))
    assert f"hopper_mbarrier.cu:{_line(f'// fault {mode}')}" in str(info.value)
