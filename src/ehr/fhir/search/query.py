"""From search parameters to one SQL condition over ``fhir_resource`` rows.

Each parameter becomes ``r.id IN (SELECT resource_id FROM <index table> WHERE ...)`` on the
narrow index table of its type, keyed by ``hash_param`` and hashed or normalised values, so the
database answers from its indexes. Repeated parameters are ANDed, comma-separated values ORed.
Chains (``subject:Patient.name=x``) and reverse chains (``_has:Observation:patient:code=y``)
nest the same conditions. Nothing is ever filtered in Python.
"""

from __future__ import annotations

import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import connection

from ehr.fhir import definitions
from ehr.fhir.errors import FhirError, NotSupported
from ehr.fhir.search import values as sv
from ehr.fhir.search.extract import hash64
from ehr.fhir.search.index_values import envelope_hash
from ehr.fhir.search.normalize import date_range, fold, number_range

# Parameters that shape the result rather than filter it.
RESULT_PARAMS = {
    "_count", "_offset", "_cursor", "_sort", "_include", "_revinclude", "_total", "_summary",
    "_elements", "_contained", "_containedType", "_format", "_pretty", "_since", "_type",
}  # fmt: skip
SPECIAL = {"_id", "_lastUpdated", "_text", "_content", "_list", "_has", "_type"}
MAX_CHAIN = 4
# The server's own base URL (set by the API for each request), to read absolute references.
BASE_URL: ContextVar[str] = ContextVar("search_base_url", default="")
FAR_FUTURE = 2**62


@dataclass
class Cond:
    """A SQL boolean expression over the row alias, with its arguments.

    Conditions on an index table also carry a per-row form (``EXISTS`` on the table's
    ``(resource_id, hash_param)`` index) and a rank: the search leads with its most selective
    condition as a key list and checks the others row by row.
    """

    sql: str
    args: list = field(default_factory=list)
    per_row: str | None = None
    rank: float = 5
    only_leads: bool = False  # narrows the candidates only: dropped when another one leads
    # The matching keys as a subquery of ``resource_id`` over index tables alone, when that is
    # exactly the condition (with ``args``): live resources of the searched types only, since
    # a resource's rows are cleared when it is deleted and every row's hash names its type.
    keys: str | None = None
    # The filters this condition answers in full when it leads (a date window's bounds).
    covers: tuple = ()
    origin: Filter | None = None  # the filter it was compiled from
    index_only: bool = False  # its SQL reads index tables and the row's ``id`` alone
    # A subquery of ``resource_id`` (with ``args``) holding at least the matching keys, for a
    # condition without exact ``keys`` (a chain, ``_has``): see ``countable``.
    probe: str | None = None
    # For a date window: its parameter's key and bounds, to page it in date order.
    window: DateWindow | None = None

    def countable(self) -> str | None:
        """A subquery holding at least the matching keys, cheap to read in order: counting a
        bounded prefix of it tells how many rows the condition would lead with."""
        return self.probe if self.probe is not None else self.keys


@dataclass(frozen=True)
class DateWindow:
    """A window on one date parameter: values meeting ``[start, end)`` (microseconds)."""

    hash_params: tuple[int, ...]
    start: int
    end: int


@dataclass
class Filter:
    name: str
    modifier: str | None
    values: list[str]


class SearchError(FhirError):
    pass


def _types_for(rtype: str | None, types: list[str] | None) -> list[str]:
    if rtype:
        return [rtype]
    if types:
        return types
    return sorted(definitions.resource_types())


def param_def(rtype: str, name: str) -> dict | None:
    return definitions.search_params(rtype).get(name)


def _h(rtype: str, name: str, *parts: str) -> int:
    return hash64(rtype, name, *parts)


_RANK = {"fhir_reference": 0, "fhir_token": 1, "fhir_uri": 1, "fhir_string": 2}


# The index tables' columns other than ``resource_id``, as the conditions name them.
_VALUE_COLUMN = re.compile(
    r"(?<![\w.+])(hash_param|seq|resource_type|param|hash_value|hash_sys_value|hash_system|"
    r"system|code|text|value_norm|value_exact|low_us|high_us|value|low|high|hash_units|"
    r"hash_code|target_type|target_id|target_url|hash_key)\b"
)


def _by_resource_key(where: str) -> str:
    """``where`` for a check on one resource's rows, found by the table's key alone.

    SQLite picks an index from an average number of rows per key, and values are skewed: with
    a sampled average of 3 rows per code hash, it checked "this Observation is a vital sign"
    by reading the whole index entry of the vital-signs category (a tenth of all
    Observations: 1.3 s for one patient's vital signs at 64,000 patients) instead of the
    Observation's own few rows. A unary ``+`` (a no-op on the value) keeps a column out of
    index choice, so only ``resource_id``, the key, is left to use. PostgreSQL plans these
    with its per-value statistics and is given the plain condition.
    """
    if connection.vendor != "sqlite":
        return where
    return _VALUE_COLUMN.sub(r"+\1", where)


