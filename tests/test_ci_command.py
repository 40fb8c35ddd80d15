"""CI runs the tests the way the README tells a reader to: .ci/run holds the README's test command
verbatim, and pytest-xdist, which that command needs, is in the `test` extra it installs."""

import re

from suite import REPO_ROOT


def _readme_test_command() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.S)
    [command] = [line for block in blocks[:2] for line in block.splitlines() if "'.[test]'" in line]
    return command


def test_ci_runs_the_readmes_test_command_on_every_core():
    command = _readme_test_command()
    assert "pytest -n auto" in command
    assert command in (REPO_ROOT / ".ci" / "run").read_text().splitlines()


def test_the_test_extra_installs_pytest_xdist():
    [extra] = re.findall(r"^test = \[(.*)\]$", (REPO_ROOT / "pyproject.toml").read_text(), re.M)  # (no tomllib on 3.10)
    assert re.search(r'"pytest-xdist\b', extra)
