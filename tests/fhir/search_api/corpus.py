"""Loading the search test corpus once per module, and the oracle's view of it.

The Synthea bundles go in as transactions and the official R4 examples (the ones that are not
definitions, minus those known to be invalid) with PUT so their ids stay. The data is committed
into the test database (not rolled back per test) and wiped when the module ends.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection
from django.test import Client

from ehr.fhir import definitions
from ehr.fhir.definitions.paths import package_dir
from ehr.fhir.storage.db import refresh_statistics
from tests.conftest import SYNTHEA, Fhir, mint_token
from tests.fhir.examples import example_names
from tests.fhir.known_invalid import KNOWN_INVALID
from tests.fhir.search_api import oracle as O

BASE = "http://testserver/fhir/"


# Bundles of the package that only wrap its definitions (StructureDefinition, ValueSet,
# CodeSystem, SearchParameter, NamingSystem...): conformance content, like the files above.
DEFINITION_BUNDLES = frozenset(
    f"Bundle-{n}.json"
    for n in (
        "conceptmaps", "extensions", "externals", "profiles-others", "registry", "resources",
        "searchParams", "terminologies", "types", "v2-valuesets", "v3-valuesets",
        "valueset-expansions", "valuesets",
    )
)  # fmt: skip


def example_files() -> list[Path]:
    """The package's non-conformance examples, minus those known to break the specification.

    AuditEvent examples are left out: /fhir/AuditEvent is the server's own read-only audit
    trail, so other systems' AuditEvents cannot be written or searched through the API.
    """
    return [
        package_dir() / n
        for n in example_names()
        if n not in KNOWN_INVALID
        and n not in DEFINITION_BUNDLES
        and not n.startswith("AuditEvent-")
    ]


def is_test_database() -> bool:
    """Django points the connection at ``test...`` databases (``test.sqlite3``, ``test_ehr``)."""
    return os.path.basename(str(connection.settings_dict["NAME"])).startswith("test")


@contextmanager
def test_database():
    """The test database, set up here if no collected test asked pytest-django for one.

    pytest-django creates test databases only for tests that request ``db`` (or a
    ``django_db`` mark); these modules use neither (their data is committed once per module),
    so when they run alone the connection would still point at the real database.
    """
    if is_test_database():
        yield
        return
    from django.test.utils import setup_databases, teardown_databases

    cfg = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        assert is_test_database(), connection.settings_dict["NAME"]
        yield
    finally:
        teardown_databases(cfg, verbosity=0)


def fhir_tables() -> list[str]:
    return [t for t in connection.introspection.table_names() if t.startswith("fhir_")]


def wipe() -> None:
    """Remove every stored resource (index tables first, then resources)."""
    assert is_test_database(), f"refusing to wipe {connection.settings_dict['NAME']}"
    tables = fhir_tables()
    order = [t for t in tables if t != "fhir_resource"] + (
        ["fhir_resource"] if "fhir_resource" in tables else []
    )
    with connection.cursor() as cur:
        for t in order:
            cur.execute(f"DELETE FROM {t}")


def load(fhir: Fhir) -> dict[tuple[str, str], str]:
    """Loads the corpus through the API; returns (type, server id) -> a key stable across runs."""
    stable: dict[tuple[str, str], str] = {}
    for path in sorted(SYNTHEA.glob("*.json")):
        bundle = json.loads(path.read_bytes())
        resp = fhir.post("", path.read_bytes())
        assert resp.status == 200, (path.name, resp.body[:500])
        for sent, got in zip(bundle["entry"], resp.json()["entry"], strict=True):
            loc = got["response"]["location"].split("/fhir/", 1)[-1].split("/_history")[0]
            rtype, rid = loc.split("/")
            assert rtype == sent["resource"]["resourceType"]
            stable[(rtype, rid)] = f"synthea:{path.stem}:{sent['resource'].get('id')}"
    for path in example_files():
        raw = path.read_bytes()
        res = json.loads(raw)
        rtype, rid = res["resourceType"], res["id"]
        resp = fhir.put(f"{rtype}/{rid}", raw)
        assert resp.status in (200, 201), (path.name, resp.body[:500])
        stable[(rtype, rid)] = f"example:{rtype}/{rid}"
    # As `ehr import` does after a bulk load: without fresh statistics PostgreSQL may plan the
    # chained searches for the near-empty tables it last analysed (minutes instead of ms).
    refresh_statistics()
    return stable


def snapshot() -> list[tuple[str, str, str]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT resource_type, fhir_id, content FROM fhir_resource WHERE deleted = %s",
            [False],
        )
        return list(cur.fetchall())


# ------------------------------------------------------------------ API helpers


def path_of(url: str) -> str:
    return url.split("/fhir/", 1)[1] if "/fhir/" in url else url.split("/fhir", 1)[1]


def search(
    fhir: Fhir,
    path: str,
    params: list[tuple[str, str]],
    *,
    count: int = 1000,
    headers: dict | None = None,
) -> tuple[list[tuple[str, str]], list[dict]]:
    """All matches of a search (following ``next`` links) and the Bundles of its pages."""
    qs = urlencode([*params, ("_count", str(count))])
    url: str | None = f"{path}?{qs}"
    matches: list[tuple[str, str]] = []
    pages: list[dict] = []
    while url:
        resp = fhir.get(url, headers=headers)
        assert resp.status == 200, (url, resp.status, resp.body[:800])
        bundle = resp.json()
        pages.append(bundle)
        for e in bundle.get("entry", []):
            if e.get("search", {}).get("mode", "match") == "match":
                res = e["resource"]
                matches.append((res["resourceType"], res["id"]))
        nxt = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        url = path_of(nxt[0]) if nxt else None
        assert len(pages) < 100, "too many pages"
    return matches, pages


# ------------------------------------------------------------------ the oracle over the corpus


def split_or(value: str) -> list[str]:
    parts, cur, esc = [], "", False
    for ch in value:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p]


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")


_TAG = re.compile(r"<[^>]*>")


class Corpus:
    def __init__(self, rows: list[tuple[str, str, str]], stable: dict[tuple[str, str], str]):
        self.res: dict[str, dict[str, dict]] = defaultdict(dict)
        for rtype, rid, content in rows:
            self.res[rtype][rid] = json.loads(content)
        self.stable = stable
        self._values: dict = {}
        self._match: dict = {}
        self._texts: dict = {}

    # ---------------------------------------------------------------- basics

    def ids(self, rtype: str) -> set[str]:
        return set(self.res.get(rtype, {}))

    def order(self, rtype: str, ids) -> list[str]:
        return sorted(ids, key=lambda i: self.stable.get((rtype, i), f"zz:{i}"))

    def values(self, rtype: str, param: str) -> dict[str, list[tuple[str, object]]]:
        """Resource id -> the param's values (only resources that have some)."""
        key = (rtype, param)
        if key not in self._values:
            expr = O.expression_of(rtype, param)
            out = {}
            for rid, res in self.res.get(rtype, {}).items():
                vals = O.evaluate(rtype, expr, res)
                if vals:
                    out[rid] = vals
            self._values[key] = out
        return self._values[key]

    def ptype(self, rtype: str, param: str) -> str:
        if param == "_id":
            return "token"
        return definitions.search_params(rtype)[param]["type"]

    # ---------------------------------------------------------------- the expected result

    def expected(self, rtype: str | list[str], params: list[tuple[str, str]]) -> set:
        """The ids (or (type, id) pairs for several types) a search should return."""
        if isinstance(rtype, list):
            out = set()
            for t in rtype:
                out |= {(t, i) for i in self.expected(t, params)}
            return out
        result = self.ids(rtype)
        for name, value in params:
            if name.startswith("_") and name.split(":")[0] in (
                "_count",
                "_sort",
                "_include",
                "_revinclude",
                "_total",
                "_summary",
                "_elements",
                "_type",
            ):
                continue
            result &= self.match(rtype, name, value)
        return result

    def match(self, rtype: str, name: str, value: str) -> set[str]:
        key = (rtype, name, value)
        if key not in self._match:
            self._match[key] = self._compute(rtype, name, value)
        return self._match[key]

    def _compute(self, rtype: str, name: str, value: str) -> set[str]:
        if name.startswith("_has:"):
            return self._has(rtype, name, value)
        if "." in name:
            return self._chain(rtype, name, value)
        base, _, mod = name.partition(":")
        mod = mod or None
        ids = self.ids(rtype)
        if base == "_id":
            return ids & set(split_or(value))
        if base in ("_text", "_content"):
            return {
                i for i in ids if any(self._text_match(rtype, i, base, v) for v in split_or(value))
            }
        if base == "_list":
            return self._list(rtype, value)
        kind = self.ptype(rtype, base)
        vals = self.values(rtype, base)
        if mod == "missing":
            have = {i for i, items in vals.items() if self._searchable(kind, items)}
            return ids - have if value == "true" else have
        if kind == "composite":
            return {
                i for i in vals if any(self._composite(rtype, base, i, v) for v in split_or(value))
            }
        if kind == "token" and mod in ("not", "not-in"):
            pos = self._compute(rtype, base if mod == "not" else f"{base}:in", value)
            return ids - pos
        out = set()
        for rid, items in vals.items():
            if any(self._one(kind, mod, items, v) for v in split_or(value)):
                out.add(rid)
        return out

    @staticmethod
    def _searchable(kind: str, items: list) -> bool:
        """Has the resource a value this parameter can be searched on (``:missing``)?

        An element that holds nothing searchable (a Reference with only a display, an
        Identifier without a value) counts as missing.
        """
        if kind == "token":
            return any(
                t.code is not None or (k in ("CodeableConcept", "Coding") and t.texts)
                for k, d in items
                for t in O.token_items(k, d)
            )
        if kind == "string":
            return any(O.string_parts(k, d) for k, d in items)
        if kind == "date":
            return any(O.date_ranges(k, d) for k, d in items)
        if kind == "number":
            return any(O.number_of(d) is not None for _k, d in items)
        if kind == "quantity":
            return any(O.quantities(k, d) for k, d in items)
        if kind == "reference":
            return any(O.references(k, d) or O.reference_identifiers(k, d) for k, d in items)
        if kind == "uri":
            return any(O.uri_values(k, d) for k, d in items)
        return bool(items)

    def _one(self, kind: str, mod: str | None, items: list, value: str) -> bool:
        if kind == "token":
            toks = [t for k, d in items for t in O.token_items(k, d)]
            if mod == "of-type":
                system, code, ident = value.split("|")
                for k, d in items:
                    if k != "Identifier" or d.get("value") != ident:
                        continue
                    for c in (d.get("type") or {}).get("coding") or []:
                        if c.get("system") == system and c.get("code") == code:
                            return True
                return False
            if mod == "in":
                members, whole = valueset_members(value)
                return any((t.system, t.code) in members or t.system in whole for t in toks)
            return O.token_match(toks, value, mod)
        if kind == "string":
            parts = [p for k, d in items for p in O.string_parts(k, d)]
            return O.string_match(parts, value, mod)
        if kind == "date":
            ranges = [r for k, d in items for r in O.date_ranges(k, d)]
            return O.date_match(ranges, value)
        if kind == "number":
            nums = [n for _k, d in items if (n := O.number_of(d)) is not None]
            return O.number_match(nums, value)
        if kind == "quantity":
            qs = [q for k, d in items for q in O.quantities(k, d)]
            return O.quantity_match(qs, value)
        if kind == "reference":
            if mod == "identifier":
                toks = [t for k, d in items for t in O.reference_identifiers(k, d)]
                return O.token_match(toks, value, None)
            refs = [r for k, d in items for r in O.references(k, d)]
            if value.startswith(BASE):  # this server's own URL: the same as a local reference
                value = value.removeprefix(BASE)
            return O.reference_match(refs, value, mod)
        if kind == "uri":
            uris = [u for k, d in items for u in O.uri_values(k, d)]
            return O.uri_match(uris, value, mod)
        raise AssertionError(f"no oracle for {kind}")

    # ---------------------------------------------------------------- chains and _has

    def refs(self, rtype: str, param: str, rid: str) -> list[O.Ref]:
        return [r for k, d in self.values(rtype, param).get(rid, []) for r in O.references(k, d)]

    def _chain(self, rtype: str, name: str, value: str) -> set[str]:
        head, rest = name.split(".", 1)
        ref_param, _, type_mod = head.partition(":")
        d = definitions.search_params(rtype)[ref_param]
        next_param = rest.split(".", 1)[0].split(":", 1)[0]
        targets = [type_mod] if type_mod else d.get("target") or []
        wanted = set()
        for t in targets:
            if definitions.is_resource_type(t) and (
                next_param in definitions.search_params(t) or next_param == "_id"
            ):
                wanted |= {(t, i) for i in self.match(t, rest, value)}
        return {
            rid
            for rid in self.values(rtype, ref_param)
            if any((r.type, r.id) in wanted for r in self.refs(rtype, ref_param, rid))
        }

    def _has(self, rtype: str, name: str, value: str) -> set[str]:
        _, other, ref_param, rest = name.split(":", 3)
        others = self.match(other, rest, value)
        out = set()
        for oid in others:
            for r in self.refs(other, ref_param, oid):
                if r.type == rtype and r.id in self.res.get(rtype, {}):
                    out.add(r.id)
        return out

    def _list(self, rtype: str, list_id: str) -> set[str]:
        lst = self.res.get("List", {}).get(list_id)
        if lst is None:
            return set()
        out = set()
        for e in lst.get("entry") or []:
            for r in O.references("Reference", e.get("item") or {}):
                if r.type == rtype and r.id in self.res.get(rtype, {}):
                    out.add(r.id)
        return out

    # ---------------------------------------------------------------- composites

    def _composite(self, rtype: str, param: str, rid: str, value: str) -> bool:
        d = definitions.search_params(rtype)[param]
        parts = [p for p in re.split(r"(?<!\\)\$", value)]
        comps = d["component"]
        if len(parts) != len(comps):
            return False
        kinds = [url_type(url) for url, _ in comps]
        res = self.res[rtype][rid]
        for root in O.compiled(rtype, d["expression"])(res):
            ok = True
            for (_url, expr), kind, part in zip(comps, kinds, parts, strict=True):
                vals = []
                for item in O.compiled(rtype, expr)(root):
                    data = item.data if hasattr(item, "data") else item
                    k = getattr(item, "path", None)
                    k = k.rsplit(".", 1)[-1] if k else None
                    if data is not None:
                        vals.append((k or O.guess_type(data), data))
                if not vals or not self._one(kind, None, vals, part.replace("\\$", "$")):
                    ok = False
                    break
            if ok:
                return True
        return False

    # ---------------------------------------------------------------- _text and _content

    def _text_match(self, rtype: str, rid: str, which: str, value: str) -> bool:
        key = (rtype, rid, which)
        text = self._texts.get(key)
        if text is None:
            res = self.res[rtype][rid]
            if which == "_text":
                div = (res.get("text") or {}).get("div") or ""
                text = O.fold(html.unescape(_TAG.sub(" ", div)))
            else:
                text = O.fold(" ".join(content_strings(res)))
            self._texts[key] = text
        words = O.fold(value).split()
        return bool(words) and all(w in text for w in words)


