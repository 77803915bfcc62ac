"""Build the terminology index from the official packages: ``python -m ehr.terminology.build``.

Fetches and verifies the packages (``fetch``), resolves every value set (``resolve``) and
writes three files beside the FHIR definitions index: the index the runtime loads, the
displays (loaded only when asked for) and a report of how each value set was resolved.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ehr.terminology import fetch
from ehr.terminology.codesystems import split_canonical
from ehr.terminology.expansion import ANY, expand_compose
from ehr.terminology.paths import INDEX_FORMAT, displays_path, index_path, report_path
from ehr.terminology.resolve import SOURCES, Builder, Resolved, expansion_items

# --- writing the index ------------------------------------------------------------------------


def _whole_systems(valueset: dict[str, Any]) -> set[str]:
    """Code systems the value set takes whole: included with no concept list, no filter and no
    value set to intersect with, and never excluded. Search (``:in``) matches any code of such
    a system, and refuses a value set open on a system it takes by a filter instead."""
    compose = valueset.get("compose") or {}
    whole = set()
    for inc in compose.get("include") or []:
        if inc.get("system") and not (
            inc.get("concept") or inc.get("filter") or inc.get("valueSet")
        ):
            whole.add(split_canonical(inc["system"])[0])
    for exc in compose.get("exclude") or []:
        whole.discard(split_canonical(exc.get("system", ""))[0])
    return whole


def _vs_entry(r: Resolved, full: dict[str, set[str]]) -> dict[str, Any]:
    exp = r.expansion
    members: dict[str, Any] = {}
    for system, codes in sorted(exp.members.items()):
        members[system] = "*" if full.get(system) == codes else sorted(codes)
    entry: dict[str, Any] = {"how": r.category, "via": r.via, "m": members}
    if exp.open:
        entry["o"] = {
            s: (None if alts == [ANY] else [list(a) for a in alts]) for s, alts in exp.open.items()
        }
    if exp.excluded:
        entry["x"] = {s: sorted(c) for s, c in exp.excluded.items()}
    whole = sorted(s for s in _whole_systems(r.edition.resource) if s in exp.open)
    if whole:
        entry["w"] = whole
    if r.reason:
        entry["reason"] = r.reason
    if exp.problems and r.via != "expansion":
        entry["partial"] = True  # parts of the definition are missing: non-members are unknown
    return entry


def build(builder: Builder) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    resolved = builder.resolve_all()
    defaults = builder.default_codesystems()
    full = {url: set(cs.concepts) for url, cs in defaults.items() if cs.enumerable}
    valuesets = {r.edition.key: _vs_entry(r, full) for r in resolved}
    vs_default = {url: eds[-1].key for url, eds in builder.valuesets.items()}
    codesystems = {
        url: {
            "version": cs.version,
            "content": cs.content,
            "caseSensitive": cs.case_sensitive,
            "source": cs.source,
            "codes": sorted(cs.concepts),
        }
        for url, cs in sorted(defaults.items())
    }
    index = {
        "format": INDEX_FORMAT,
        "packages": {pkg.spec: pkg.integrity for pkg in (fetch.CORE, fetch.THO, fetch.EXPANSIONS)},
        "valuesets": valuesets,
        "vs_default": vs_default,
        "codesystems": codesystems,
    }
    displays: dict[str, dict[str, str]] = {}
    for url, cs in defaults.items():
        for code, concept in cs.concepts.items():
            if concept.display:
                displays.setdefault(url, {})[code] = concept.display
    for exp in builder.expansions.values():
        for item in expansion_items(exp):
            if item.get("display"):
                displays.setdefault(item["system"], {}).setdefault(item["code"], item["display"])
    for eds in builder.valuesets.values():
        for ed in eds:
            for inc in ed.resource.get("compose", {}).get("include", []):
                system = split_canonical(inc.get("system") or "")[0]
                for c in inc.get("concept", []):
                    if system and c.get("code") and c.get("display"):
                        displays.setdefault(system, {}).setdefault(c["code"], c["display"])
    report = _report(builder, resolved)
    return index, displays, report


def _report(builder: Builder, resolved: list[Resolved]) -> dict[str, Any]:
    by_category = Counter(r.category for r in resolved)
    default_keys = {eds[-1].key for eds in builder.valuesets.values()}
    by_category_default = Counter(r.category for r in resolved if r.edition.key in default_keys)
    mismatches = []
    for r in resolved:
        official = builder.official_members(r.edition)
        compose = r.edition.resource.get("compose")
        if official is None or not compose or r.via != "expansion":
            continue
        computed = expand_compose(compose, builder.context(r.edition.source))
        if computed.problems or computed.open:
            continue
        a = {(s, c) for s, cs in official.items() for c in cs}
        b = {(s, c) for s, cs in computed.members.items() for c in cs}
        if a != b:
            mismatches.append(
                {
                    "valueset": r.edition.key,
                    "only_in_official": sorted("|".join(x) for x in a - b)[:10],
                    "only_in_computed": sorted("|".join(x) for x in b - a)[:10],
                }
            )
    return {
        "editions": len(resolved),
        "urls": len(builder.valuesets),
        "by_category": dict(by_category),
        "by_category_default_editions": dict(by_category_default),
        "official_vs_computed_mismatches": mismatches,
        "valuesets": {
            r.edition.key: {
                "source": r.edition.source,
                "how": r.category,
                "via": r.via,
                **({"reason": r.reason} if r.reason else {}),
            }
            for r in resolved
        },
    }


def _write(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def main() -> None:
    started = time.perf_counter()
    folders = {source: fetch.fetch(pkg) for source, pkg in SOURCES}
    builder = Builder(folders, fetch.fetch(fetch.EXPANSIONS))
    index, displays, report = build(builder)
    _write(displays_path(), displays)
    _write(report_path(), report)
    _write(index_path(), index)
    print(
        f"terminology: {report['urls']} value set URLs in {report['editions']} editions "
        f"{report['by_category']}, {len(index['codesystems'])} code systems -> {index_path()} "
        f"({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
