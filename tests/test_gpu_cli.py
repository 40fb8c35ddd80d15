"""`suite run --backend cupy` where no GPU is usable: exit 2, say why, and point to the host backend."""

import pytest

from suite import cli
from suite.backends import gpu_unusable_reason


@pytest.mark.skipif(gpu_unusable_reason() is None, reason="a GPU is usable here, so --backend cupy works")
def test_run_on_cupy_without_a_gpu_exits_2_and_suggests_host(capsys):
    code = cli.main(["run", "--backend", "cupy", "-k", "float32"])
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert code == cli.EXIT_USAGE
    assert "needs a CUDA GPU" in err and gpu_unusable_reason().split(" (")[0] in err
    assert "--backend host" in err
