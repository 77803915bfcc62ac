"""Running a search: parse the parameters, page, sort, count, include.

One SQL statement answers each page (plus one per ``_include``/``_revinclude`` level); the
WHERE clause comes from ``query.Compiler``. Unsorted searches page by primary key with a cursor,
which stays stable while data changes and costs the same at any depth, or, when a date window
leads, in the window's date order with a cursor on the date (``window_order``); sorted searches
page by offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from ehr.fhir import access, definitions
from ehr.fhir.errors import FhirError, NotSupported
from ehr.fhir.search import budget, window_order
from ehr.fhir.search import values as sv
from ehr.fhir.search.extract import hash64
from ehr.fhir.search.query import (
    RESULT_PARAMS,
    SPECIAL,
    Compiler,
    Cond,
    DateWindow,
    Filter,
    SearchError,
    and_,
)
from ehr.fhir.storage.db import raw_cursor, sql
from ehr.fhir.storage.repository import Stored

DEFAULT_COUNT = 20
MAX_COUNT = 1000
MAX_INCLUDED = 1000
ESTIMATE_CAP = 10_000
CONTROL = RESULT_PARAMS | {"_before"}


@dataclass
class Include:
    source: str
    param: str | None  # None for "*"
    target: str | None
    iterate: bool


@dataclass
class SearchRequest:
    rtypes: list[str]
    filters: list[Filter] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    # Where the page starts (after ``cursor``) or ends (before ``before``): a row key, or a
    # place in a date window's order (``window_order.Place``).
    cursor: int | window_order.Place | None = None
    before: int | window_order.Place | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    # "default" unless the client says: a first page that holds every match gives its total
    # without counting; otherwise the matches are counted up to a limit (``_default_total``).
    total: str = "default"
    unsupported: list[str] = field(default_factory=list)
    extra: list[Cond] = field(default_factory=list)  # e.g. a compartment
    system_level: bool = False


@dataclass
class SearchPage:
    rows: list[Stored]
    keys: list[int]
    included: list[Stored]
    total: int | None
    has_more: bool
    # The cursors of the next page (``_cursor``) and of the previous one (``_before``; None
    # when no page comes before this one).
    after: int | window_order.Place | None = None
    before: int | window_order.Place | None = None


def cursor_text(cursor: int | window_order.Place) -> str:
    """A cursor as a paging link writes it."""
    return str(cursor) if isinstance(cursor, int) else window_order.place_text(cursor)


def _int(name: str, value: str, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise SearchError(f"{name} must be an integer, got '{value}'", expression=name) from None
    if n < lo:
        raise SearchError(f"{name} must be {lo} or more, got {n}", expression=name)
    return min(hi, n)  # past the most a page holds: the most (links say what was used)


def parse(
    rtype: str | None, params: list[tuple[str, str]], *, strict: bool = False
) -> SearchRequest:
    types = None
    for k, v in params:
        if k == "_type":
            types = [t for t in sv.split_or(v)]
            for t in types:
                if not definitions.is_resource_type(t):
                    raise SearchError(f"_type: '{t}' is not a resource type", expression="_type")
    rtypes = [rtype] if rtype else (types or sorted(definitions.resource_types()))
    req = SearchRequest(rtypes, system_level=rtype is None)
    for name, value in params:
        base, _, modifier = name.partition(":")
        if name in CONTROL or base in CONTROL:
            _control(req, base, modifier, value)
            continue
        if base.startswith("_has") or name.startswith("_has:"):
            req.filters.append(Filter(name, None, [value]))
            continue
        if base in SPECIAL:
            req.filters.append(Filter(base, modifier or None, [value]))
            continue
        head = base.split(".", 1)[0]
        known = all(definitions.search_params(t).get(head) for t in rtypes)
        if known and _not_answered(rtypes, head):
            # Defined, but not answered here (near needs a geographic index; _query and
            # _filter are languages of their own): treated as an unknown parameter.
            if strict:
                raise NotSupported(
                    f"Search parameter '{head}' is not supported by this server",
                    expression=name,
                )
            req.unsupported.append(name)
            continue
        if not known:
            if strict:
                raise SearchError(
                    f"Unknown search parameter '{name}' for {', '.join(rtypes[:3])}",
                    expression=name,
                )
            req.unsupported.append(name)
            continue
        if "." in base or "." in name:
            req.filters.append(Filter(name, None, [value]))
        else:
            req.filters.append(Filter(base, modifier or None, [value]))
    return req


def _not_answered(rtypes: list[str], name: str) -> bool:
    if name == "_query":  # a named query: the server defines none
        return True
    return any(definitions.search_params(t)[name]["type"] == "special" for t in rtypes)


def _control(req: SearchRequest, name: str, modifier: str, value: str) -> None:
    if name == "_count":
        req.count = _int(name, value, 0, MAX_COUNT)
    elif name == "_offset":
        req.offset = _int(name, value, 0, 10**9)
    elif name in ("_cursor", "_before"):
        place = (
            window_order.parse_place(name, value) if "." in value else _int(name, value, 0, 2**62)
        )
        setattr(req, "cursor" if name == "_cursor" else "before", place)
    elif name == "_total":
        if value not in ("none", "estimate", "accurate"):
            raise SearchError("_total must be none, estimate or accurate", expression="_total")
        req.total = value
    elif name == "_sort":
        for key in sv.split_or(value):
            desc = key.startswith("-")
            key = key.lstrip("-")
            if key not in ("_id", "_lastUpdated"):
                for t in req.rtypes:
                    if not definitions.search_params(t).get(key):
                        raise SearchError(f"_sort: unknown parameter '{key}'", expression="_sort")
            req.sort.append((key, desc))
    elif name in ("_include", "_revinclude"):
        for item in sv.split_or(value):
            parts = item.split(":")
            if parts == ["*"]:
                inc = Include("*", None, None, modifier == "iterate")
            elif len(parts) in (2, 3):
                source, param = parts[0], parts[1]
                if not definitions.is_resource_type(source):
                    raise SearchError(f"{name}: '{source}' is not a resource type", expression=name)
                if param != "*":
                    d = definitions.search_params(source).get(param)
                    if d is None or d["type"] != "reference":
                        raise SearchError(
                            f"{name}: '{source}:{param}' is not a reference parameter",
                            expression=name,
                        )
                target = parts[2] if len(parts) == 3 else None
                inc = Include(source, None if param == "*" else param, target,
                              modifier in ("iterate", "recurse"))  # fmt: skip
            else:
                raise SearchError(f"{name} expects Type:parameter[:target]", expression=name)
            (req.includes if name == "_include" else req.revincludes).append(inc)
    # _summary, _elements, _format, _pretty, _since, _contained: handled by the caller


def compartment_condition(compartment: str, cid: str, rtype: str) -> Cond | None:
    """Membership of ``rtype`` resources in the compartment, from the official definition."""
    if compartment == "Patient":
        return Cond(
            "r.id IN (SELECT resource_id FROM fhir_compartment WHERE compartment_type = ? "
            "AND compartment_id = ?)",
            ["Patient", cid],
            rank=-2,  # one patient's resources: the search leads with them
        )
    params = definitions.index()["compartments"].get(compartment, {}).get(rtype)
    if not params:
        return None
    compiler = Compiler([rtype])
    conds = []
    for p in params:
        if p == "{def}":
            continue
        conds.append(compiler.filter(Filter(p, None, [f"{compartment}/{cid}"])))
    if not conds:
        return None
    return Cond("(" + " OR ".join(c.sql for c in conds) + ")", [a for c in conds for a in c.args])


def patient_keys(pid: str) -> Cond:
    """The resources of a patient's compartment and the Patient itself, as one key list (an
    ``OR`` beside it made PostgreSQL evaluate the compartment for every row of the table)."""
    return Cond(
        "r.id IN (SELECT resource_id FROM fhir_compartment WHERE compartment_type = ? "
        "AND compartment_id = ? UNION ALL SELECT p.id FROM fhir_resource p "
        "WHERE p.resource_type = ? AND p.fhir_id = ?)",
        ["Patient", pid, "Patient", pid],
    )


# ---------------------------------------------------------------------------- access


def _allowed_types(req: SearchRequest) -> None:
    """Keep the types the caller may search; a search of only forbidden types is refused."""
    policy = access.current()
    if policy is None:
        return
    allowed = [t for t in req.rtypes if policy.permits("s", t)]
    if not allowed or (len(req.rtypes) == 1 and not req.system_level):
        for t in req.rtypes:
            access.require("s", t)
    req.rtypes = allowed


def _restrictions(rtypes: list[str], action: str) -> list[Cond]:
    """SQL for the caller's patient restriction and granular scope constraints on ``rtypes``."""
    policy = access.current()
    if policy is None:
        return []
    conds: list[Cond] = []
    by_patient: dict[str, list[str]] = {}
    for t in rtypes:
        pid = policy.patient_for(action, t)
        if pid is not None:
            by_patient.setdefault(pid, []).append(t)
    for pid, types in by_patient.items():
        shared = [t for t in types if t in access.SHARED_TYPES]
        own = patient_keys(pid)
        text = "(" + own.sql
        args: list = list(own.args)
        if shared:
            text += " OR r.resource_type IN (" + ",".join("?" * len(shared)) + ")"
            args += shared
        text += ")"
        if len(types) < len(rtypes):  # other types are not limited to this patient
            others = [t for t in rtypes if t not in types]
            text = f"(r.resource_type IN ({','.join('?' * len(others))}) OR {text})"
            args = [*others, *args]
        conds.append(Cond(text, args))
    for t in rtypes:
        lists = policy.constraints(action, t)
        if not lists:
            continue
        ors = []
        for params in lists:
            sub = parse(t, params, strict=True)
            compiler = Compiler([t])
            ors.append(and_([compiler.filter(f) for f in sub.filters]))
        either = Cond(
            "(" + " OR ".join(f"({c.sql})" for c in ors) + ")", [a for c in ors for a in c.args]
        )
        if len(rtypes) == 1:
            conds.append(either)
        else:
            conds.append(Cond(f"(r.resource_type <> ? OR {either.sql})", [t, *either.args]))
    return conds


