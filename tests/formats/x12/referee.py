"""The outside referee for 270/271: linuxforhealth-x12, in a virtualenv of its own.

linuxforhealth-x12 0.57.0 needs pydantic<2, which cannot live beside our dependencies, so it
gets a separate virtualenv under ``var/x12-referee/``, created once (it needs PyPI) from the
exact pins in ``referee-constraints.txt``. A file lock makes two test processes that start
together wait for one creation instead of racing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ehr.fhir.definitions.paths import var_dir

CONSTRAINTS = Path(__file__).with_name("referee-constraints.txt")
PACKAGES = ("linuxforhealth-x12", "pydantic")

# Runs inside the referee's virtualenv: one JSON line per file, {"ok": bool, "message": str}.
_SCRIPT = r"""
import json, sys
from linuxforhealth.x12.io import X12ModelReader
for path in sys.argv[1:]:
    try:
        with X12ModelReader(path) as reader:
            models = list(reader.models())
        if not models:
            raise ValueError("no transaction sets read")
        names = ", ".join(type(m).__module__.rsplit(".", 2)[-2] for m in models)
        print(json.dumps({"ok": True, "message": f"{len(models)} transaction set(s): {names}"}))
    except Exception as exc:
        text = " ".join(str(exc).split())
        print(json.dumps({"ok": False, "message": f"{type(exc).__name__}: {text}"}))
"""


def _home() -> Path:
    return var_dir() / "x12-referee"


def _python(home: Path) -> Path:
    return home / "venv" / "bin" / "python"


def referee_python() -> Path:
    """The referee's interpreter, creating its virtualenv first if needed."""
    home = _home()
    home.mkdir(parents=True, exist_ok=True)
    want = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()
    stamp = home / "installed.sha256"
    with open(home / "create.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if stamp.exists() and stamp.read_text() == want and _python(home).exists():
            return _python(home)
        shutil.rmtree(home / "venv", ignore_errors=True)
        stamp.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
        subprocess.run(
            [str(_python(home)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-c", str(CONSTRAINTS), *PACKAGES],
            check=True,
        )  # fmt: skip
        stamp.write_text(want)
    return _python(home)


def referee_parse_many(texts: list[str]) -> list[tuple[bool, str]]:
    """Run the referee over several interchanges in one process (imports cost ~1 s)."""
    python = referee_python()
    with tempfile.TemporaryDirectory(prefix="x12-referee-") as tmp:
        paths = []
        for n, text in enumerate(texts):
            path = Path(tmp) / f"{n}.x12"
            path.write_text(text)
            paths.append(str(path))
        done = subprocess.run(
            [str(python), "-c", _SCRIPT, *paths],
            capture_output=True,
            text=True,
            timeout=300,
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(lines) != len(texts):
        raise RuntimeError(f"The X12 referee did not run: {done.stderr[-2000:]}")
    return [(item["ok"], item["message"]) for item in map(json.loads, lines)]


def referee_parse(text: str) -> tuple[bool, str]:
    """(accepted, message) from linuxforhealth-x12's ``X12ModelReader(path).models()``."""
    return referee_parse_many([text])[0]
