"""The CuPy backend's view of torch's stream: the same CUDA stream handle (no GPU needed, CuPy only)."""

import warnings

import pytest

pytest.importorskip("cupy", reason="CuPy is not installed (an optional extra: .[cuda12] or .[cuda13])")

from suite.backends.cupy_backend import cupy_stream  # noqa: E402


class TorchStreamLike:
    """What torch.cuda.Stream offers: the raw handle, and no CUDA stream protocol."""

    def __init__(self, handle: int):
        self.cuda_stream = handle


@pytest.mark.parametrize("handle", [0, 0x7F3A_1000])
def test_cupy_launches_on_the_same_stream_as_torch_without_deprecated_api(handle):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # CuPy 14 deprecates ExternalStream
        stream = cupy_stream(TorchStreamLike(handle), device_index=0)
    assert stream.ptr == handle