def visible_ids(rtype: str, ids: list[str], action: str = "r") -> set[str]:
    """Which of these resources the caller may see (type permission, patient, scope limits)."""
    policy = access.current()
    if policy is None or not ids:
        return set(ids)
    if not policy.permits(action, rtype):
        return set()
    conds = _restrictions([rtype], action)
    if not conds:
        return set(ids)
    where = and_(conds)
    cur = raw_cursor()
    marks = ",".join("?" * len(ids))
    cur.execute(
        sql(
            f"SELECT r.fhir_id FROM fhir_resource r WHERE r.resource_type = ? "
            f"AND r.fhir_id IN ({marks}) AND {where.sql}"
        ),
        [rtype, *ids, *where.args],
    )
    return {row[0] for row in cur.fetchall()}


def _visible(found: list[Stored]) -> list[Stored]:
    """Included resources the caller may read; the rest are left out silently."""
    if access.current() is None or not found:
        return found
    by_type: dict[str, list[str]] = {}
    for s in found:
        by_type.setdefault(s.resource_type, []).append(s.id)
    keep = {(t, i) for t, ids in by_type.items() for i in visible_ids(t, ids, "r")}
    return [s for s in found if (s.resource_type, s.id) in keep]


# Bounds of the successive rounds of ``_lead_with_fewest``: each round reads at most this many
# keys of each candidate (and fewer once one candidate has come in under it).
PROBE_ROUNDS = (1_000, 10_000, 100_000)
PROBE_CANDIDATES = 4


