"""The CuPy backend's view of torch's stream: the same CUDA stream handle. The protocol object is
checked everywhere; CuPy's side of it needs CuPy only (no GPU), so it runs with the GPU tests,
where CuPy is installed."""

import warnings

import pytest
import torch

from suite.backends.cuda_stream import stream_protocol

HANDLES = [0, 0x7F3A_1000]


class TorchStreamLike:
    """What an older torch.cuda.Stream offers: the raw handle, and no CUDA stream protocol."""

    def __init__(self, handle: int):
        self.cuda_stream = handle


class TorchStream214(TorchStreamLike):
    """torch 2.14's stream, whose own `__cuda_stream__` is used (no instance without a GPU)."""

    __cuda_stream__ = torch.cuda.Stream.__cuda_stream__


@pytest.mark.parametrize("handle", HANDLES)
def test_a_stream_without_the_protocol_is_wrapped_and_one_with_it_passed_as_it_is(handle):
    old = TorchStreamLike(handle)
    wrapped = stream_protocol(old)
    assert wrapped.__cuda_stream__() == (0, handle) and wrapped.stream is old
    new = TorchStream214(handle)
    assert stream_protocol(new) is new and new.__cuda_stream__() == (0, handle)


@pytest.mark.gpu
@pytest.mark.parametrize("cls", [TorchStreamLike, TorchStream214])
@pytest.mark.parametrize("handle", HANDLES)
def test_cupy_launches_on_the_same_stream_as_torch_without_deprecated_api(cls, handle):
    pytest.importorskip("cupy", reason="CuPy is not installed (an optional extra: .[cuda12] or .[cuda13])")
    from suite.backends.cupy_backend import cupy_stream

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # CuPy 14 deprecates ExternalStream
        stream = cupy_stream(cls(handle), device_index=0)
    assert stream.ptr == handle
