"""Fetch and verify the terminology packages (npm registry, CC0) before anything reads them.

Same pattern as ``ehr.fhir.definitions.build``: ``npm pack`` one pinned version, check the
sha512 integrity the registry published for it, then unpack. Only the ValueSet and CodeSystem
resources are unpacked; the rest of the packages is of no use to the terminology layer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import NamedTuple

from ehr.fhir.definitions import build as definitions_build
from ehr.fhir.definitions.paths import definitions_dir


class Package(NamedTuple):
    name: str
    version: str
    integrity: str  # sha512, base64, as published by the npm registry for this version

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def folder(self) -> Path:
        return definitions_dir() / f"{self.name}-{self.version}"


EXPANSIONS = Package(
    "hl7.fhir.r4.expansions",
    "4.0.1",
    "sha512-E0LjAGKIEla9XdM98cOzE8fv+syczVSzzqjE/29rhK1jK52kSByzSM+dQuQM0j4BiBIpMwZydQnKHV11rV5IlQ==",
)
THO = Package(
    "hl7.terminology.r4",
    "7.0.1",
    "sha512-UamZUcARk/TEaJb7X0hDyANmC7bCv0Jof0u0uGIOB2O9VQX0uV45Vf4EyONHM6Sejv6q7sXEAzKAQsgw1Cld3A==",
)
CORE = Package(definitions_build.PACKAGE, definitions_build.VERSION, definitions_build.INTEGRITY)


def _wanted(member: tarfile.TarInfo) -> bool:
    name = member.name
    if not member.isfile() or not name.startswith("package/") or name.count("/") != 1:
        return False
    base = name[len("package/") :]
    return base == "package.json" or (
        base.startswith(("ValueSet-", "CodeSystem-")) and base.endswith(".json")
    )


def fetch(pkg: Package) -> Path:
    """Download (once), verify and unpack ``pkg``; return the folder holding its resources."""
    if pkg == CORE:
        return definitions_build.fetch_package()
    root = definitions_dir()
    root.mkdir(parents=True, exist_ok=True)
    tgz = root / f"{pkg.name}-{pkg.version}.tgz"
    target = pkg.folder()
    if not tgz.exists():
        print(f"fetching {pkg.spec} with npm pack ...", file=sys.stderr)
        subprocess.run(
            ["npm", "pack", pkg.spec, "--silent", "--pack-destination", str(root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    actual = definitions_build._sha512_integrity(tgz)
    if actual != pkg.integrity:
        tgz.unlink()
        raise SystemExit(
            f"checksum mismatch for {tgz.name}: got {actual}, expected {pkg.integrity}"
        )
    marker = target / ".integrity"
    if not marker.exists() or marker.read_text() != pkg.integrity:
        if target.exists():
            shutil.rmtree(target)
        tmp = root / f"{pkg.name}.unpack.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, members=[m for m in tar if _wanted(m)], filter="data")
        (tmp / "package").rename(target)
        shutil.rmtree(tmp)
        marker.write_text(pkg.integrity)
    return target