def _count_keys(cur, cond: Cond, bound: int) -> int:
    """How many keys ``cond`` would lead with, counted up to ``bound``."""
    cur.execute(sql(f"SELECT COUNT(*) FROM ({cond.countable()} LIMIT ?) p"), [*cond.args, bound])
    return cur.fetchone()[0]


def _lead_with_fewest(conds: list[Cond]) -> int | None:
    """Put first the condition with the fewest keys, when the static order cannot tell.

    The rank of a condition says what usually narrows most: one patient's references, a short
    date window, a resource id. When none of those leads, the candidates (codes, strings,
    chains, longer windows, reverse chains) differ by orders of magnitude with the data: a
    heart-rate code matches a tenth of all Observations, a rare code a handful, a chain from a
    family name the few hundred Observations of a few patients. So their key lists are counted
    in rounds with a bound that grows tenfold (a bounded prefix of an index, in key order),
    and the first round in which one comes in under the bound picks the smallest. The probes
    cost at most a few times the keys the chosen lead is read for anyway; if every candidate
    passes the last bound, the static order stays.

    Returns what was learnt of the leading condition's keys: their number, or the last bound
    if it has at least that many; None when nothing was counted.
    """
    if len(conds) < 2 or conds[0].rank <= 0:
        return None
    # A window's own bounds are never narrower than the window: they are not candidates.
    covered = [f for c in conds for f in c.covers]
    candidates = [
        c for c in conds if c.countable() is not None and not any(c.origin is f for f in covered)
    ][:PROBE_CANDIDATES]
    if len(candidates) < 2:
        return None
    cur = raw_cursor()
    for bound in PROBE_ROUNDS:
        best, fewest = None, bound
        for cond in candidates:
            found = _count_keys(cur, cond, fewest)
            if found < fewest:
                best, fewest = cond, found
        if best is not None:
            conds.insert(0, conds.pop(next(i for i, c in enumerate(conds) if c is best)))
            return fewest
    return PROBE_ROUNDS[-1] if any(conds[0] is c for c in candidates) else None


