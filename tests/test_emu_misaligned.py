"""GPU faults in every run (issue #25): an access not aligned to its type faults in a plain launch
too (not only under memcheck), naming kernel, block, thread, type, address and source line."""

import numpy as np
import pytest

from suite.errors import KernelFault
from suite.host import RawModule

CODE = r"""
#include <cuda_fp16.h>
extern "C" __global__ void load_float(const unsigned char* bytes, float* out, int offset) {
    out[threadIdx.x] = *reinterpret_cast<const float*>(bytes + offset + 4 * threadIdx.x);
}
extern "C" __global__ void store_float4(float* x, int offset) {
    reinterpret_cast<float4*>(x + offset)[threadIdx.x] = make_float4(1, 2, 3, 4);
}
extern "C" __global__ void load_half2(const __half* x, float* out, int offset) {
    __half2 h = reinterpret_cast<const __half2*>(x + offset)[threadIdx.x];
    out[threadIdx.x] = __low2float(h) + __high2float(h);
}
"""


@pytest.fixture(scope="module")
def module():
    return RawModule(CODE)


def _line(text: str) -> int:
    return next(i for i, line in enumerate(CODE.splitlines(), 1) if text in line)


def test_aligned_accesses_run(module):
    data = np.random.default_rng(1).standard_normal(64).astype(np.float32)
    out = np.zeros(32, np.float32)
    module.get_function("load_float")((1,), (32,), (data.view(np.uint8), out, np.int32(4)))
    np.testing.assert_array_equal(out, data[1:33])
    x = np.zeros(256, np.float32)
    module.get_function("store_float4")((1,), (32,), (x, np.int32(4)))
    assert x[4:8].tolist() == [1, 2, 3, 4] and x[:4].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("name, args, what", [
    ("load_float", lambda: (np.zeros(256, np.uint8), np.zeros(32, np.float32), np.int32(2)),
     r"load of 'const float' at 0x[0-9a-f]+, not a multiple of 4 bytes"),
    ("store_float4", lambda: (np.zeros(256, np.float32), np.int32(2)),
     r"store to 'struct float4' at 0x[0-9a-f]+, not a multiple of 16 bytes"),
    ("load_half2", lambda: (np.zeros(256, np.float16), np.zeros(32, np.float32), np.int32(1)),
     r"'const struct __half2' at 0x[0-9a-f]+, not a multiple of 4 bytes"),
])
def test_a_misaligned_access_faults_in_a_plain_launch(module, name, args, what):
    with pytest.raises(KernelFault, match=rf"kernel {name}, block \(0, 0, 0\), thread \(0, 0, 0\): misaligned address: .*{what}") as info:
        module.get_function(name)((1,), (32,), args())
    line = {"load_float": "reinterpret_cast<const float*>", "store_float4": "make_float4(1, 2, 3, 4)",
            "load_half2": "__half2 h ="}[name]
    assert str(info.value).endswith(f".cu:{_line(line)})")
