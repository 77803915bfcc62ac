"""Expanding ``ValueSet.compose`` against the code systems we hold.

The result is not always a closed list. A value set that takes a large external code system
whole or by filter (all of LOINC, SNOMED CT descendants of X) is *open* on that system: its
members cannot be listed here, and a code of that system can only be checked for form. An
open system may still carry code regexes from ``regex`` filters (ISO 3166 alpha-3 codes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from ehr.terminology.codesystems import CodeSystem, split_canonical

# One alternative is a tuple of regexes that must all match; the empty tuple admits any code.
Alternatives = list[tuple[str, ...]]
ANY: tuple[str, ...] = ()


@cache
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def allows(alternatives: Alternatives, code: str) -> bool:
    return any(all(_rx(r).fullmatch(code) for r in alt) for alt in alternatives)


def _merge(a: Alternatives, b: Iterable[tuple[str, ...]]) -> Alternatives:
    out = list(a)
    for alt in b:
        if alt not in out:
            out.append(alt)
    return [ANY] if ANY in out else out


@dataclass
class Expansion:
    members: dict[str, set[str]] = field(default_factory=dict)
    open: dict[str, Alternatives] = field(default_factory=dict)
    excluded: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, other: Expansion) -> None:
        """Union, for one more ``include``."""
        for system, codes in other.members.items():
            self.members.setdefault(system, set()).update(codes)
        for system in set(self.excluded) | set(other.excluded):
            mine = self.excluded.get(system, set()) if system in self.open else None
            theirs = other.excluded.get(system, set()) if system in other.open else None
            if mine is not None and theirs is not None:
                kept = mine & theirs
            else:
                kept = mine if mine is not None else theirs or set()
            self.excluded[system] = kept - self.members.get(system, set())
        for system, alts in other.open.items():
            self.open[system] = _merge(self.open.get(system, []), alts)
        self.problems.extend(other.problems)

    def subtract(self, other: Expansion) -> None:
        """Difference, for one ``exclude``."""
        for system, codes in other.members.items():
            if system in self.members:
                self.members[system] -= codes
            if system in self.open:
                self.excluded.setdefault(system, set()).update(codes)
        for system, alts in other.open.items():
            if system in self.members:
                self.members[system] = {c for c in self.members[system] if not allows(alts, c)}
            if system in self.open and alts == [ANY]:
                del self.open[system]
        self.problems.extend(other.problems)

    def intersect(self, other: Expansion) -> Expansion:
        """Intersection, for an ``include`` naming several value sets (and maybe a system)."""
        out = Expansion(problems=self.problems + other.problems)
        for system in set(self.members) | set(other.members):
            a = self.members.get(system, set())
            b = other.members.get(system, set())
            keep = a & b
            if system in other.open:
                keep |= {c for c in a if allows(other.open[system], c)}
            if system in self.open:
                keep |= {c for c in b if allows(self.open[system], c)}
            if keep:
                out.members[system] = keep
        for system in set(self.open) & set(other.open):
            alts = [
                tuple(dict.fromkeys(x + y)) for x in self.open[system] for y in other.open[system]
            ]
            out.open[system] = _merge([], alts)
            out.excluded[system] = self.excluded.get(system, set()) | other.excluded.get(
                system, set()
            )
        return out

    def drop_empty(self) -> None:
        self.members = {s: c for s, c in self.members.items() if c}
        self.excluded = {s: c for s, c in self.excluded.items() if c and s in self.open}


class Context(Protocol):
    def codesystem(self, url: str, version: str | None) -> CodeSystem | None: ...

    def valueset(self, url: str) -> Expansion | None: ...


def expand_compose(compose: dict[str, Any], ctx: Context) -> Expansion:
    result = Expansion()
    for inc in compose.get("include", []):
        result.add(_part(inc, ctx))
    for exc in compose.get("exclude", []):
        result.subtract(_part(exc, ctx))
    result.drop_empty()
    return result


def _part(inc: dict[str, Any], ctx: Context) -> Expansion:
    parts: list[Expansion] = []
    problems: list[str] = []
    for url in inc.get("valueSet", []):
        vs = ctx.valueset(url)
        if vs is None:
            problems.append(f"included value set {url} is not available")
        else:
            parts.append(vs)
    if inc.get("system"):
        parts.append(_system_part(inc, ctx))
    if not parts:
        return Expansion(problems=problems or ["include names neither a system nor a value set"])
    out = parts[0]
    for p in parts[1:]:
        out = out.intersect(p)
    if problems:
        out = Expansion(out.members, out.open, out.excluded, out.problems + problems)
    return out


def _system_part(inc: dict[str, Any], ctx: Context) -> Expansion:
    system, url_version = split_canonical(inc["system"])
    cs = ctx.codesystem(system, inc.get("version") or url_version)
    concepts = inc.get("concept")
    filters = inc.get("filter", [])
    if concepts:
        return Expansion(members={system: {c["code"] for c in concepts if "code" in c}})
    if cs is not None and cs.enumerable:
        selected = set(cs.concepts)
        for f in filters:
            chosen = cs.filter(f.get("property", ""), f.get("op", ""), str(f.get("value", "")))
            if chosen is None:
                return Expansion(
                    open={system: [ANY]},
                    problems=[
                        f"filter {f.get('property')} {f.get('op')} on {system} not supported"
                    ],
                )
            selected &= chosen
        if filters:
            # As the official R4 expansions do: a filter selects only concepts meant for use.
            selected -= cs.abstract()
        return Expansion(members={system: selected})
    # Not enumerable here: the system is open; regex filters on the code still narrow it.
    regexes = tuple(
        str(f["value"]) for f in filters if f.get("property") == "code" and f.get("op") == "regex"
    )
    known = set(cs.concepts) if cs is not None and not filters else set()
    return Expansion(members={system: known} if known else {}, open={system: [regexes]})