def _per_row(conds: list[Cond]) -> list[Cond]:
    """Conditions that do not lead, in their per-row form (or left out if they only narrow)."""
    return [
        Cond(c.per_row, c.args) if c.per_row is not None else c for c in conds if not c.only_leads
    ]


@dataclass
class Where:
    """A search's WHERE clause; and, when every condition reads the index tables alone, the
    leading one's keys and the others' checks on them, to count without reading resources."""

    cond: Cond
    keys: Cond | None = None
    checks: list[Cond] = field(default_factory=list)
    # Every condition in its per-row form, for a page read in the order of a date index
    # (``_sorted_by_walk``); set when the search sorts by a date and the matches are many.
    walk: Cond | None = None
    # A search led by a date window and not sorted pages in the window's date order
    # (``window_order``): the window, and every other condition in its per-row form.
    window: DateWindow | None = None
    window_checks: Cond | None = None


def _window_paged(req: SearchRequest, lead: Cond | None) -> bool:
    """Whether the page is read in the date order of its leading window (``window_order``):
    for an unsorted search of one type led by a date window, unless its cursor is a row key
    (a link written before the window led)."""
    return (
        lead is not None
        and lead.window is not None
        and len(lead.window.hash_params) == 1
        and not (req.sort or req.offset or req.extra)
        and len(req.rtypes) == 1
        and not isinstance(req.cursor, int)
        and not isinstance(req.before, int)
    )


def _lead_with_window(req: SearchRequest, conds: list[Cond]) -> None:
    """Put the date window first for a page whose cursor is a place in its order."""
    window = next((c for c in conds if c.window is not None), None)
    if window is None or not _window_paged(req, window):
        name = "_cursor" if req.cursor is not None else "_before"
        raise SearchError(f"{name} must come from a paging link", expression=name)
    conds.insert(0, conds.pop(next(i for i, c in enumerate(conds) if c is window)))


