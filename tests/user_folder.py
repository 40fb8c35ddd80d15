"""A user's folder as `suite new` leaves it (the softmax example under another name), for the tests
of a user's own kernel family; a one-case file of a suite family such a user might write; and
pytest run on such a folder in a child process."""

import os
import subprocess
import sys
from pathlib import Path

from suite import REPO_ROOT, scaffold

# One float32 deform_im2col case: the smallest case file of a suite family.
TINY_DEFORM = """\
family: deform
kernels: [deform_im2col]
dtypes: [float32]
sweeps:
  - name: tiny
    tier: smoke
    params: {batch: 1, in_channels: 2, out_channels: 2, height: 5, width: 4, kernel: 3, padding: 1}
"""


def new_folder(parent: Path, name: str = "rowsoft") -> Path:
    folder = parent / name
    scaffold.write(name, folder)
    return folder


def run_pytest(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """pytest in `folder` as a user runs it there, importing this checkout's suite."""
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder),
                           *args], cwd=folder, capture_output=True, text=True, env=environment, timeout=300)