# Keys whose strings are identifying URIs, markup or binary, not text (see _content).
NOT_CONTENT = {"div", "data", "resourceType", "system", "url", "reference"}


def content_strings(node, key: str | None = None) -> list[str]:
    if isinstance(node, str):
        return [] if key in NOT_CONTENT else [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in content_strings(v, k)]
    if isinstance(node, list):
        return [s for v in node for s in content_strings(v, key)]
    return []


_URL_TYPES: dict[str, str] = {}


def url_type(url: str) -> str:
    if not _URL_TYPES:
        for params in definitions.index()["search"].values():
            for p in params.values():
                _URL_TYPES[p["url"]] = p["type"]
    return _URL_TYPES[url]


_VS: dict[str, tuple[set, set]] = {}
# Code systems too large for the packages: a value set that includes one without listing
# concepts takes every code of it.
_EXTERNAL = {
    "http://snomed.info/sct",
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
}


def valueset_members(url: str) -> tuple[set[tuple[str, str]], set[str]]:
    """``(listed members, whole external systems)`` of a value set that includes whole code
    systems or listed codes (read from the published packages, not from our terminology
    index)."""
    if url in _VS:
        return _VS[url]
    vs = None
    for path in package_dir().glob("ValueSet-*.json"):
        d = json.loads(path.read_bytes())
        if d.get("url") == url:
            vs = d
            break
    assert vs is not None, url
    out, whole = set(), set()
    for inc in vs["compose"]["include"]:
        system = inc["system"]
        assert "filter" not in inc and "valueSet" not in inc, url
        if "concept" in inc:
            out |= {(system, c["code"]) for c in inc["concept"]}
        elif system in _EXTERNAL:
            whole.add(system)
        else:
            out |= {(system, c) for c in codesystem_codes(system)}
    _VS[url] = out, whole
    return out, whole


def codesystem_codes(system: str) -> set[str]:
    folders = [package_dir(), package_dir().parent / "hl7.terminology.r4-7.0.1"]
    for folder in folders:
        for path in folder.glob("CodeSystem-*.json"):
            d = json.loads(path.read_bytes())
            if d.get("url") == system and d.get("concept"):
                out = set()
                stack = list(d["concept"])
                while stack:
                    c = stack.pop()
                    out.add(c["code"])
                    stack += c.get("concept") or []
                return out
    raise AssertionError(f"code system {system} not found")


def new_client_fhir() -> Fhir:
    return Fhir(Client(), mint_token())