def _where(req: SearchRequest) -> Where:
    """The search's WHERE clause: its most selective condition leads as a key list (``IN``),
    the others are checked per row (``EXISTS``), and the type test is kept off the planner's
    index choice on SQLite (``+r.resource_type``) so that it never drives the scan."""
    _allowed_types(req)
    compiler = Compiler(req.rtypes)
    conds = compiler.date_windows(req.filters)
    for f in req.filters:
        cond = compiler.filter(f)
        cond.origin = f
        conds.append(cond)
    conds.sort(key=lambda c: c.rank)
    # A condition from the request's context (a patient compartment) may lead instead.
    led = any(c.rank < conds[0].rank for c in req.extra) if conds else True
    lead_keys = None
    if isinstance(req.cursor, tuple) or isinstance(req.before, tuple):
        _lead_with_window(req, conds)
        led = False
    elif not led:
        lead_keys = _lead_with_fewest(conds)
    lead = None if led else conds[0]
    rest = conds if lead is None else [
        c for c in conds[1:] if not any(c.origin is f for f in lead.covers)
    ]  # fmt: skip
    shaped = ([lead] if lead is not None else []) + _per_row(rest)
    leading = bool(conds) or bool(req.extra)
    column = "+r.resource_type" if leading and connection.vendor == "sqlite" else "r.resource_type"
    type_cond = (
        Cond(f"{column} = ?", [req.rtypes[0]])
        if len(req.rtypes) == 1
        else Cond(f"{column} IN (" + ",".join("?" * len(req.rtypes)) + ")", list(req.rtypes))
    )
    limits = _restrictions(req.rtypes, "s")
    live = Cond("r.deleted = ?", [False])
    where = and_([*req.extra, *shaped, *limits, type_cond, live])
    plain_type = Cond("r.resource_type = ?", [req.rtypes[0]])
    plan = Where(where)
    if _walks(req, lead, bool(conds), lead_keys):
        plan.walk = and_([*_per_row(conds), *limits, plain_type, live])
    if _window_paged(req, lead):
        plan.window = lead.window
        plan.window_checks = and_([*_per_row(rest), *limits, plain_type, live])
    if lead is None or lead.keys is None or req.extra or limits:
        return plan
    if not all(c.index_only for c in rest if not c.only_leads):
        return plan
    plan.keys, plan.checks = Cond(lead.keys, lead.args), _per_row(rest)
    return plan


# A search sorted by a date whose leading condition has at least this many keys reads its page
# in the date index's order (``_sorted_by_walk``) instead of sorting every match.
WALK_FROM = 20_000


def _walks(req: SearchRequest, lead: Cond | None, filtered: bool, lead_keys: int | None) -> bool:
    """Whether a page sorted by a date is read by walking the date index: when the matches
    are many (everything of the type, or a lead of at least ``WALK_FROM`` keys), the first
    page's worth of them comes early in date order, while sorting them would read them all.
    ``lead_keys``: the lead's keys as counted when it was chosen, if they were."""
    if not req.sort or req.extra or len(req.rtypes) != 1 or req.sort[0][0].startswith("_"):
        return False
    kind = definitions.search_params(req.rtypes[0]).get(req.sort[0][0], {}).get("type")
    if kind != "date":
        return False
    if not filtered:
        return True
    if lead is None or lead.countable() is None:
        return False
    if lead_keys is None:
        lead_keys = _count_keys(raw_cursor(), lead, WALK_FROM)
    return lead_keys >= WALK_FROM


_SORT_SQL = {
    "string": ("fhir_string", "value_norm", "value_norm"),
    "token": ("fhir_token", "code", "code"),
    "date": ("fhir_date", "low_us", "high_us"),
    "number": ("fhir_number", "value", "value"),
    "quantity": ("fhir_quantity", "value", "value"),
    "reference": ("fhir_reference", "target_id", "target_id"),
    "uri": ("fhir_uri", "value", "value"),
}


def _order(req: SearchRequest, skip: int = 0) -> tuple[str, list]:
    """The ORDER BY of a sorted search (after its first ``skip`` keys): a resource sorts by
    its lowest value ascending and its highest descending, those without one last, and
    ties by the row key."""
    parts, args = [], []
    for key, desc in req.sort[skip:]:
        direction = "DESC" if desc else "ASC"
        if key == "_id":
            parts.append(f"r.fhir_id {direction}")
            continue
        if key == "_lastUpdated":
            parts.append(f"r.updated_us {direction}")
            continue
        kind = definitions.search_params(req.rtypes[0])[key]["type"]
        if kind not in _SORT_SQL:
            raise NotSupported(f"_sort on {kind} parameters is not supported", expression="_sort")
        table, asc_col, desc_col = _SORT_SQL[kind]
        fn, col = ("MAX", desc_col) if desc else ("MIN", asc_col)
        hashes = [hash64(t, key) for t in req.rtypes]
        hp = "hash_param IN (" + ",".join("?" * len(hashes)) + ")"
        sub = f"(SELECT {fn}({col}) FROM {table} x WHERE x.resource_id = r.id AND x.{hp})"
        parts.append(f"CASE WHEN {sub} IS NULL THEN 1 ELSE 0 END, {sub} {direction}")
        args.extend(hashes * 2)
    parts.append("r.id ASC")
    return ", ".join(parts), args


