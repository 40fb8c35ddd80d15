"""nvcuda::wmma on the host backend (suite/emulator/include/api/mma.h): every fragment shape, type
and layout against a float64 matrix product on random data with ragged leading dimensions, the
element order against sm_80's mma.sync fragments, misuse a GPU punishes, and a shared-memory-staged
WMMA GEMM (tests/kernels/wmma_gemm.cu)."""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from suite.backends import get_backend
from suite.errors import KernelCompileError, KernelFault

KERNELS = Path(__file__).parent / "kernels"
WMMA = "nvcuda::wmma::"
ROW, COL = WMMA + "row_major", WMMA + "col_major"
SHAPES_K16 = [(16, 16, 16), (32, 8, 16), (8, 32, 16)]
LAYOUTS = [(la, lb) for la in (ROW, COL) for lb in (ROW, COL)]
# (fragment element type, accumulator type, torch dtype of A/B, torch dtype of C/D)
FLOAT_TYPES = [("__half", "float", torch.float16, torch.float32), ("__half", "__half", torch.float16, torch.float16),
               ("__nv_bfloat16", "float", torch.bfloat16, torch.float32)]
INT_TYPES = [("signed char", "int", torch.int8, torch.int32), ("unsigned char", "int", torch.uint8, torch.int32)]
CASES = [(shape, types, layouts) for shape in SHAPES_K16 for types in FLOAT_TYPES + INT_TYPES for layouts in LAYOUTS]
CASES += [((16, 16, 8), (WMMA + "precision::tf32", "float", torch.float32, torch.float32), l) for l in LAYOUTS]
CASES += [((8, 8, 4), ("double", "double", torch.float64, torch.float64), l) for l in LAYOUTS]


def tile_name(shape, types, layouts):
    m, n, k = shape
    return f"wmma_tile<{m}, {n}, {k}, {types[0]}, {types[1]}, {layouts[0]}, {layouts[1]}>"


ELEMENT_PROBES = {
    "acc": f"fragment_elements<{WMMA}accumulator, 16, 16, 16, float, void>",
    "a_bf16": f"fragment_elements<{WMMA}matrix_a, 16, 16, 16, __nv_bfloat16, {ROW}>",
    "b_bf16": f"fragment_elements<{WMMA}matrix_b, 16, 16, 16, __nv_bfloat16, {ROW}>",
    "a_half": f"fragment_elements<{WMMA}matrix_a, 16, 16, 16, __half, {ROW}>",
    "a_tf32": f"fragment_elements<{WMMA}matrix_a, 16, 16, 8, {WMMA}precision::tf32, {ROW}>",
    "a_s8": f"fragment_elements<{WMMA}matrix_a, 16, 16, 16, signed char, {ROW}>",
}


@pytest.fixture(scope="module")
def module():
    names = [tile_name(*c) for c in CASES] + list(ELEMENT_PROBES.values()) + ["wmma_lanes_disagree"]
    return get_backend("host").load_module(KERNELS / "wmma_tiles.cu", names)


def random_matrix(gen, rows, cols, dtype):
    if dtype in (torch.int8, torch.uint8):
        info = torch.iinfo(dtype)
        return torch.randint(info.min, info.max + 1, (rows, cols), generator=gen, dtype=torch.int32).to(dtype)
    if dtype == torch.int32:
        return torch.randint(-(2**20), 2**20, (rows, cols), generator=gen, dtype=torch.int32)
    return torch.randn(rows, cols, generator=gen, dtype=torch.float64).to(dtype)


def in_memory(x, col_major, ld, fill):
    """x laid out row- or column-major with leading dimension ld; padding holds `fill`."""
    x = x.t() if col_major else x
    buf = torch.full((x.shape[0], ld), fill, dtype=x.dtype)
    buf[:, : x.shape[1]] = x
    return buf


def ragged(cols, dtype):
    """A leading dimension one 16-byte step wider than the matrix needs (CUDA wants multiples of 16 bytes)."""
    step = 16 // torch.empty((), dtype=dtype).element_size()
    return -(-cols // step) * step + step


def tf32(x):
    """cvt.rna.tf32.f32 as float32 values (ties away from zero)."""
    bits = x.numpy().view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x1000) & 0xFFFFE000).astype(np.uint32)
    return torch.from_numpy(rounded.view(np.float32).copy())


