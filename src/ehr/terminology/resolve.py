"""Resolving every value set edition to members (plus open systems), one way or another.

Sources, in order of precedence for a canonical URL given without a version: HL7 Terminology
7.0.1 (newest edition of the terminology.hl7.org code systems and value sets), then the R4
core package (4.0.1). Every edition stays reachable as ``url|version``. For each value set
edition the official expansion (R4 expansions package) is preferred; otherwise ``compose`` is
expanded against the code systems we hold. What depends on a code system we cannot ship is
left open on that system, to be checked for form only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ehr.terminology import fetch
from ehr.terminology.codesystems import CodeSystem, from_resource, split_canonical
from ehr.terminology.expansion import Expansion, expand_compose
from ehr.terminology.forms import EXTERNAL, implicit_valueset

# Highest precedence last: the default edition of a URL is the one from the latest source.
SOURCES = (("r4", fetch.CORE), ("tho", fetch.THO))


@dataclass
class Edition:
    url: str
    version: str | None
    source: str
    resource: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.url}|{self.version or ''}"


@dataclass
class Resolved:
    edition: Edition
    via: str  # "expansion" | "compose" | "implicit" | "none"
    category: str  # "expansion" | "computed" | "form-only" | "unresolved"
    expansion: Expansion
    reason: str | None = None


def _read(folder: Path, prefix: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob(f"{prefix}-*.json")):
        res = json.loads(path.read_text(encoding="utf-8"))
        if res.get("resourceType") == prefix and res.get("url"):
            out.append(res)
    return out


def expansion_items(expansion: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stack = list(expansion.get("contains", []))
    while stack:
        item = stack.pop()
        if item.get("code") and item.get("system"):
            out.append(item)
        stack.extend(item.get("contains", []))
    return out


class Builder:
    """Holds every edition and resolves value sets on demand (memoised, cycle-safe)."""

    def __init__(self, folders: dict[str, Path], expansions_dir: Path) -> None:
        self.codesystems: dict[str, list[CodeSystem]] = {}
        self.valuesets: dict[str, list[Edition]] = {}
        for source, _pkg in SOURCES:
            for res in _read(folders[source], "CodeSystem"):
                if res.get("content") == "supplement":
                    continue
                cs = from_resource(res, source)
                self.codesystems.setdefault(cs.url, []).append(cs)
            for res in _read(folders[source], "ValueSet"):
                url, url_version = split_canonical(res["url"])
                ed = Edition(url, res.get("version") or url_version, source, res)
                self.valuesets.setdefault(url, []).append(ed)
        self._add_implicit_valuesets()
        self.expansions: dict[tuple[str, str | None], dict[str, Any]] = {}
        for res in _read(expansions_dir, "ValueSet"):
            if expansion_items(res.get("expansion", {})):
                self.expansions[(res["url"], res.get("version"))] = res["expansion"]
        for ed in (e for eds in self.valuesets.values() for e in eds if e.source == "r4"):
            # A few R4 value sets carry their expansion inline (yesnodontknow...).
            if expansion_items(ed.resource.get("expansion", {})):
                self.expansions.setdefault((ed.url, ed.version), ed.resource["expansion"])
        self.resolved: dict[str, Resolved] = {}
        self._busy: set[str] = set()

    def _add_implicit_valuesets(self) -> None:
        """A CodeSystem's ``valueSet`` ("all codes") URL resolves even without a resource."""
        for editions in self.codesystems.values():
            cs = editions[-1]
            url = cs.valueset_url and split_canonical(cs.valueset_url)[0]
            if url and url not in self.valuesets and implicit_valueset(url) is None:
                resource = {"url": url, "compose": {"include": [{"system": cs.url}]}}
                self.valuesets[url] = [Edition(url, cs.version, "implicit", resource)]

    # --- lookups ---------------------------------------------------------------------------

    def codesystem(
        self, url: str, version: str | None, source: str | None = None
    ) -> CodeSystem | None:
        """The edition named by ``version``, else the one from ``source``, else the newest."""
        return _pick(self.codesystems.get(url), version, source)

    def edition(self, url: str, source: str | None = None) -> Edition | None:
        base, version = split_canonical(url)
        return _pick(self.valuesets.get(base), version, source)

    def valueset(self, url: str, source: str | None = None) -> Expansion | None:
        ed = self.edition(url, source)
        if ed is not None:
            return self.resolve(ed).expansion
        implicit = implicit_valueset(url)
        if implicit is not None:
            system, regexes = implicit
            return Expansion(open={system: [regexes]})
        return None

    def context(self, source: str) -> _SourceContext:
        return _SourceContext(self, source)

    # --- resolution ------------------------------------------------------------------------

    def resolve(self, ed: Edition) -> Resolved:
        done = self.resolved.get(ed.key)
        if done is not None:
            return done
        if ed.key in self._busy:
            return Resolved(ed, "none", "unresolved", Expansion(problems=["circular include"]))
        self._busy.add(ed.key)
        try:
            result = self._resolve(ed)
        finally:
            self._busy.discard(ed.key)
        self.resolved[ed.key] = result
        return result

    def _official(self, ed: Edition) -> dict[str, Any] | None:
        if ed.source != "r4":
            return None  # the expansions package expands the R4 editions only
        return self.expansions.get((ed.url, ed.version))

    def _resolve(self, ed: Edition) -> Resolved:
        compose = ed.resource.get("compose")
        computed = expand_compose(compose, self.context(ed.source)) if compose else None
        official = self.official_members(ed)
        if official is not None:
            return self._from_official(ed, official, computed)
        if computed is not None:
            return Resolved(ed, "compose", *_category(computed, "compose"))
        return Resolved(ed, "none", "unresolved", Expansion(), "no compose and no expansion")

    def official_members(self, ed: Edition) -> dict[str, set[str]] | None:
        official = self._official(ed)
        if official is None:
            return None
        members: dict[str, set[str]] = {}
        for item in expansion_items(official):
            members.setdefault(split_canonical(item["system"])[0], set()).add(item["code"])
        return members

    def _from_official(
        self, ed: Edition, official: dict[str, set[str]], computed: Expansion | None
    ) -> Resolved:
        closed = computed is not None and not computed.open and not computed.problems
        if closed and _truncated(official, computed):
            # The publisher cut expansions at 1000 codes; the full list is computable.
            category, exp, _ = _category(computed, "compose")
            reason = "official expansion stops at 1000 codes; computed from compose"
            return Resolved(ed, "compose", category, exp, reason)
        exp = Expansion(
            members={s: set(c) for s, c in official.items()},
            open=dict(computed.open) if computed else {},
            excluded=dict(computed.excluded) if computed else {},
        )
        for system in list(exp.open):
            has_form = EXTERNAL.get(system) is not None and EXTERNAL[system].check
            if not has_form and official.get(system) and len(official[system]) % 1000:
                # The publisher held this system's content and listed it in full (not cut at
                # 1000); with no form check to fall back on, the list is the best answer.
                del exp.open[system]
        reason = None
        if closed:
            added = self._usable_extras(official, computed, ed.source)
            for system, codes in added.items():
                exp.members.setdefault(system, set()).update(codes)
            if added:
                count = sum(len(c) for c in added.values())
                sample = ", ".join(sorted(c for cs in added.values() for c in cs)[:5])
                reason = (
                    f"official expansion plus {count} usable codes its compose admits: {sample}"
                )
        category, exp, why = _category(exp, "expansion")
        return Resolved(ed, "expansion", category, exp, reason or why)

    def _usable_extras(
        self, official: dict[str, set[str]], computed: Expansion, source: str
    ) -> dict[str, set[str]]:
        """Codes the compose selects that the 2019 expansion lacks, where the code system says
        they are active and selectable: the publisher missed them (second parents of v3
        concepts, a whole included value set in security-labels)."""
        out: dict[str, set[str]] = {}
        for system, codes in computed.members.items():
            extra = codes - official.get(system, set())
            cs = self.codesystem(system, None, source)
            if cs is not None:
                extra = {c for c in extra if c in cs.concepts and cs.concepts[c].usable}
            if extra:
                out[system] = extra
        return out

    def resolve_all(self) -> list[Resolved]:
        return [self.resolve(ed) for eds in self.valuesets.values() for ed in eds]

    def default_codesystems(self) -> dict[str, CodeSystem]:
        return {url: eds[-1] for url, eds in self.codesystems.items()}