def _sorted_by_walk(req: SearchRequest, walk: Cond, cur) -> list | None:
    """The page of a search sorted first by a date, read in the date index's order.

    Each resource is met at its own sort value (its latest end descending, its earliest
    start ascending: one row per resource, the first by that order), every condition is
    checked on it, and the walk stops once the page and one more are found. The order is
    the sorted query's: resources without the date come after all others, so a page filled
    from the walk is exactly that query's page. If the walk runs out first (few matches,
    or some without the date), this returns None and the page is sorted the usual way.
    """
    key, desc = req.sort[0]
    col, direction = ("high_us", "DESC") if desc else ("low_us", "ASC")
    rest, rest_args = _order(req, skip=1)
    cur.execute(
        sql(
            f"SELECT {_COLUMNS} FROM fhir_date d CROSS JOIN fhir_resource r "
            f"WHERE d.hash_param = ? AND r.id = d.resource_id AND d.seq = (SELECT x.seq "
            "FROM fhir_date x WHERE x.resource_id = d.resource_id AND x.hash_param = "
            f"d.hash_param ORDER BY x.{col} {direction}, x.seq LIMIT 1) AND {walk.sql} "
            f"ORDER BY d.{col} {direction}, {rest} LIMIT ? OFFSET ?"
        ),
        [hash64(req.rtypes[0], key), *walk.args, *rest_args, req.count + 1, req.offset],
    )
    rows = cur.fetchall()
    return rows if len(rows) > req.count else None


_COLUMNS = "r.id, r.resource_type, r.fhir_id, r.version_id, r.updated_us, r.content"


def _stored(row) -> Stored:
    return Stored(row[1], row[2], row[3], row[4], False, row[5])


def _count(cur, plan: Where, limit: int | None = None) -> int:
    """The number of matches; with ``limit``, counting stops there (the work is bounded too)."""
    if plan.keys is not None:  # on the leading keys, from the index: no resource row is read
        keys, checks = plan.keys, and_(plan.checks)
        matches = (
            f"FROM (SELECT DISTINCT k.resource_id AS id FROM ({keys.sql}) k) r WHERE {checks.sql}"
        )
        args = [*keys.args, *checks.args]
    else:
        matches, args = f"FROM fhir_resource r WHERE {plan.cond.sql}", list(plan.cond.args)
    if limit is None:
        cur.execute(sql(f"SELECT COUNT(*) {matches}"), args)
    else:
        cur.execute(sql(f"SELECT COUNT(*) FROM (SELECT 1 {matches} LIMIT ?) x"), [*args, limit])
    return cur.fetchone()[0]


def _default_total(cur, plan: Where) -> int | None:
    """The total nobody asked for, past a first page that does not hold every match: by
    default (``EHR_SEARCH_DEFAULT_TOTAL``) none.

    Counting is work in proportion to the matches, so a default total would make a day's
    Observations slower as the practice's data grows: counted up to 1,000 matches, a week's
    page grew 1.40 to 1.46 times from 1,000 to 64,000 patients, and 1.16 to 1.30 without the
    count (docs/benchmarks.md). A client that wants the figure
    asks for it (``_total=accurate``, ``_total=estimate``, ``_summary=count``). An operator may
    have it counted up to a bound, or in full; past the bound (or the count's time limit) the
    Bundle has no ``total``.
    """
    limit = settings.EHR_SEARCH_DEFAULT_TOTAL
    if limit is None:
        return None
    try:
        with budget.limit(budget.count_seconds(), "Counting the matches"):
            counted = _count(cur, plan, limit + 1 if limit > 0 else None)
    except budget.TooCostly:
        return None
    return counted if limit <= 0 or counted <= limit else None