@pytest.mark.parametrize("shape,types,layouts", CASES, ids=[tile_name(*c) for c in CASES])
def test_tile_is_a_matrix_product(module, shape, types, layouts):
    (m, n, k), (_, acc, ab_dtype, cd_dtype) = shape, types
    seed = zlib.crc32(tile_name(shape, types, layouts).encode())
    gen = torch.Generator().manual_seed(seed)
    A, B, C = random_matrix(gen, m, k, ab_dtype), random_matrix(gen, k, n, ab_dtype), random_matrix(gen, m, n, cd_dtype)
    a_col, b_col = layouts[0] == COL, layouts[1] == COL
    c_col, d_col = bool(seed & 1), not a_col  # vary the accumulator layouts too
    lda, ldb, ldc = ragged(m if a_col else k, ab_dtype), ragged(k if b_col else n, ab_dtype), ragged(n, cd_dtype)
    ldc = max(ldc, ragged(m, cd_dtype))
    sentinel = 7
    a_mem, b_mem = in_memory(A, a_col, lda, 0), in_memory(B, b_col, ldb, 0)
    c_mem = in_memory(C, c_col, ldc, 0)
    d_mem = torch.full((n if d_col else m, ldc), sentinel, dtype=cd_dtype)
    module.get_function(tile_name(shape, types, layouts))(
        (1,), (32,), (a_mem, np.uint32(lda), b_mem, np.uint32(ldb), c_mem, d_mem, np.uint32(ldc), np.int32(c_col),
                      np.int32(d_col)))
    D = d_mem[:, :m].t() if d_col else d_mem[:, :n]
    assert (d_mem[:, m if d_col else n :] == sentinel).all(), "store_matrix_sync wrote past the tile"
    if "tf32" in types[0]:
        A, B = tf32(A), tf32(B)
    if ab_dtype in (torch.int8, torch.uint8):
        torch.testing.assert_close(D, (A.long() @ B.long() + C.long()).int(), rtol=0, atol=0)
        return
    exact = A.double() @ B.double() + C.double()
    if acc == "__half":  # one rounding of the exact result
        assert torch.equal(D, torch.from_numpy(exact.numpy().astype(np.float16)))
    else:
        torch.testing.assert_close(D.double(), exact, rtol=1e-6 if cd_dtype == torch.float32 else 1e-14, atol=1e-6)


