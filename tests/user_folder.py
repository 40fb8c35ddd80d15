"""A user's folder as `suite new` leaves it (the softmax example under another name), for the tests
of a user's own kernel family; and pytest run on such a folder in a child process."""

import os
import subprocess
import sys
from pathlib import Path

from suite import REPO_ROOT, scaffold


def new_folder(parent: Path, name: str = "rowsoft") -> Path:
    folder = parent / name
    scaffold.write(name, folder)
    return folder


def run_pytest(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """pytest in `folder` as a user runs it there, importing this checkout's suite."""
    environment = dict(os.environ, PYTHONPATH=str(REPO_ROOT), **(env or {}))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder),
                           *args], cwd=folder, capture_output=True, text=True, env=environment, timeout=300)
