"""Paging a search led by a date window in the order of its dates.

Without ``_sort`` the order of the matches is the server's to choose. Paged by row key, a
window's page must gather every key in the window before it can take the first of them: at
64,000 patients a day holds about 5,300 Observations, all read for a page of 50. Paged in
date order, a page reads the window's index from its start (or from the cursor) and stops when
the page is full, however much the window holds.

A resource is met once, at one row of the parameter: its only value or, when it has several,
its envelope row (the span of them all, ``index_values.envelope_hash``), which matches the
window whenever any of its values does, or when the values meet the two bounds separately.
A value with siblings is told from the index entry (its ``seq`` is negative), so no row of
the page costs a lookup of its envelope.
Its place in the order is that row's ``(low_us, high_us, key)``, and the cursor of the next
page is the last row's place. The rows come from the window's ranges (``query.window_ranges``:
values starting from an hour before it, longer ones from the day before that, longer still from
before) and its envelopes, each range read in that order and cut to the page; one statement
merges them.
"""

from __future__ import annotations

from ehr.fhir.search.index_values import envelope_hash
from ehr.fhir.search.query import Cond, DateWindow, SearchError, envelope_range, window_ranges

Place = tuple[int, int, int]  # (low_us, high_us, resource key)

# A row standing for its resource: the resource has no other value of the parameter (a value
# with siblings has a negative seq: ``index_writer.date_seq``), read from the index entry.
_SINGLE = "d.seq >= 0"
_BEYOND = 2**63
_ORDER = "d.low_us {0}, d.high_us {0}, d.resource_id {0}"


def parse_place(name: str, value: str) -> Place:
    """A cursor written by ``place_text``."""
    try:
        low, high, key = (int(p) for p in value.split("."))
    except ValueError:
        low = high = key = _BEYOND
    if max(abs(low), abs(high), abs(key)) >= _BEYOND:  # not a value the database holds
        raise SearchError(f"{name} must come from a paging link", expression=name)
    return low, high, key


def place_text(place: Place) -> str:
    return ".".join(str(p) for p in place)


def page_query(
    window: DateWindow, checks: Cond, columns: str, limit: int, after: Place | None = None,
    before: Place | None = None,
) -> tuple[str, list]:  # fmt: skip
    """The statement reading ``limit`` matches after ``after`` (or the last ``limit`` before
    ``before``, last first), each row ``(low_us, high_us, *columns)``."""
    (hp,) = window.hash_params
    start, end = window.start, window.end
    backward = before is not None
    cursor = before if backward else after
    direction = "DESC" if backward else "ASC"
    low_from = low_to = None
    if cursor is not None:
        if backward:
            low_to = cursor[0] + 1
        else:
            low_from = cursor[0]
    parts = [
        (f"d.hash_param = ? AND {where} AND {_SINGLE}", [hp, *where_args], hint)
        for where, where_args, hint in window_ranges("d.", start, end, low_from, low_to)
    ]
    envelope, envelope_args = envelope_range("d.", start, end)
    parts.append((f"d.hash_param = ? AND {envelope}", [envelope_hash(hp), *envelope_args], ""))
    selects, args = [], []
    for n, (where, where_args, hint) in enumerate(parts):
        # The first two ranges are read in their index's order; the others from their own
        # range indexes (on where the values end) and sorted: ordered by a plain ``d.low_us``,
        # SQLite would read every envelope of the parameter through the covering index.
        order = _ORDER.format(direction) if n < 2 else "+" + _ORDER.format(direction)
        if cursor is not None:
            op = "<" if backward else ">"
            where += f" AND (d.low_us, d.high_us, d.resource_id) {op} (?, ?, ?)"
            where_args = [*where_args, *cursor]
        selects.append(
            f"SELECT * FROM (SELECT d.low_us AS w_low, d.high_us AS w_high, {columns} "
            f"FROM fhir_date d{hint} CROSS JOIN fhir_resource r WHERE {where} "
            f"AND r.id = d.resource_id AND {checks.sql} "
            f"ORDER BY {order} LIMIT ?) w{n}"
        )
        args += [*where_args, *checks.args, limit]
    statement = " UNION ALL ".join(selects) + f" ORDER BY 1 {direction}, 2 {direction}, " \
        f"3 {direction} LIMIT ?"  # fmt: skip
    return statement, [*args, limit]
