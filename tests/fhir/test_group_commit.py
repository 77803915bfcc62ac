"""The SQLite group commit: several requests' writes in one transaction, each undone alone.

A batch of writes that may run twice (single-resource creates and updates) runs without
savepoints; if one fails, the batch is rolled back and runs again with a savepoint each.
These tests run one batch directly, so that which write fails, and how often each ran, is
known.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from ehr.fhir.errors import FhirError
from ehr.fhir.storage import repository as repo
from ehr.fhir.storage.db import RolledBack, _GroupCommit, _Job, raw_cursor, sql

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the group commit is how SQLite writes; PostgreSQL "
    "commits each request's transaction on its own"
)  # fmt: skip


class Writes:
    """Jobs that each create one Patient named ``Group-<n>``, and count their runs."""

    def __init__(self):
        self.runs: dict[int, int] = {}

    def job(self, n: int, *, replayable: bool = True, fail: Exception | None = None) -> _Job:
        def write():
            self.runs[n] = self.runs.get(n, 0) + 1
            stored = repo.create({"resourceType": "Patient", "name": [{"family": f"Group-{n}"}]})
            if fail is not None:
                raise fail
            return stored

        return _Job(write, replayable)


def _families() -> set[str]:
    cur = raw_cursor()
    cur.execute(sql("SELECT content FROM fhir_resource WHERE resource_type = ?"), ("Patient",))
    return {row[0].split('"family":"')[1].split('"')[0] for row in cur.fetchall()}


def test_a_batch_that_succeeds_runs_each_write_once(transactional_db):
    w = Writes()
    batch = [w.job(n) for n in range(4)]
    _GroupCommit._execute(batch)
    assert all(job.error is None and job.result.resource_type == "Patient" for job in batch)
    assert w.runs == {0: 1, 1: 1, 2: 1, 3: 1}
    assert _families() == {"Group-0", "Group-1", "Group-2", "Group-3"}


def test_a_failing_write_is_undone_alone_after_the_batch_runs_again(transactional_db):
    w = Writes()
    refused = FhirError("refused by the test", status=409)
    batch = [w.job(0), w.job(1), w.job(2, fail=refused), w.job(3)]
    _GroupCommit._execute(batch)
    assert batch[2].error is refused
    assert [job.error for job in (batch[0], batch[1], batch[3])] == [None, None, None]
    # The first pass stopped at the failure; the second ran every write with a savepoint.
    assert w.runs == {0: 2, 1: 2, 2: 2, 3: 1}
    assert _families() == {"Group-0", "Group-1", "Group-3"}
    assert {job.result.id for job in batch if job.error is None} == _ids()


def test_a_batch_with_a_write_that_must_not_run_twice_keeps_its_savepoints(transactional_db):
    w = Writes()
    batch = [w.job(0, replayable=False), w.job(1, fail=FhirError("refused")), w.job(2)]
    _GroupCommit._execute(batch)
    assert w.runs == {0: 1, 1: 1, 2: 1}
    assert isinstance(batch[1].error, FhirError)
    assert _families() == {"Group-0", "Group-2"}


def test_an_error_swallowed_inside_a_write_still_undoes_that_write(transactional_db):
    w = Writes()

    def swallows():
        try:
            with transaction.atomic(savepoint=False):
                repo.create({"resourceType": "Patient", "name": [{"family": "Group-hidden"}]})
                raise ValueError("inside")
        except ValueError:
            pass

    batch = [w.job(0), _Job(swallows, True), w.job(2)]
    _GroupCommit._execute(batch)
    assert isinstance(batch[1].error, RolledBack)
    assert _families() == {"Group-0", "Group-2"}


def _ids() -> set[str]:
    cur = raw_cursor()
    cur.execute(sql("SELECT fhir_id FROM fhir_resource WHERE resource_type = ?"), ("Patient",))
    return {row[0] for row in cur.fetchall()}