def mma_coordinates(kind, lane):
    """(row, col) of each fragment element in sm_80's mma.sync fragments (PTX ISA, "Matrix Fragments
    for mma.m16n8k16" / "m16n8k8"): A and C row g, B column g; g = lane / 4, t = lane % 4."""
    g, t = lane // 4, lane % 4
    if kind == "acc":  # two m16n8 C tiles
        return [(g + 8 * (i // 2 % 2), 2 * t + i % 2 + 8 * (i // 4)) for i in range(8)]
    if kind in ("a_bf16", "a_half"):
        return [(g + 8 * (i // 2 % 2), 2 * t + i % 2 + 8 * (i // 4)) for i in range(8)]
    if kind == "b_bf16":  # (k, n) of two n8 tiles
        return [(2 * t + i % 2 + 8 * (i // 2 % 2), g + 8 * (i // 4)) for i in range(8)]
    if kind == "a_tf32":
        return [(g + 8 * (i % 2), t + 4 * (i // 2)) for i in range(4)]
    if kind == "a_s8":
        return [(g + 8 * (i // 4), 4 * t + i % 4) for i in range(8)]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", list(ELEMENT_PROBES))
def test_fragment_elements_follow_sm80_mma_layout(module, kind):
    rows, cols = (16, 8) if kind == "a_tf32" else (16, 16)
    dtype = {"acc": torch.float32, "a_tf32": torch.float32, "a_s8": torch.int8, "a_half": torch.float16}.get(
        kind, torch.bfloat16)
    count = 16 if kind == "a_half" else 4 if kind == "a_tf32" else 8
    index = torch.arange(rows * cols).reshape(rows, cols)
    values = (index % 128 if dtype == torch.int8 else index).to(dtype)
    out = torch.zeros(32 * count, dtype=dtype)
    module.get_function(ELEMENT_PROBES[kind])((1,), (32,), (values, np.uint32(cols), out))
    out = out.reshape(32, count)
    for lane in range(32):
        expect = [values[r, c].item() for r, c in mma_coordinates(kind, lane)]
        if kind == "a_half":  # 16 elements: the 8 unique ones, twice
            expect = expect + expect
        assert out[lane].tolist() == expect, lane


def test_ldm_that_is_not_a_multiple_of_16_bytes_faults(module):
    name = tile_name((16, 16, 16), FLOAT_TYPES[0], (ROW, ROW))
    a = torch.zeros(16, 20, dtype=torch.float16)
    b, c, d = torch.zeros(16, 16, dtype=torch.float16), torch.zeros(16, 16), torch.zeros(16, 16)
    with pytest.raises(KernelFault, match=r"load_matrix_sync: ldm=20 is not a multiple of 16 bytes \(8 elements"):
        module.get_function(name)((1,), (32,), (a, np.uint32(20), b, np.uint32(16), c, d, np.uint32(16),
                                                np.int32(0), np.int32(0)))


def test_lanes_that_disagree_on_the_pointer_fault(module):
    a = torch.zeros(16, 24, dtype=torch.float16)
    with pytest.raises(KernelFault, match="every lane of the warp must pass the same pointer"):
        module.get_function("wmma_lanes_disagree")((1,), (32,), (a, np.int32(5)))


def test_a_fragment_cuda_does_not_have_is_a_compile_error(tmp_path):
    source = tmp_path / "bad_fragment.cu"
    source.write_text("#include <mma.h>\nextern \"C\" __global__ void k() {\n"
                      "  nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, float, nvcuda::wmma::row_major> f;\n"
                      "  (void)f;\n}\n")
    with pytest.raises(KernelCompileError, match="CUDA has no such fragment"):
        get_backend("host").load_module(source, ["k"])


GEMM_SMEM = 64 * 68 * 4  # wmma_gemm.cu's SMEM_BYTES: the 64 x (64 + 4) float tile of D


def run_gemm(staged=True, checks=None, M=128, N=64, K=96, alpha=1.5, beta=-0.5):
    gen = torch.Generator().manual_seed(3)
    A = torch.randn(M, K, generator=gen).half()
    B = torch.randn(K, N, generator=gen).half()
    C = torch.randn(M, N, generator=gen)
    D = torch.full((M, N), float("nan"))
    name = f"wmma_gemm<{str(staged).lower()}>"
    gemm = get_backend("host", checks).load_module(KERNELS / "wmma_gemm.cu", [name]).get_function(name)
    gemm((N // 64, M // 64), (128,), (A, B, C, D, np.int32(M), np.int32(N), np.int32(K), np.float32(alpha),
                                      np.float32(beta)), shared_mem=GEMM_SMEM)
    return D, alpha * (A.double() @ B.double()) + beta * C.double()


def test_staged_wmma_gemm_matches_torch():
    D, expect = run_gemm()
    torch.testing.assert_close(D.double(), expect, rtol=1e-5, atol=1e-4)


def test_staged_wmma_gemm_is_clean_under_every_check():
    D, expect = run_gemm(checks=("memcheck", "racecheck", "initcheck", "synccheck"), M=64, K=64)
    torch.testing.assert_close(D.double(), expect, rtol=1e-5, atol=1e-4)


def test_loading_fragments_before_the_staging_barrier_is_a_race():
    load_line = r"read of 2 bytes at \S*wmma_gemm.cu:42"  # a load_matrix_sync of the a tile
    with pytest.raises(KernelFault, match=r"racecheck: read-after-write hazard on __shared__ memory.*" + load_line):
        run_gemm(staged=False, checks=("racecheck",), M=64, K=64)