def _in_index(alias: str, table: str, where: str, args: list, negate: bool = False) -> Cond:
    op = "NOT IN" if negate else "IN"
    exists = "NOT EXISTS" if negate else "EXISTS"
    keys = f"SELECT resource_id FROM {table} WHERE {where}"
    return Cond(
        f"{alias}.id {op} ({keys})",
        args,
        per_row=f"{exists} (SELECT 1 FROM {table} x WHERE x.resource_id = {alias}.id "
        f"AND ({_by_resource_key(where)}))",
        rank=9 if negate else _RANK.get(table, 3),
        keys=None if negate else keys,
        index_only=True,
    )


def _or(conds: list[Cond]) -> Cond:
    if len(conds) == 1:
        return conds[0]
    return Cond("(" + " OR ".join(c.sql for c in conds) + ")", [a for c in conds for a in c.args])


def and_(conds: list[Cond]) -> Cond:
    if not conds:
        return Cond("1=1")
    return Cond(" AND ".join(c.sql for c in conds), [a for c in conds for a in c.args])


TABLE_OF = {
    "token": "fhir_token",
    "string": "fhir_string",
    "date": "fhir_date",
    "number": "fhir_number",
    "quantity": "fhir_quantity",
    "reference": "fhir_reference",
    "uri": "fhir_uri",
    "composite": "fhir_composite",
}


