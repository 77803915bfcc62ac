"""Where the shared folder of public samples (``shared/corpus``) lies, for tests and benchmarks.

It sits beside the project's checkout. A clone made elsewhere (``git clone . /tmp/x``, as a
clean-clone check does) finds it beside the checkout it was cloned from, through the clone's
``origin``; ``EHR_SHARED_DIR`` names it outright. Tests that need a sample fail when it is
missing, naming the path: they are never skipped for it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    """The local checkout this one was cloned from, if it was."""
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, timeout=5, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    url = url.removeprefix("file://")
    return Path(url) if url.startswith("/") and Path(url).is_dir() else None


def shared_dir() -> Path:
    if os.environ.get("EHR_SHARED_DIR"):
        return Path(os.environ["EHR_SHARED_DIR"])
    beside = ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    origin = _origin_checkout()
    if origin is not None and (origin.parent / "shared").is_dir():
        return origin.parent / "shared"
    return beside


CORPUS = shared_dir() / "corpus"
