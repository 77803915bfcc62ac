"""``ehr audit verify``: walk the chain in seq order and report where it is broken."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ehr.audit.trail import COLUMNS, GENESIS, row_hash
from ehr.fhir.storage.db import raw_cursor, sql

_CHUNK = 5000
_SELECT = "SELECT {}, hash FROM audit_record WHERE seq > ? ORDER BY seq LIMIT {}".format(
    ", ".join(COLUMNS), _CHUNK
)


@dataclass
class Verdict:
    records: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    more: int = 0  # problems found beyond the ones listed

    @property
    def intact(self) -> bool:
        return not self.problems

    def add(self, problem: str, limit: int) -> None:
        if len(self.problems) < limit:
            self.problems.append(problem)
        else:
            self.more += 1


def _rows() -> Iterator[tuple]:
    cur = raw_cursor()
    after = 0
    while True:
        cur.execute(sql(_SELECT), (after,))
        chunk = cur.fetchall()
        if not chunk:
            return
        yield from chunk
        after = chunk[-1][0]


def verify(limit: int = 20) -> Verdict:
    """Recompute every hash and check every link, the numbering and the head.

    - a changed field: the row's own hash no longer matches (``hash mismatch``);
    - a deleted row: a gap in seq, and the next row's prev_hash names a row that is gone;
    - rows swapped or renumbered: seq is inside the hash, so both rows' hashes mismatch;
    - rows cut off the end: the last row is not the head recorded in ``audit_head``.
    """
    v = Verdict()
    expected_seq = 1
    prev = GENESIS
    for row in _rows():
        seq, stored = row[0], row[-1]
        values = row[:-1]
        v.records += 1
        if seq != expected_seq:
            if seq > expected_seq:
                gone = (
                    f"seq {expected_seq}"
                    if seq == expected_seq + 1
                    else f"seq {expected_seq}-{seq - 1}"
                )
                v.add(f"seq {seq}: records missing before it ({gone} deleted)", limit)
            else:
                v.add(f"seq {seq}: out of order after seq {expected_seq - 1}", limit)
        if values[-1] != prev:
            v.add(
                f"seq {seq}: prev_hash does not match the hash of the record before it "
                "(a record was removed, inserted or reordered here)",
                limit,
            )
        computed = row_hash(values)
        if computed != stored:
            v.add(f"seq {seq}: hash mismatch (the record was altered)", limit)
        prev = stored
        expected_seq = seq + 1
        v.last_seq, v.last_hash = seq, stored
    cur = raw_cursor()
    cur.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
    head = cur.fetchone()
    if head is None:
        v.add("audit_head is missing: cannot tell whether records were cut off the end", limit)
    else:
        head_seq, head_hash = int(head[0]), head[1]
        if head_seq > v.last_seq:
            v.add(
                f"seq {v.last_seq + 1}-{head_seq}: records cut off the end "
                f"(the head says the last record is seq {head_seq})",
                limit,
            )
        elif head_seq < v.last_seq:
            v.add(
                f"seq {head_seq + 1}-{v.last_seq}: records after the recorded head "
                f"(seq {head_seq}) were added outside the audit trail",
                limit,
            )
        elif head_hash != v.last_hash:
            v.add(f"seq {head_seq}: the last record does not match the recorded head", limit)
    return v


def run(out=None, err=None) -> int:
    """The command: 0 and ``audit trail intact: N records``, or 1 and the problems found."""
    import sys

    out = out or sys.stdout
    err = err or sys.stderr
    v = verify()
    if v.intact:
        print(f"audit trail intact: {v.records} records", file=out)
        print(f"head: seq {v.last_seq} hash {v.last_hash}", file=out)
        return 0
    print(f"audit trail BROKEN ({v.records} records read):", file=err)
    for problem in v.problems:
        print(f"  {problem}", file=err)
    if v.more:
        print(f"  ... and {v.more} more problems", file=err)
    return 1
