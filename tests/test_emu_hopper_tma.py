"""TMA on the host backend: the tensor-map encoder's argument rules (cuTensorMapEncodeTiled's), tensor
boxes at the tensor's edges (zero and NaN fill), the four swizzle modes by their known answers,
stores that skip out-of-bounds elements, plain bulk copies, and misuse reported as faults
(tests/kernels/hopper_tma.cu)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.emulator import tensormap
from suite.errors import InputError, KernelFault
from suite.host import RawModule

SOURCE = Path(__file__).parent / "kernels" / "hopper_tma.cu"
SWIZZLE_BITS = {"none": 0, "32B": 1, "64B": 2, "128B": 3}


@pytest.fixture(scope="module")
def module():
    return RawModule(path=SOURCE)


def _line(text: str) -> int:
    return next(i for i, line in enumerate(SOURCE.read_text().splitlines(), 1) if text in line)


def swizzle_offsets(nbytes: int, swizzle: str) -> np.ndarray:
    """Where byte i of a dense box lands in shared memory (an aligned box): 16-byte chunk c of
    128-byte line r moves to chunk c ^ (r mod 2^B) for the B-bit swizzle (CUTLASS Swizzle<B,4,3>)."""
    i = np.arange(nbytes)
    line, chunk, byte = i // 128, (i // 16) % 8, i % 16
    mask = (1 << SWIZZLE_BITS[swizzle]) - 1
    return line * 128 + (chunk ^ (line & mask)) * 16 + byte


def test_swizzle_known_answers():
    """The PTX/driver tables: 128B moves chunk c of row r to c ^ (r % 8); 64B XORs the low two chunk
    bits with (r % 4); 32B swaps the chunks of every other 128-byte line."""
    chunks = lambda s: (swizzle_offsets(1024, s)[::16] // 16 % 8).reshape(8, 8)  # noqa: E731
    assert (chunks("128B")[3] == [3, 2, 1, 0, 7, 6, 5, 4]).all()
    assert (chunks("128B")[7] == [7, 6, 5, 4, 3, 2, 1, 0]).all()
    assert (chunks("64B")[5] == [1, 0, 3, 2, 5, 4, 7, 6]).all()
    assert (chunks("32B")[1] == [1, 0, 3, 2, 5, 4, 7, 6]).all() and (chunks("32B")[2] == np.arange(8)).all()
    assert (chunks("none") == np.arange(8)).all()


def _expected_box(t: np.ndarray, coords, box, fill) -> np.ndarray:
    """The box at coords (innermost first) of t (outermost first), out-of-bounds elements = fill."""
    out = np.full(tuple(reversed(box)), fill, dtype=t.dtype)
    src = [slice(max(c, 0), min(c + b, n)) for c, b, n in zip(reversed(coords), reversed(box), t.shape)]
    dst = [slice(s.start - c, s.stop - c) for s, c in zip(src, reversed(coords))]
    if all(s.stop > s.start for s in src):
        out[tuple(dst)] = t[tuple(src)]
    return out


CASES = [  # dtype, shape (outermost first), box (innermost first), coords, swizzle
    ("float16", (70, 104), (64, 32), (48, 50), "128B"),      # past the right and bottom edges
    ("float16", (70, 104), (64, 32), (-8, -5), "128B"),      # before the left and top edges
    ("bfloat16", (40, 24), (32, 16), (-16, 30), "64B"),      # partly above, the rest past the bottom
    ("float32", (9, 33, 20), (8, 8, 4), (16, 30, 7), "32B"),  # 3-D, every dimension ragged
    ("uint8", (5, 7, 3, 64), (48, 2, 4, 2), (30, 2, 1, 4), "none"),
    ("float32", (3, 2, 4, 3, 40), (4, 2, 3, 2, 2), (37, 1, 2, 1, 2), "none"),  # rank 5
]


LOADS = [case + (oob,) for case in CASES for oob in ("none", "nan") if oob == "none" or case[0] != "uint8"]


@pytest.mark.parametrize("dtype, shape, box, coords, swizzle, oob", LOADS)
def test_tensor_box_loads_at_edges(module, dtype, shape, box, coords, swizzle, oob):
    rng = np.random.default_rng(len(shape) * 100 + box[0])
    t = torch.from_numpy(rng.standard_normal(shape).astype(np.float32) * 50).abs().to(getattr(torch, dtype))
    raw = tensormap.encode_for(t, box, swizzle=swizzle, oob_fill=oob)
    box_bytes = int(np.prod(box)) * t.element_size()
    out = torch.zeros(box_bytes, dtype=torch.uint8)
    early = torch.zeros(box_bytes, dtype=torch.uint8)
    module.get_function("load_box")((1,), (64,), (
        tensormap.kernel_argument(raw), np.int32(len(shape)), torch.tensor(coords, dtype=torch.int32),
        np.int32(box_bytes), np.int32(1024), out, early), shared_mem=1024 + box_bytes)
    view = t.view(torch.int16) if t.element_size() == 2 else t
    fill = {"none": 0, "nan": -1}[oob]  # all-ones bits: NaN in every float format
    as_int = view.numpy().view({1: np.int8, 2: np.int16, 4: np.int32}[t.element_size()])
    dense = _expected_box(as_int, coords, box, fill).tobytes()
    expected = np.zeros(box_bytes, dtype=np.uint8)
    expected[swizzle_offsets(box_bytes, swizzle)] = np.frombuffer(dense, dtype=np.uint8)
    assert (out.numpy() == expected).all()
    assert (early.numpy() == 0xFF).all()  # before the wait: the poison, not the data


@pytest.mark.parametrize("swizzle", ["none", "128B"])
def test_tensor_store_writes_the_box_inside_the_tensor_only(module, swizzle):
    t = torch.zeros(30, 80, dtype=torch.float16)
    box, coords = (64, 16), (40, 20)
    box_bytes = 64 * 16 * 2
    values = torch.arange(1, 64 * 16 + 1, dtype=torch.float16).reshape(16, 64)
    smem = np.zeros(box_bytes, dtype=np.uint8)
    smem[swizzle_offsets(box_bytes, swizzle)] = values.view(torch.uint8).numpy().ravel()
    module.get_function("store_box")((1,), (64,), (
        tensormap.kernel_argument(tensormap.encode_for(t, box, swizzle=swizzle)), np.int32(2),
        torch.tensor(coords, dtype=torch.int32), np.int32(box_bytes), torch.from_numpy(smem)), shared_mem=box_bytes)
    expected = torch.zeros_like(t)
    expected[20:30, 40:80] = values[:10, :40]
    assert torch.equal(t, expected)


@pytest.mark.parametrize("pieces", [1, 4])
def test_bulk_copies_complete_the_barrier_bytes(module, pieces):
    x = torch.from_numpy(np.random.default_rng(pieces).standard_normal(256).astype(np.float32))
    out = torch.zeros_like(x)
    module.get_function("bulk_round_trip")((2,), (32,), (x, out, np.int32(1024), np.int32(pieces)), shared_mem=1024)
    assert torch.equal(out, x)


@pytest.mark.parametrize("mode, message", [
    (0, r"shared memory at .* must be 1024-byte aligned for swizzle 128B"),
    (1, r"are not a tensor map of the emulation"),
    (2, r"deadlock: .*tx \+16 bytes never arrived"),
])
def test_tma_misuse_is_a_fault_naming_the_line(module, mode, message):
    t = torch.zeros(64, 64, dtype=torch.float16)
    raw = tensormap.encode_for(t, (64, 8), swizzle="128B") if mode != 1 else bytes(128)
    with pytest.raises(KernelFault, match=message) as info:
        module.get_function("tma_misuse")((1,), (32,), (
            tensormap.kernel_argument(raw), np.int32(mode), torch.zeros(2, dtype=torch.int32), np.int32(1024)),
            shared_mem=4096)
    assert f"hopper_tma.cu:{_line(f'// fault {mode}')}" in str(info.value)


def _args(**changes):
    args = dict(dtype="float16", rank=2, global_address=4096, global_dim=[64, 32], global_strides=[128],
                box_dim=[64, 8], element_strides=[1, 1], interleave="none", swizzle="128B")
    args.update(changes)
    return args


@pytest.mark.parametrize("changes, message", [
    (dict(rank=0, global_dim=[], global_strides=[], box_dim=[], element_strides=[]), "rank 0 is outside 1..5"),
    (dict(rank=6), "rank 6 is outside 1..5"),
    (dict(global_address=4104), "global_address 0x1008 is not 16-byte aligned"),
    (dict(global_dim=[64, 0]), r"global_dim\[1\] = 0 is outside 1..2\^32"),
    (dict(global_dim=[2**32 + 1, 2]), r"global_dim\[0\] = 4294967297"),
    (dict(global_strides=[120]), r"global_strides\[0\] = 120 bytes must be a positive multiple of 16"),
    (dict(global_strides=[2**40]), "below 2\\^40"),
    (dict(box_dim=[64, 257]), r"box_dim\[1\] = 257 is outside 1..256"),
    (dict(box_dim=[4, 8], swizzle="none"), r"box_dim\[0\] \* 2 bytes = 8 must be a multiple of 16"),
    (dict(box_dim=[128, 8]), "swizzle 128B takes an inner box of at most 128 bytes; box_dim\\[0\\] \\* 2 = 256"),
    (dict(box_dim=[32, 8], swizzle="32B"), "swizzle 32B takes an inner box of at most 32 bytes"),
    (dict(element_strides=[1, 9]), r"element_strides\[1\] = 9 is outside 1..8"),
    (dict(interleave="16B"), "interleave 16B needs rank >= 3"),
    (dict(rank=3, global_dim=[64, 4, 4], global_strides=[128, 512], box_dim=[64, 2, 2], element_strides=[1, 1, 1],
          interleave="32B", swizzle="64B"), "interleave 32B needs swizzle 32B"),
    (dict(dtype="int32", box_dim=[32, 8], oob_fill="nan"), "oob_fill nan needs a floating-point dtype"),
    (dict(box_dim=[64]), "box_dim has 1 entries; rank 2 needs 2"),
    (dict(dtype="float8"), "dtype 'float8' is not one of"),
    (dict(swizzle="256B"), "swizzle '256B' is not one of"),
])
def test_encoder_refuses_what_the_driver_refuses(changes, message):
    with pytest.raises(InputError, match=message):
        tensormap.encode_tiled(**_args(**changes))


def test_encoder_layout_round_trips():
    raw = tensormap.encode_tiled(**_args(oob_fill="nan", l2_promotion="128B"))
    assert len(raw) == 128 and int.from_bytes(raw[:8], "little") == tensormap.MAGIC
    fields = np.frombuffer(raw, dtype=np.uint64, count=12)
    assert list(fields[1:4]) == [4096, 64, 32] and list(fields[7:9]) == [2, 128]
    assert list(raw[96:101]) == [63, 7, 0, 0, 0] and list(raw[106:114]) == [2, 6, 2, 0, 3, 2, 1, 1]
    assert tensormap.kernel_argument(raw).dtype.itemsize == 128


def test_element_strides_take_every_other_row(module):
    """elementStrides[1] = 2: a box of 8 rows traverses rows c, c+2, ..., c+6 (4 rows land); the driver
    ignores dimension 0's stride without interleave."""
    t = torch.arange(16 * 32, dtype=torch.float32).reshape(16, 32)
    raw = tensormap.encode_tiled("float32", 2, t.data_ptr(), [32, 16], [128], [8, 8], [4, 2])
    box_bytes = 8 * 4 * 4
    out = torch.zeros(box_bytes, dtype=torch.uint8)
    module.get_function("load_box")((1,), (32,), (
        tensormap.kernel_argument(raw), np.int32(2), torch.tensor([3, 9], dtype=torch.int32), np.int32(box_bytes),
        np.int32(0), out, torch.zeros(box_bytes, dtype=torch.uint8)), shared_mem=box_bytes)
    expected = torch.stack([t[r, 3:11] for r in (9, 11, 13, 15)])
    assert torch.equal(out.view(torch.float32).reshape(4, 8), expected)