def run(req: SearchRequest) -> SearchPage:
    """One page of results, under the search time limit (``budget``)."""
    cur = raw_cursor()
    with budget.limit(budget.search_seconds()):
        plan = _where(req)
        found = _page(req, plan, cur)
        page = [_stored(r) for r in found.rows]
        keys = [r[0] for r in found.rows]
        included = _includes(req, page, keys) if (req.includes or req.revincludes) else []
    total = found.total
    if req.count == 0:
        return SearchPage([], [], [], total, False)
    ends = found.places if found.places is not None else keys
    if req.total == "default":
        whole = (
            req.cursor is None and req.before is None and not found.has_more
            and (found.rows or not req.offset)
        )  # fmt: skip
        total = req.offset + len(found.rows) if whole else _default_total(cur, plan)
    return SearchPage(
        page, keys, _visible(included), total, found.has_more,
        after=ends[-1] if ends else None,
        before=ends[0] if ends and found.has_previous else None,
    )  # fmt: skip


@dataclass
class _Rows:
    """A page as read: its rows, the count asked for, and whether pages lie on either side."""

    total: int | None
    rows: list
    has_more: bool = False
    has_previous: bool = False
    # Each row's place in the date window's order, when the page is read in it.
    places: list | None = None


def _page(req: SearchRequest, plan: Where, cur) -> _Rows:
    """The page's rows (and the count the client asked for)."""
    where = plan.cond
    total = None
    if req.total == "accurate" or (req.total == "default" and req.count == 0):
        total = _count(cur, plan)
    elif req.total == "estimate":
        total = _count(cur, plan, ESTIMATE_CAP)
    if req.count == 0:
        return _Rows(total, [])
    if plan.window is not None:
        return _window_page(req, plan, cur, total)
    if req.sort or req.offset:
        walked = _sorted_by_walk(req, plan.walk, cur) if plan.walk is not None else None
        if walked is not None:
            return _Rows(total, walked[: req.count], True, req.offset > 0)
        order, oargs = _order(req)
        cur.execute(
            sql(
                f"SELECT {_COLUMNS} FROM fhir_resource r WHERE {where.sql} "
                f"ORDER BY {order} LIMIT ? OFFSET ?"
            ),
            [*where.args, *oargs, req.count + 1, req.offset],
        )
        rows = cur.fetchall()
        return _Rows(total, rows[: req.count], len(rows) > req.count, req.offset > 0)
    if req.before is not None:
        cur.execute(
            sql(
                f"SELECT {_COLUMNS} FROM fhir_resource r WHERE {where.sql} AND r.id < ? "
                "ORDER BY r.id DESC LIMIT ?"
            ),
            [*where.args, req.before, req.count + 1],
        )
        rows = cur.fetchall()
        # there is always a next page after a previous page
        return _Rows(total, rows[: req.count][::-1], True, len(rows) > req.count)
    extra = " AND r.id > ?" if req.cursor is not None else ""
    args = [*where.args, *([req.cursor] if req.cursor is not None else [])]
    cur.execute(
        sql(f"SELECT {_COLUMNS} FROM fhir_resource r WHERE {where.sql}{extra} "
            "ORDER BY r.id LIMIT ?"),
        [*args, req.count + 1],
    )  # fmt: skip
    rows = cur.fetchall()
    return _Rows(total, rows[: req.count], len(rows) > req.count, req.cursor is not None)


def _window_page(req: SearchRequest, plan: Where, cur, total: int | None) -> _Rows:
    """A page in the date order of the leading window."""
    assert plan.window is not None and plan.window_checks is not None
    statement, args = window_order.page_query(
        plan.window, plan.window_checks, _COLUMNS, req.count + 1,
        after=req.cursor, before=req.before,  # type: ignore[arg-type]
    )  # fmt: skip
    cur.execute(sql(statement), args)
    found = cur.fetchall()
    if req.before is not None:  # read backwards; and there is always a page after it
        more_before = len(found) > req.count
        found, has_more, has_previous = found[: req.count][::-1], True, more_before
    else:
        has_more, has_previous = len(found) > req.count, req.cursor is not None
        found = found[: req.count]
    places = [(r[0], r[1], r[2]) for r in found]
    return _Rows(total, [r[2:] for r in found], has_more, has_previous, places)


