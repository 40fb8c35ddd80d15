"""The PTX that the inline-PTX tests give the host emulation is PTX NVIDIA's assembler accepts:
each test kernel file is compiled by NVRTC and ptxas for sm_90 (every kernel of a file lands in
one PTX module, so one compile per file covers them all). Without NVRTC this skips."""

from pathlib import Path

import pytest

from suite.errors import BackendUnavailable
from suite.nvrtc_compile import compile_cubin

KERNELS = Path(__file__).parent / "kernels"
# file -> one of its kernels (NVRTC compiles the whole file for it)
FILES = {"ptx_mma_forms.cu": "m16n8k16_f32_f16", "ptx_numerics.cu": "add_rn", "ptx_async.cu": "cp_ignore_src",
         "ptx_warp_memory.cu": "votes", "ptx_stmatrix.cu": "store_matrices", "ptx_gemm.cu": "ptx_gemm",
         "ptx_flash_attn.cu": "ptx_flash_attn"}


@pytest.mark.parametrize("file", list(FILES))
def test_test_kernels_are_accepted_by_ptxas(file):
    try:
        compile_cubin(KERNELS / file, FILES[file], "sm_90", ())
    except BackendUnavailable as exc:
        pytest.skip(f"NVRTC is not available here: {exc}")
