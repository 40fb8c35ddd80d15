"""Errors a user can act on: an exception in a family's own code names the user's file and line
(`--traceback` prints the whole traceback); a g++ error inside one of the emulation's macros is
shown at the user's line; paths inside the working directory are shown relative to it."""

import pytest

from plugin_install import forget_plugins
from suite import cli
from suite.emulator import build
from suite.errors import KernelCompileError

BROKEN_FAMILY = '''\
from plugin_saxpy_family import SaxpyFamily


class Broken(SaxpyFamily):
    name = "broken"

    def make_inputs(self, params, dtype, seed, device):
        raise ValueError("n must be even")


FAMILY = Broken()
'''

CASES = """\
family: broken
kernels: [saxpy]
sweeps:
  - name: axpy
    tier: smoke
    params: {n: 1000}
"""


@pytest.fixture
def broken(tmp_path, monkeypatch):
    """A family file beside its case file, as a user writes one (no package)."""
    (tmp_path / "broken_family.py").write_text(BROKEN_FAMILY)
    (tmp_path / "broken.yaml").write_text(CASES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    yield tmp_path
    forget_plugins()


def test_an_exception_in_make_inputs_names_the_users_file_and_line(broken, capsys):
    assert cli.main(["run", "broken.yaml", "--backend", "host"]) == cli.EXIT_FAILED
    out = " ".join(capsys.readouterr().out.split())
    assert "ValueError: n must be even (at broken_family.py:8 in make_inputs)" in out
    assert "--traceback shows" in out and "Traceback (most recent call last)" not in out
    assert cli.main(["run", "broken.yaml", "--backend", "host", "--traceback"]) == cli.EXIT_FAILED
    out = capsys.readouterr().out
    assert "Traceback (most recent call last)" in out and 'broken_family.py", line 8, in make_inputs' in out


def test_a_compile_error_inside_a_macro_is_shown_at_the_users_line(tmp_path, monkeypatch):
    source = tmp_path / "kernels" / "missing_semicolon.cu"
    source.parent.mkdir()
    source.write_text('extern "C" __global__ void k(float* x) {\n'
                      '    float v = x[threadIdx.x]\n'
                      '    __syncthreads();\n'
                      '    x[threadIdx.x] = v;\n'
                      '}\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(KernelCompileError) as info:
        build.build_module(source, ["k"])
    lines = str(info.value).splitlines()
    assert lines[0] == "g++ could not compile kernels/missing_semicolon.cu (kernels k) for the host backend:"
    assert lines[1].startswith("kernels/missing_semicolon.cu:3:5: error: ") and "in macro ‘__syncthreads’" in lines[1]
    assert "__syncthreads();" in lines[2]