def _includes(req: SearchRequest, page: list[Stored], keys: list[int]) -> list[Stored]:
    seen = {(s.resource_type, s.id) for s in page}
    out: list[Stored] = []
    frontier_keys = keys
    frontier = page
    for depth in range(4):
        found: list[tuple[int, Stored]] = []
        for inc in req.includes:
            if depth > 0 and not inc.iterate:
                continue
            found += _forward(inc, frontier_keys, frontier)
        for inc in req.revincludes:
            if depth > 0 and not inc.iterate:
                continue
            found += _reverse(inc, frontier)
        new = []
        for key, s in found:
            if (s.resource_type, s.id) not in seen and len(out) < MAX_INCLUDED:
                seen.add((s.resource_type, s.id))
                out.append(s)
                new.append((key, s))
        if not new:
            break
        frontier_keys = [k for k, _ in new]
        frontier = [s for _, s in new]
    return out


def _param_hashes(inc: Include, frontier: list[Stored]) -> list[int]:
    if inc.source == "*" or inc.param is None:
        sources = {s.resource_type for s in frontier} if inc.source == "*" else {inc.source}
        return [
            hash64(t, name)
            for t in sources
            for name, d in definitions.search_params(t).items()
            if d["type"] == "reference"
        ]
    return [hash64(inc.source, inc.param)]


def _forward(inc: Include, keys: list[int], frontier: list[Stored]) -> list[tuple[int, Stored]]:
    if not keys:
        return []
    hashes = _param_hashes(inc, frontier)
    if not hashes:  # `_include=*` on types without reference parameters
        return []
    target = " AND ref.target_type = ?" if inc.target else ""
    cur = raw_cursor()
    cur.execute(
        sql(
            # Each target once (many results share a patient or a performer), found as a set
            # of (type, id) first, so that no resource body is copied to deduplicate.
            f"SELECT {_COLUMNS} FROM fhir_resource r WHERE (r.resource_type, r.fhir_id) IN "
            "(SELECT ref.target_type, ref.target_id FROM fhir_reference ref "
            f"WHERE ref.resource_id IN ({','.join('?' * len(keys))}) "
            f"AND ref.hash_param IN ({','.join('?' * len(hashes))}){target}) AND r.deleted = ?"
        ),
        [*keys, *hashes, *([inc.target] if inc.target else []), False],
    )
    return [(r[0], _stored(r)) for r in cur.fetchall()]


def _reverse(inc: Include, frontier: list[Stored]) -> list[tuple[int, Stored]]:
    if not frontier or inc.param is None:
        return []
    out = []
    by_type: dict[str, list[str]] = {}
    for s in frontier:
        by_type.setdefault(s.resource_type, []).append(s.id)
    cur = raw_cursor()
    for rtype, ids in by_type.items():
        cur.execute(
            sql(
                f"SELECT {_COLUMNS} FROM fhir_resource r WHERE r.id IN (SELECT ref.resource_id "
                "FROM fhir_reference ref WHERE ref.hash_param = ? AND ref.target_type = ? "
                f"AND ref.target_id IN ({','.join('?' * len(ids))})) AND r.deleted = ?"
            ),
            [hash64(inc.source, inc.param), rtype, *ids, False],
        )
        out += [(r[0], _stored(r)) for r in cur.fetchall()]
    return out


def match_ids(rtype: str, params: list[tuple[str, str]], limit: int = 2) -> list[str]:
    """Ids matching a conditional request's criteria (every parameter must be understood)."""
    req = parse(rtype, params, strict=True)
    if not req.filters:
        raise FhirError("A conditional request needs search criteria")
    where = _where(req).cond
    cur = raw_cursor()
    cur.execute(
        sql(f"SELECT r.fhir_id FROM fhir_resource r WHERE {where.sql} LIMIT ?"),
        [*where.args, limit],
    )
    return [r[0] for r in cur.fetchall()]
