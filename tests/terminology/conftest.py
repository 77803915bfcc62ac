"""Make sure the terminology index exists and is current before any test asks it a question.

Building fetches two npm packages once (then works offline from var/) and takes about a
second; a lock keeps parallel workers (pytest -n) from building at the same time.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import orjson
import pytest

import ehr.terminology
from ehr.terminology import index as term_index
from ehr.terminology.paths import INDEX_FORMAT, index_path


def _stale(path: Path) -> bool:
    if not path.exists():
        return True
    if orjson.loads(path.read_bytes()).get("format") != INDEX_FORMAT:
        return True
    sources = Path(ehr.terminology.__file__).parent.glob("*.py")
    return any(src.stat().st_mtime > path.stat().st_mtime for src in sources)


@pytest.fixture(scope="session", autouse=True)
def terminology_index() -> Path:
    path = index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".terminology-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _stale(path):
            from ehr.terminology import build

            build.main()
            term_index.index.cache_clear()
            term_index.displays.cache_clear()
    return path
