"""The built terminology index, loaded once and turned into sets lazily, value set by value set.

Loading parses one JSON file (orjson); the frozensets a membership test needs are made the
first time a value set or code system is asked about, so start-up stays short and the hot path
is a dict lookup and a set lookup.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any, NamedTuple

import orjson

from ehr.terminology.forms import EXTERNAL, implicit_valueset
from ehr.terminology.paths import INDEX_FORMAT, displays_path, index_path


class TerminologyMissing(RuntimeError):
    """The index has not been built (``python -m ehr.terminology.build``) or is outdated."""


class CodeCheck(NamedTuple):
    # member | not-member | form-only-ok | form-invalid | unknown-valueset | unknown-system
    status: str
    message: str | None  # human-readable, for the OperationOutcome


MEMBER = CodeCheck("member", None)
_MISSING = object()
_CACHE_LIMIT = 100_000  # distinct value set URLs remembered (bindings are a finite set)


@lru_cache(maxsize=65_536)
def form_ok(system: str, code: str) -> bool | None:
    """Form check of a code of an external system; None when the system has none."""
    ext = EXTERNAL.get(system)
    if ext is None or ext.check is None:
        return None
    return ext.check(code)


def form_only(system: str, code: str, where: str) -> CodeCheck:
    """The result for a code of a system we cannot enumerate: form-only-ok, -invalid, unknown."""
    ok = form_ok(system, code)
    if ok is None:
        return CodeCheck(
            "unknown-system",
            f"code system {system} is not available here and has no form check; "
            f"'{code}' could not be checked{where}",
        )
    ext = EXTERNAL[system]
    if not ok:
        return CodeCheck("form-invalid", f"'{code}' is not a valid {ext.name} code")
    why = "too large to ship with the server" if ext.large else "not available on this server"
    return CodeCheck(
        "form-only-ok",
        f"{ext.name} code '{code}' is well formed; only its form was checked, as {ext.name} is "
        f"{why} (whether it exists{where} was not verified)",
    )


class ValueSet:
    """Membership of one value set edition, ready for checks."""

    __slots__ = (
        "key",
        "how",
        "members",
        "ci",
        "codes",
        "codes_ci",
        "open",
        "excluded",
        "reason",
        "partial",
        "whole",
    )

    def __init__(self, key: str, raw: dict[str, Any], idx: Index) -> None:
        self.key = key
        self.how: str = raw["how"]
        self.reason: str | None = raw.get("reason")
        self.partial: bool = raw.get("partial", False)
        members: dict[str, frozenset[str]] = {}
        for system, codes in raw["m"].items():
            members[system] = idx.codes(system) if codes == "*" else frozenset(codes)
        self.members = members
        self.ci = {s: frozenset(c.lower() for c in m) for s, m in members.items() if idx.ci(s)}
        self.codes = frozenset().union(*members.values())
        self.codes_ci = frozenset().union(*self.ci.values())
        self.open: dict[str, tuple[tuple[re.Pattern[str], ...], ...] | None] = {
            s: None if alts is None else tuple(tuple(map(re.compile, a)) for a in alts)
            for s, alts in raw.get("o", {}).items()
        }
        self.excluded = {s: frozenset(c) for s, c in raw.get("x", {}).items()}
        # open systems taken whole (any code of them is a member), not by a filter
        self.whole: frozenset[str] = frozenset(raw.get("w", ()))

    def check(self, system: str | None, code: str) -> CodeCheck:
        if system is None:
            if code in self.codes or (self.codes_ci and code.lower() in self.codes_ci):
                return MEMBER
            return self._open_plain(code)
        codes = self.members.get(system)
        if codes is not None and code in codes:
            return MEMBER
        ci = self.ci.get(system)
        if ci is not None and code.lower() in ci:
            return MEMBER
        alts = self.open.get(system, _MISSING)
        if alts is _MISSING or code in self.excluded.get(system, ()):
            return self._not_member(system, code)
        if alts and not any(all(rx.fullmatch(code) for rx in alt) for alt in alts):
            return self._not_member(system, code)
        return form_only(system, code, f" in value set {self.key.rstrip('|')}")

    def _open_plain(self, code: str) -> CodeCheck:
        """A plain ``code`` bound to a value set open on some system: check its form there."""
        results = [self.check(system, code) for system in self.open]
        for status in ("form-only-ok", "unknown-system", "form-invalid"):
            for r in results:
                if r.status == status:
                    return r
        return self._not_member(None, code)

    def _not_member(self, system: str | None, code: str) -> CodeCheck:
        what = f"{system}#{code}" if system else f"'{code}'"
        if self.partial:
            return CodeCheck(
                "unknown-valueset",
                f"value set {self.key.rstrip('|')} could only be partly resolved ({self.reason}); "
                f"code {what} is not among the members we know",
            )
        msg = f"code {what} is not in the value set {self.key.rstrip('|')}"
        if system is not None and system not in self.members and system not in self.open:
            used = ", ".join(sorted(set(self.members) | set(self.open))) or "none"
            msg += f" (which uses no codes of that system; systems it uses: {used})"
        return CodeCheck("not-member", msg)


def _implicit(url: str) -> ValueSet | None:
    found = implicit_valueset(url)
    if found is None:
        return None
    system, regexes = found
    reason = f"defined by the {system} URL scheme; only the form of its codes can be checked"
    open_ = {system: [list(regexes)] if regexes else None}
    raw = {"how": "form-only", "via": "implicit", "m": {}, "o": open_, "reason": reason}
    return ValueSet(url, raw, _EMPTY)


class Index:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw_vs: dict[str, Any] = raw["valuesets"]
        self.defaults: dict[str, str] = raw["vs_default"]
        self.raw_cs: dict[str, Any] = raw["codesystems"]
        self.vs_cache: dict[str, ValueSet | None] = {}
        self.cs_cache: dict[str, frozenset[str]] = {}
        self.cs_ci_cache: dict[str, frozenset[str]] = {}

    def key_for(self, url: str) -> str | None:
        """``url|version`` if we hold that edition, else the default edition of ``url``."""
        if url in self.raw_vs:
            return url
        base, _, version = url.partition("|")
        if version and f"{base}|{version}" in self.raw_vs:
            return f"{base}|{version}"
        return self.defaults.get(base)

    def valueset(self, url: str) -> ValueSet | None:
        vs = self.vs_cache.get(url, _MISSING)
        if vs is not _MISSING:
            return vs  # type: ignore[return-value]
        key = self.key_for(url)
        vs = ValueSet(key, self.raw_vs[key], self) if key else _implicit(url)
        if len(self.vs_cache) < _CACHE_LIMIT:
            self.vs_cache[url] = vs
        return vs

    def codes(self, system: str) -> frozenset[str]:
        codes = self.cs_cache.get(system)
        if codes is None:
            entry = self.raw_cs.get(system)
            codes = self.cs_cache[system] = frozenset(entry["codes"] if entry else ())
        return codes

    def codes_ci(self, system: str) -> frozenset[str]:
        codes = self.cs_ci_cache.get(system)
        if codes is None:
            codes = self.cs_ci_cache[system] = frozenset(c.lower() for c in self.codes(system))
        return codes

    def ci(self, system: str) -> bool:
        """Case-insensitive systems: as the CodeSystem says, or as the external standard says."""
        entry = self.raw_cs.get(system)
        if entry is not None and entry["content"] != "not-present":
            return not entry["caseSensitive"]
        ext = EXTERNAL.get(system)
        return ext is not None and not ext.case_sensitive


_EMPTY = Index({"valuesets": {}, "vs_default": {}, "codesystems": {}})


@cache
def index() -> Index:
    path = index_path()
    if not path.exists():
        raise TerminologyMissing(
            f"terminology index not found at {path}; run `python -m ehr.terminology.build`"
        )
    raw = orjson.loads(path.read_bytes())
    if raw.get("format") != INDEX_FORMAT:
        raise TerminologyMissing(
            f"terminology index at {path} is of format {raw.get('format')}, expected "
            f"{INDEX_FORMAT}; run `python -m ehr.terminology.build`"
        )
    return Index(raw)


@cache
def displays() -> dict[str, dict[str, str]]:
    path = displays_path()
    return orjson.loads(path.read_bytes()) if path.exists() else {}
