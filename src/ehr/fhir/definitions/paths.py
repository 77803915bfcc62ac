"""Where the fetched package and the generated index live (``EHR_VAR_DIR``, default ./var)."""

from __future__ import annotations

import os
from pathlib import Path


def var_dir() -> Path:
    env = os.environ.get("EHR_VAR_DIR")
    if env:
        return Path(env).resolve()
    return (Path(__file__).resolve().parents[4] / "var") if _in_checkout() else Path.cwd() / "var"


def _in_checkout() -> bool:
    return (Path(__file__).resolve().parents[4] / "pyproject.toml").exists()


def definitions_dir() -> Path:
    return var_dir() / "definitions"


def package_dir() -> Path:
    return definitions_dir() / "hl7.fhir.r4.examples-4.0.1"


def index_path() -> Path:
    return definitions_dir() / "r4-index.json"