class Compiler:
    """Compiles the filters of one search (for one resource type, or several at system level)."""

    def __init__(self, rtypes: list[str], alias: str = "r", depth: int = 0):
        self.rtypes = rtypes
        self.alias = alias
        self.depth = depth

    # ------------------------------------------------------------------ entry

    def filter(self, f: Filter) -> Cond:
        name, mod = f.name, f.modifier
        if name == "_id":
            return self._ids(f)
        if name == "_lastUpdated":
            return self._last_updated(f)
        if name in ("_text", "_content"):
            return self._text(f)
        if name == "_list":
            return self._list(f)
        if name.startswith("_has:"):
            return self._has(f)
        if "." in name:
            return self._chain(f)
        kinds = {self._def(t, name)["type"] for t in self.rtypes}
        if len(kinds) != 1:
            raise SearchError(f"Parameter '{name}' has different types across the resource types")
        kind = kinds.pop()
        if mod == "missing":
            return self._missing(f, kind)
        method = getattr(self, "_" + kind, None)
        if method is None:
            raise NotSupported(f"Search parameter '{name}' of type {kind} is not supported")
        return method(f)

    def _def(self, rtype: str, name: str) -> dict:
        d = param_def(rtype, name)
        if d is None:
            raise SearchError(f"Unknown search parameter '{name}' for {rtype}", expression=name)
        return d

    def _hashes(self, name: str) -> list[int]:
        return [_h(t, name) for t in self.rtypes]

    def _hp(self, name: str) -> tuple[str, list]:
        hs = self._hashes(name)
        if len(hs) == 1:
            return "hash_param = ?", hs
        return "hash_param IN (" + ",".join("?" * len(hs)) + ")", hs

    # ------------------------------------------------------------------ special

    def _ids(self, f: Filter) -> Cond:
        ids = [v for value in f.values for v in sv.split_or(value)]
        marks = ",".join("?" * len(ids))
        if f.modifier == "not":
            return Cond(f"{self.alias}.fhir_id NOT IN ({marks})", ids, rank=9)
        # The rows of these ids, found through the (type, id) key: a handful of rows that
        # lead before any other condition.
        types = ",".join("?" * len(self.rtypes))
        return Cond(
            f"{self.alias}.id IN (SELECT i.id FROM fhir_resource i WHERE i.resource_type IN "
            f"({types}) AND i.fhir_id IN ({marks}))",
            [*self.rtypes, *ids],
            rank=-3,
        )

    def _last_updated(self, f: Filter) -> Cond:
        conds = []
        for value in sv.split_or(f.values[0]):
            prefix, text = sv.prefixed(value, f.name)
            lo, hi = self._parse_date(text, f.name)
            col = f"{self.alias}.updated_us"
            conds.append(_range_cond(prefix, col, col, lo, hi))
        return _or(conds)

    def _text(self, f: Filter) -> Cond:
        column = "narrative" if f.name == "_text" else "content"
        conds = []
        for value in sv.split_or(f.values[0]):
            words = [w for w in fold(sv.unescape(value)).split() if w]
            if not words:
                continue
            where = " AND ".join(f"{column} LIKE ? ESCAPE '\\'" for _ in words)
            conds.append(
                Cond(
                    f"{self.alias}.id IN (SELECT resource_id FROM fhir_text WHERE {where})",
                    [f"%{_like_escape(w)}%" for w in words],
                )
            )
        if not conds:
            raise SearchError(f"{f.name} needs some text", expression=f.name)
        return _or(conds)

    def _list(self, f: Filter) -> Cond:
        conds = []
        for list_id in sv.split_or(f.values[0]):
            conds.append(
                Cond(
                    f"{self.alias}.fhir_id IN (SELECT ref.target_id FROM fhir_reference ref "
                    "JOIN fhir_resource l ON l.id = ref.resource_id WHERE l.resource_type = ? "
                    "AND l.fhir_id = ? AND l.deleted = ? AND ref.hash_param = ? "
                    "AND ref.target_type = " + f"{self.alias}.resource_type)",
                    ["List", list_id, False, _h("List", "item")],
                )
            )
        return _or(conds)

    def _has(self, f: Filter) -> Cond:
        # _has:Observation:patient:code=1234  (and nested _has:A:p:_has:B:q:param)
        parts = f.name.split(":", 3)
        if len(parts) < 4:
            raise SearchError(f"'{f.name}' should be _has:Type:reference:parameter")
        _, other, ref_param, rest = parts
        _check_type(other, f.name)
        rdef = self._def(other, ref_param)
        if rdef["type"] != "reference":
            raise SearchError(f"{other}.{ref_param} is not a reference parameter")
        targets = set(rdef.get("target") or [])
        _check_target(set(self.rtypes), targets, f"{other}.{ref_param}", f.name)
        if self.depth >= MAX_CHAIN:
            raise SearchError("Chains and _has may nest at most 4 levels")
        inner_alias = f"h{self.depth}"
        inner = Compiler([other], inner_alias, self.depth + 1)
        name, mod = (
            (rest.split(":", 1) + [None])[:2] if not rest.startswith("_has:") else (rest, None)
        )
        cond = inner.filter(Filter(name, mod, f.values))
        # Uncorrelated, with the searched types as literals: the other resources' condition
        # drives, their references lead to the targets' keys, and the outer search reads
        # only those rows (a correlated form was run once per row of the searched type).
        target = f"t{self.depth}"
        types = ",".join("?" * len(self.rtypes))
        if cond.keys is not None:
            # The other resources' keys come from the index alone (live ones of that type),
            # so their rows are not read: only the references, and the targets' keys.
            keys = (
                f"SELECT {target}.id FROM fhir_resource {target} WHERE "
                f"({target}.resource_type, {target}.fhir_id) IN (SELECT ref.target_type, "
                f"ref.target_id FROM fhir_reference ref WHERE ref.hash_param = ? AND "
                f"ref.target_type IN ({types}) AND ref.resource_id IN ({cond.keys}))"
            )
            args = [_h(other, ref_param), *self.rtypes, *cond.args]
        else:
            keys = (
                f"SELECT {target}.id FROM fhir_reference ref JOIN "
                f"fhir_resource {inner_alias} ON {inner_alias}.id = ref.resource_id JOIN "
                f"fhir_resource {target} ON {target}.resource_type = ref.target_type AND "
                f"{target}.fhir_id = ref.target_id WHERE ref.hash_param = ? AND "
                f"ref.target_type IN ({types}) AND {inner_alias}.deleted = ? AND {cond.sql}"
            )
            args = [_h(other, ref_param), *self.rtypes, False, *cond.args]
        return Cond(f"{self.alias}.id IN ({keys})", args, rank=2, probe=keys)

    def _chain(self, f: Filter) -> Cond:
        head, rest = f.name.split(".", 1)
        ref_name, _, type_mod = head.partition(":")
        if self.depth >= MAX_CHAIN:
            raise SearchError("Chains may have at most 4 links", expression=f.name)
        targets: set[str] = set()
        for t in self.rtypes:
            d = self._def(t, ref_name)
            if d["type"] != "reference":
                raise SearchError(f"'{ref_name}' is not a reference parameter", expression=f.name)
            targets.update(d.get("target") or [])
        if type_mod:
            _check_type(type_mod, f.name)
            _check_target({type_mod}, targets, ref_name, f.name)
            targets = {type_mod}
        next_name = rest.split(".", 1)[0].split(":", 1)[0]
        usable = sorted(
            t for t in targets if definitions.is_resource_type(t) and param_def(t, next_name)
        )
        if not usable:
            raise SearchError(
                f"'{next_name}' is not a search parameter of any target of {ref_name}",
                expression=f.name,
            )
        if len(usable) > 1 and not type_mod:
            # Several target types define the parameter: search them all.
            pass
        inner_alias = f"c{self.depth}"
        inner = Compiler(usable, inner_alias, self.depth + 1)
        if "." in rest:  # another link follows: the inner compiler parses it
            name, mod = rest, ""
        else:
            name, _, mod = rest.partition(":")
        cond = inner.filter(Filter(name, mod or None, f.values))
        hp, hargs = self._hp(ref_name)
        type_list = ",".join("?" * len(usable))

        def joined(join: str) -> str:
            return (
                f"FROM fhir_reference ref {join} fhir_resource {inner_alias} ON "
                f"{inner_alias}.resource_type = ref.target_type AND "
                f"{inner_alias}.fhir_id = ref.target_id WHERE ref.{hp} AND "
                f"ref.target_type IN ({type_list}) AND {inner_alias}.deleted = ? AND {cond.sql}"
            )

        keys = f"SELECT ref.resource_id {joined('JOIN')}"
        # When another condition leads, each of its rows follows its own references (the
        # reference table's key starts with the resource) instead of listing every resource
        # that refers to a match; on SQLite, CROSS JOIN keeps that order whatever the
        # statistics say.
        per_row_join = "CROSS JOIN" if connection.vendor == "sqlite" else "JOIN"
        return Cond(
            f"{self.alias}.id IN ({keys})",
            [*hargs, *usable, False, *cond.args],
            per_row=f"EXISTS (SELECT 1 {joined(per_row_join)} "
            f"AND ref.resource_id = {self.alias}.id)",
            probe=keys,
        )

    def _missing(self, f: Filter, kind: str) -> Cond:
        value = f.values[0]
        if value not in ("true", "false"):
            raise SearchError(f"{f.name}:missing must be true or false", expression=f.name)
        hp, args = self._hp(f.name)
        table = TABLE_OF[kind]
        return _in_index(self.alias, table, hp, args, negate=value == "true")

    # ------------------------------------------------------------------ types

    def _token(self, f: Filter) -> Cond:
        mod = f.modifier
        name = f.name
        if mod in ("of-type",):
            name = f"{f.name}:of-type"
        elif mod not in (None, "not", "text", "in", "not-in", "code-text"):
            raise NotSupported(f"Modifier :{mod} is not supported on token parameters")
        if mod == "text":
            hp, args = self._hp(name)
            ors = []
            for value in sv.split_or(f.values[0]):
                ors.append("text LIKE ? ESCAPE '\\'")
                args.append(_like_escape(fold(sv.unescape(value))) + "%")
            return _in_index(self.alias, "fhir_token", f"{hp} AND ({' OR '.join(ors)})", args)
        if mod in ("in", "not-in"):
            return self._token_in_valueset(f, negate=mod == "not-in")
        ors, args = [], []
        for value in sv.split_or(f.values[0]):
            if mod != "of-type":
                tok = sv.token(value, f.name)
            if mod == "of-type":
                parts = sv.split_unescaped(value, "|")
                if len(parts) != 3 or not parts[1] or not parts[2]:
                    raise SearchError(
                        f"{f.name}:of-type expects system|code|value (the type's code and "
                        f"the identifier's value both given), not {value!r}",
                        expression=f.name,
                    )
                system, code, ident = (sv.unescape(p) for p in parts)
                ors.append(self._code_in_system(name, [(system, f"{code}|{ident}")], args))
                continue
            if tok.code is None:
                # Only rows with a system are in the (partial) index on hash_system.
                hs = [_h(t, name, tok.system) for t in self.rtypes]
                ors.append(f"(system IS NOT NULL AND {_hash_in('hash_system', hs, args)})")
            elif tok.system is None:
                hs = [_h(t, name, tok.code) for t in self.rtypes]
                ors.append(_hash_in("hash_value", hs, args))
            else:
                ors.append(self._code_in_system(name, [(tok.system, tok.code)], args))
        return _in_index(self.alias, "fhir_token", " OR ".join(ors), args, negate=mod == "not")

    def _code_in_system(self, name: str, pairs: list[tuple[str, str]], args: list) -> str:
        """Tokens whose (system, code) is one of ``pairs``.

        The token index is on (hash_value, hash_sys_value): the code's hash finds the few rows
        with that code, and the system-and-code hash picks the right system among them.
        """
        hv = sorted({_h(t, name, code) for t in self.rtypes for _, code in pairs})
        hs = [_h(t, name, system or "", code) for t in self.rtypes for system, code in pairs]
        return f"({_hash_in('hash_value', hv, args)} AND {_hash_in('hash_sys_value', hs, args)})"

    def _token_in_valueset(self, f: Filter, negate: bool) -> Cond:
        """``:in`` / ``:not-in``: codes the server can list, or whole code systems.

        A value set that takes a large code system whole (all of SNOMED CT) matches any code of
        that system. One that takes part of such a system by a filter, or that could only be
        partly resolved, has members the server cannot list: the search fails with 400 rather
        than answer from the members it happens to know.
        """
        from ehr.terminology import _load

        members: list[tuple[str | None, str]] = []
        systems: list[str] = []
        for url in sv.split_or(f.values[0]):
            vs = _load().valueset(url)
            where = f"{f.name}:{f.modifier}: value set {url}"
            if vs is None:
                raise SearchError(f"{where} is not known to this server", expression=f.name)
            if vs.partial:
                raise SearchError(
                    f"{where} could only be partly resolved ({vs.reason}); its members are "
                    "not all known",
                    expression=f.name,
                )
            for system in vs.open:
                if system not in vs.whole:
                    raise SearchError(
                        f"{where} takes codes of {system} by a rule this server cannot list "
                        "(a filter or exclusions)",
                        expression=f.name,
                    )
                systems.append(system)
            members.extend((s, c) for s, cs in vs.members.items() for c in cs)
        args: list = []
        ors = []
        if members:
            ors.append(self._code_in_system(f.name, members, args))
        if systems:
            hs = [_h(t, f.name, system) for t in self.rtypes for system in systems]
            ors.append(f"(system IS NOT NULL AND {_hash_in('hash_system', hs, args)})")
        if not ors:
            return Cond("1=0" if not negate else "1=1")
        return _in_index(self.alias, "fhir_token", " OR ".join(ors), args, negate)

    def _string(self, f: Filter) -> Cond:
        mod = f.modifier
        if mod not in (None, "exact", "contains"):
            raise NotSupported(f"Modifier :{mod} is not supported on string parameters")
        hp, args = self._hp(f.name)
        ors = []
        for value in sv.split_or(f.values[0]):
            text = sv.unescape(value)
            if mod == "exact":
                ors.append("value_exact = ?")
                args.append(text)
            elif mod == "contains":
                ors.append("value_norm LIKE ? ESCAPE '\\'")
                args.append("%" + _like_escape(fold(text)) + "%")
            else:
                folded = fold(text)
                if not folded:
                    raise SearchError(f"{f.name}: empty search value", expression=f.name)
                ors.append("(value_norm >= ? AND value_norm < ?)")
                args.extend([folded, _next_prefix(folded)])
        return _in_index(self.alias, "fhir_string", f"{hp} AND ({' OR '.join(ors)})", args)

    def _parse_date(self, text: str, name: str) -> tuple[int, int]:
        try:
            return date_range(text)
        except (ValueError, TypeError):
            raise SearchError(f"{name}: '{text}' is not a FHIR date", expression=name) from None

    def _date(self, f: Filter) -> Cond:
        hp, args = self._hp(f.name)
        ors = []
        bounded = True
        for value in sv.split_or(f.values[0]):
            prefix, text = sv.prefixed(value, f.name)
            lo, hi = self._parse_date(text, f.name)
            c = _range_cond(prefix, "low_us", "high_us", lo, hi)
            ors.append(c.sql)
            args.extend(c.args)
            bounded = bounded and prefix == "eq"
        cond = _in_index(self.alias, "fhir_date", f"{hp} AND ({' OR '.join(ors)})", args)
        if bounded:  # days or instants: a bounded range on (hash_param, low_us), selective;
            cond.rank = 0  # it ties with a reference, and then the parameter given first leads
        return cond

    def date_windows(self, filters: list[Filter]) -> list[Cond]:
        """Key lists for date parameters searched between two bounds (``ge``/``gt`` and
        ``lt``/``le``, one value each, e.g. ``date=ge2024-03-01&date=lt2024-03-08``).

        Each bound alone matches everything on its side of the date (half the index, or most
        of it), and the two need not hold on the same value. The matches are the union of the
        values meeting the window (``window_ranges``) and the envelope rows
        (``index_values.envelope_hash``: the span of all of a resource's values) of resources
        with several values. That union is exactly what the bounds ask for, so when the window
        leads, the bound filters are not checked again row by row (``covers``).
        """
        lower: dict[str, int] = {}
        upper: dict[str, int] = {}
        used: dict[str, list[Filter]] = {}
        for f in filters:
            if f.modifier or "," in f.values[0] or "." in f.name or f.name.startswith("_"):
                continue
            if any((param_def(t, f.name) or {}).get("type") != "date" for t in self.rtypes):
                continue
            prefix, text = sv.prefixed(f.values[0], f.name)
            if prefix not in ("ge", "gt", "lt", "le"):
                continue
            lo, hi = self._parse_date(text, f.name)
            if prefix == "ge":
                lower[f.name] = max(lower.get(f.name, -FAR), lo)
            elif prefix == "gt":
                lower[f.name] = max(lower.get(f.name, -FAR), hi + 1)
            elif prefix == "lt":
                upper[f.name] = min(upper.get(f.name, FAR), lo)
            else:
                upper[f.name] = min(upper.get(f.name, FAR), hi + 1)
            used.setdefault(f.name, []).append(f)
        windows = []
        for name in lower.keys() & upper.keys():
            start, end = lower[name], upper[name]
            hs = self._hashes(name)
            envelopes = [envelope_hash(h) for h in hs]
            marks = ",".join("?" * len(hs))
            parts, args = [], []
            for where, where_args, hint in window_ranges("", start, end):
                parts.append(
                    f"SELECT resource_id FROM fhir_date{hint} WHERE hash_param IN ({marks}) "
                    f"AND {where}"
                )
                args += [*hs, *where_args]
            envelope, envelope_args = envelope_range("", start, end)
            parts.append(
                f"SELECT resource_id FROM fhir_date WHERE hash_param IN ({marks}) AND {envelope}"
            )
            args += [*envelopes, *envelope_args]
            keys = " UNION ALL ".join(parts)
            windows.append(
                Cond(
                    f"{self.alias}.id IN ({keys})",
                    args,
                    # A day or two leads before anything; a longer window still leads before
                    # tokens and strings, but a reference to one resource is narrower.
                    rank=-1 if end - start <= 2 * DAY_US else 0.5,
                    only_leads=True,  # when another leads, the bounds are checked per row
                    keys=keys,
                    covers=tuple(used[name]),
                    index_only=True,
                    window=DateWindow(tuple(hs), start, end),
                )
            )
        return windows

    def _number(self, f: Filter) -> Cond:
        hp, args = self._hp(f.name)
        ors = []
        for value in sv.split_or(f.values[0]):
            prefix, text = sv.prefixed(value, f.name)
            c = _number_cond(prefix, sv.number_text(text, f.name), f.name)
            ors.append(c.sql)
            args.extend(c.args)
        return _in_index(self.alias, "fhir_number", f"{hp} AND ({' OR '.join(ors)})", args)

    def _quantity(self, f: Filter) -> Cond:
        ors, args = [], []
        for value in sv.split_or(f.values[0]):
            q = sv.quantity(value, f.name)
            c = _number_cond(q.prefix, sv.number_text(q.number, f.name), f.name)
            if q.code and q.system:
                hs = [_h(t, f.name, q.system, q.code) for t in self.rtypes]
                unit = _hash_in("hash_units", hs, args)
            elif q.code:
                hs = [_h(t, f.name, q.code) for t in self.rtypes]
                unit = _hash_in("hash_code", hs, args)
            else:
                hp, hargs = self._hp(f.name)
                unit = hp
                args.extend(hargs)
            ors.append(f"({unit} AND {c.sql})")
            args.extend(c.args)
        return _in_index(self.alias, "fhir_quantity", " OR ".join(ors), args)

    def _reference(self, f: Filter) -> Cond:
        mod = f.modifier
        if mod == "identifier":
            return self._token(Filter(f"{f.name}:identifier", None, f.values))
        type_mod = None
        if mod is not None:
            _check_type(mod, f.name)
            targets = {t for r in self.rtypes for t in self._def(r, f.name).get("target") or []}
            _check_target({mod}, targets, f.name, f.name)
            type_mod = mod
        hp, args = self._hp(f.name)
        ors = []
        for value in sv.split_or(f.values[0]):
            ref = sv.unescape(value)
            parts = ref.rstrip("/").split("/")
            if "/_history/" in ref:
                parts = ref.split("/_history/")[0].split("/")
            base = BASE_URL.get()
            if base and ref.startswith(base + "/"):
                ref = ref[len(base) + 1 :]  # our own absolute URL: a local reference
                parts = ref.split("/_history/")[0].split("/")
            if ref.startswith("http://") or ref.startswith("https://") or ref.startswith("urn:"):
                # another server's resource (or a canonical): matched by its URL only
                ors.append("target_url = ?")
                args.append(ref.split("|")[0] if "|" in ref else ref)
            elif len(parts) == 2:
                if type_mod and parts[0] != type_mod:
                    raise SearchError(f"{f.name}:{type_mod}={ref}: the types disagree")
                ors.append("(target_type = ? AND target_id = ?)")
                args.extend(parts)
            elif len(parts) == 1 and parts[0]:
                if type_mod:
                    ors.append("(target_type = ? AND target_id = ?)")
                    args.extend([type_mod, parts[0]])
                else:
                    ors.append("target_id = ?")
                    args.append(parts[0])
            else:
                raise SearchError(f"{f.name}: '{ref}' is not a reference", expression=f.name)
        cond = _in_index(self.alias, "fhir_reference", f"{hp} AND ({' OR '.join(ors)})", args)
        if len(ors) > 8:  # a long list of targets (every provider) is not a selective lead
            cond.rank = 2
        return cond

    def _uri(self, f: Filter) -> Cond:
        mod = f.modifier
        if mod not in (None, "below", "above"):
            raise NotSupported(f"Modifier :{mod} is not supported on uri parameters")
        hp, args = self._hp(f.name)
        ors = []
        for value in sv.split_or(f.values[0]):
            uri = sv.unescape(value)
            if mod == "below":
                ors.append("value LIKE ? ESCAPE '\\'")
                args.append(_like_escape(uri) + "%")
            elif mod == "above":
                prefixes = _uri_prefixes(uri)
                ors.append("value IN (" + ",".join("?" * len(prefixes)) + ")")
                args.extend(prefixes)
            else:
                ors.append("value = ?")
                args.append(uri)
        return _in_index(self.alias, "fhir_uri", f"{hp} AND ({' OR '.join(ors)})", args)

    def _composite(self, f: Filter) -> Cond:
        from ehr.fhir.search.index_values import composite_key

        ors, args = [], []
        for value in sv.split_or(f.values[0]):
            parts = sv.split_unescaped(value, "$")
            if len(parts) == 3:  # first$start$end (sequence coordinates): low and high columns
                first = sv.token(parts[0], f.name)
                hs = [composite_key(t, f.name, _variant(first)) for t in self.rtypes]
                key = _hash_in("hash_key", hs, args)
                p1, n1 = sv.prefixed(parts[1], f.name)
                p2, n2 = sv.prefixed(parts[2], f.name)
                c1 = _number_cond(p1, sv.number_text(n1, f.name), f.name, "low")
                c2 = _number_cond(p2, sv.number_text(n2, f.name), f.name, "high")
                ors.append(f"({key} AND {c1.sql} AND {c2.sql})")
                args.extend([*c1.args, *c2.args])
                continue
            if len(parts) != 2:
                raise SearchError(
                    f"{f.name}: a composite value is first$second (or first$start$end)",
                    expression=f.name,
                )
            first = sv.token(parts[0], f.name)
            second_kind = self._component_kind(f.name, 1)
            variant = _variant(first)
            if second_kind in ("token", "string"):
                second = parts[1]
                if second_kind == "token":
                    tok = sv.token(second, f.name)
                    second_variant = _variant(tok)
                else:
                    second_variant = fold(sv.unescape(second))
                hs = [composite_key(t, f.name, variant, second_variant) for t in self.rtypes]
                ors.append(_hash_in("hash_key", hs, args))
            else:
                hs = [composite_key(t, f.name, variant) for t in self.rtypes]
                key = _hash_in("hash_key", hs, args)
                if second_kind == "date":
                    prefix, text = sv.prefixed(parts[1], f.name)
                    lo, hi = self._parse_date(text, f.name)
                    c = _range_cond(prefix, "low", "high", float(lo), float(hi))
                else:
                    q = sv.quantity(parts[1], f.name)
                    c = _number_cond(q.prefix, sv.number_text(q.number, f.name), f.name, "low")
                ors.append(f"({key} AND {c.sql})")
                args.extend(c.args)
        return _in_index(self.alias, "fhir_composite", " OR ".join(ors), args)

    def _component_kind(self, name: str, index: int) -> str:
        d = self._def(self.rtypes[0], name)
        url = d["component"][index][0]
        for params in definitions.index()["search"].values():
            for p in params.values():
                if p["url"] == url:
                    return p["type"]
        raise SearchError(f"{name}: unknown component definition {url}")