def _truncated(official: dict[str, set[str]], computed: Expansion) -> bool:
    if computed.open or computed.problems:
        return False
    count = sum(len(c) for c in official.values())
    if count == 0 or count % 1000:
        return False
    return all(codes <= computed.members.get(s, set()) for s, codes in official.items()) and (
        sum(len(c) for c in computed.members.values()) > count
    )


class _SourceContext:
    """Expansion context of one edition: unversioned references stay within its own package
    where it can, so an R4 value set is expanded against the R4 code systems it was published
    with (as the official R4 expansions were), a THO one against THO."""

    def __init__(self, builder: Builder, source: str) -> None:
        self.builder = builder
        self.source = source

    def codesystem(self, url: str, version: str | None) -> CodeSystem | None:
        return self.builder.codesystem(url, version, self.source)

    def valueset(self, url: str) -> Expansion | None:
        return self.builder.valueset(url, self.source)


def _pick(editions: list[Any] | None, version: str | None, source: str | None) -> Any:
    if not editions:
        return None
    if version:
        for e in editions:
            if e.version == version:
                return e
    if source:
        for e in editions:
            if e.source == source:
                return e
    return editions[-1]


def _category(exp: Expansion, via: str) -> tuple[str, Expansion, str | None]:
    if exp.problems and via != "expansion":
        return "unresolved", exp, "; ".join(dict.fromkeys(exp.problems))
    if exp.open:
        lacking = [s for s in sorted(exp.open) if not (EXTERNAL.get(s) and EXTERNAL[s].check)]
        if lacking:
            return "unresolved", exp, "no content and no form check for " + ", ".join(lacking)
        names = ", ".join(EXTERNAL[s].name for s in sorted(exp.open))
        return "form-only", exp, f"draws on {names}: codes not listed are checked for form only"
    return ("expansion" if via == "expansion" else "computed"), exp, None
