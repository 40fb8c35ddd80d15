"""Tests marked `gpu` run only where CuPy can use a CUDA GPU; elsewhere they skip with the reason
(so a plain `pytest` stays green on machines without one)."""

import pytest


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    from suite.backends import gpu_unusable_reason

    reason = gpu_unusable_reason()
    if reason:
        skip = pytest.mark.skip(reason=f"needs a CUDA GPU: {reason}")
        for item in gpu_items:
            item.add_marker(skip)


# The test kernels of the inline-PTX and Hopper emulation call the emulation's internals
# (SUITE_HOST_SITE, __suite_wgmma_*) or need sm_89/sm_90 PTX, which the GPU toolchain that judges
# every host run (NVRTC for the backend's sm_80 by default; suite/emulator/toolchain.py) rejects:
# those files run g++ alone until their kernels are NVRTC-clean and their modules name sm_90.
_HOST_ONLY_TEST_KERNELS = ("test_emu_ptx_", "test_emu_hopper_")


@pytest.fixture(autouse=True, scope="module")
def _host_only_test_kernels(request):
    if not request.module.__name__.rsplit(".", 1)[-1].startswith(_HOST_ONLY_TEST_KERNELS):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUITE_HOST_TOOLCHAIN", "none")
        yield