def _variant(tok: sv.Token) -> str:
    if tok.system is None:
        return tok.code or ""
    return f"{tok.system}|{tok.code or ''}"


def _check_type(name: str, where: str) -> None:
    if not definitions.is_resource_type(name):
        raise SearchError(f"'{name}' is not a resource type", expression=where)


def _check_target(types: set[str], targets: set[str], param: str, where: str) -> None:
    """A reference parameter narrowed to ``types`` (``:Type``, a chain's type, the types a
    ``_has`` searches) must be able to refer to one of them: otherwise the search could only
    ever find nothing, which is more likely a mistake than a question."""
    if targets and "Resource" not in targets and not types & targets:
        raise SearchError(
            f"{param} does not refer to {', '.join(sorted(types))} "
            f"(it refers to {', '.join(sorted(targets))})",
            expression=where,
        )


def _hash_in(column: str, hashes: list[int], args: list) -> str:
    args.extend(hashes)
    if len(hashes) == 1:
        return f"{column} = ?"
    return f"{column} IN (" + ",".join("?" * len(hashes)) + ")"


def _like_escape(text: str) -> str:
    """Escape LIKE wildcards; every LIKE here says ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next_prefix(text: str) -> str:
    return text[:-1] + chr(ord(text[-1]) + 1)


def window_ranges(
    alias: str, start: int, end: int, low_from: int | None = None, low_to: int | None = None
) -> list[tuple[str, list, str]]:
    """Where the date values meeting ``[start, end)`` lie: conditions on ``fhir_date`` rows
    (columns prefixed with ``alias``, after the ``hash_param`` test), each with its arguments and
    the ``INDEXED BY`` clause (SQLite only, else empty) naming the index whose one range it
    reads when the planner could pick another with the same columns. Disjoint, and together
    exactly the values that meet the window:

    1. values starting from an hour before the window to its end (the covering index
       ``fhir_date_span``); a value of an hour or less starting earlier ends before the window;
    2. values longer than an hour starting in the day before that (``fhir_date_hours``, which
       holds only them: reading the whole day before from the covering index cost about
       17,000 rows at 64,000 patients);
    3. values longer than a day starting earlier still (``fhir_date_long``, by their end; by its
       start, such a value could lie anywhere before the window, so ``+low_us`` keeps the
       covering index out).

    ``low_from`` and ``low_to`` narrow the first two to values starting in
    ``[low_from, low_to)`` (a page's cursor).
    """
    low, high = f"{alias}low_us", f"{alias}high_us"
    low_from = -FAR if low_from is None else low_from
    low_to = FAR if low_to is None else low_to
    hours = HOURS_DATE.replace("high_us", high).replace("low_us", low)
    long_ = LONG_DATE.replace("high_us", high).replace("low_us", low)
    hours_index = " INDEXED BY fhir_date_hours" if connection.vendor == "sqlite" else ""
    return [
        (f"{low} >= ? AND {low} < ? AND {high} >= ?",
         [max(start - HOUR_US, low_from), min(end, low_to), start], ""),
        (f"{hours} AND {low} >= ? AND {low} < ? AND {high} >= ?",
         [max(start - DAY_US, low_from), min(start - HOUR_US, low_to), start], hours_index),
        (f"{long_} AND {high} >= ? AND +{low} < ?", [start, start - DAY_US], ""),
    ]  # fmt: skip


def envelope_range(alias: str, start: int, end: int) -> tuple[str, list]:
    """The envelope rows (``index_values.envelope_hash``) meeting ``[start, end)``, after their
    ``hash_param`` test: read by their end (``fhir_date_high``); ``+low_us`` keeps the covering
    index out, which by start would read every envelope before the window."""
    return f"{alias}high_us >= ? AND +{alias}low_us < ?", [start, end]


def _uri_prefixes(uri: str) -> list[str]:
    parts = uri.split("/")
    return ["/".join(parts[:i]) for i in range(3, len(parts) + 1)] or [uri]


DAY_US = 86_400_000_000
# Date values longer than a day; the same text as the partial index fhir_date_long (migration
# 0008), so that SQLite sees the index applies.
LONG_DATE = "high_us - low_us > 86400000000"
HOUR_US = 3_600_000_000
# Date values longer than an hour: the partial index fhir_date_hours (migration 0012).
HOURS_DATE = "high_us - low_us > 3600000000"
FAR = 2**62


def _range_cond(prefix: str, low_col: str, high_col: str, lo: float, hi: float) -> Cond:
    """Date (and composite date) comparisons between the value's range and the search range."""
    if prefix == "eq":
        # low <= high <= hi, so the range on the low column is bounded on both sides.
        return Cond(f"({low_col} >= ? AND {low_col} <= ? AND {high_col} <= ?)", [lo, hi, hi])
    if prefix == "ne":
        return Cond(f"({low_col} < ? OR {high_col} > ?)", [lo, hi])
    if prefix == "gt":
        return Cond(f"{high_col} > ?", [hi])
    if prefix == "lt":
        return Cond(f"{low_col} < ?", [lo])
    if prefix == "ge":
        return Cond(f"{high_col} >= ?", [lo])
    if prefix == "le":
        return Cond(f"{low_col} <= ?", [hi])
    if prefix == "sa":
        return Cond(f"{low_col} > ?", [hi])
    if prefix == "eb":
        return Cond(f"{high_col} < ?", [lo])
    # ap: within 10% of the distance between the value and now
    now = int(time.time() * 1_000_000)
    gap = abs(now - (lo + hi) / 2) * 0.1
    return Cond(f"({low_col} <= ? AND {high_col} >= ?)", [hi + gap, lo - gap])


def _number_cond(prefix: str, text: str, name: str, column: str = "value") -> Cond:
    value, lo, hi = number_range(text)
    # Inclusive bounds: a value given with all the digits of a double has lo == hi.
    if prefix == "eq":
        return Cond(f"({column} >= ? AND {column} <= ?)", [lo, hi])
    if prefix == "ne":
        return Cond(f"({column} < ? OR {column} > ?)", [lo, hi])
    if prefix in ("gt", "sa"):
        return Cond(f"{column} > ?", [value])
    if prefix in ("lt", "eb"):
        return Cond(f"{column} < ?", [value])
    if prefix == "ge":
        return Cond(f"{column} >= ?", [value])
    if prefix == "le":
        return Cond(f"{column} <= ?", [value])
    gap = abs(value) * 0.1
    return Cond(f"({column} >= ? AND {column} <= ?)", [value - gap, value + gap])
