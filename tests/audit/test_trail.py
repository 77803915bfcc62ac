"""The hash chain: append, verify, tamper detection, triggers, durability under concurrency."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import DatabaseError, connection, transaction

from ehr.audit import trail
from ehr.audit.events import record_event
from ehr.audit.models import AuditRecord
from ehr.audit.trail import AuditEntry, append, entry_for, record
from ehr.audit.verify import run, verify
from ehr.identity.principal import Principal

ALICE = Principal(
    kind="user",
    username="alice",
    role="provider",
    user_id=7,
    fhir_user="Practitioner/p1",
    client_id="growth-chart",
    token_id="tok-secret-123",
    source="10.0.0.9",
)


def _entries(n: int, **kw) -> list[AuditEntry]:
    return [
        entry_for(ALICE, "read", resource_type="Patient", resource_id=f"p{i}", version=1, **kw)
        for i in range(n)
    ]


def _last_seq() -> int:
    return AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _raw(statement: str, params=()) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def _drop_triggers() -> None:
    """What an attacker with database access does first (undone with the test transaction)."""
    if connection.vendor == "postgresql":
        _raw("ALTER TABLE audit_record DISABLE TRIGGER USER")
        _raw("ALTER TABLE audit_head DISABLE TRIGGER USER")
    else:
        for name in (
            "audit_record_no_update",
            "audit_record_no_delete",
            "audit_head_forward",
            "audit_head_no_delete",
        ):
            _raw(f"DROP TRIGGER {name}")


@pytest.mark.django_db
def test_entry_for_fills_who_and_hides_secrets():
    e = entry_for(
        ALICE,
        "search",
        resource_type="Observation",
        query="?patient=p1&access_token=abc&client_secret=xyz&_count=10",
        status=200,
    )
    assert e.username == "alice" and e.role == "provider" and e.client_id == "growth-chart"
    assert e.fhir_user == "Practitioner/p1" and e.source == "10.0.0.9"
    assert e.query == "patient=p1&_count=10"
    assert e.session and "tok-secret" not in e.session and len(e.session) == 32
    glass = entry_for(
        Principal(kind="user", username="bob", break_glass=True, patient="Patient/p9"), "read"
    )
    assert glass.detail.startswith("[break-glass]") and glass.patient == "p9"
    assert entry_for(None, "login-failed", outcome="failed").username == "anonymous"
    with pytest.raises(ValueError):
        entry_for(ALICE, "read", outcome="maybe")


@pytest.mark.django_db
def test_append_chains_and_verify_passes():
    start = _last_seq()
    with transaction.atomic():
        append(_entries(3))
    record(_entries(2))
    record_event("login", ALICE, detail="password+totp")
    rows = list(AuditRecord.objects.filter(seq__gt=start).order_by("seq"))
    assert [r.seq for r in rows] == list(range(start + 1, start + 7))
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.hash
    assert rows[-1].action == "login" and rows[-1].detail == "password+totp"
    assert rows[0].version == "1" and rows[0].patient is None
    v = verify()
    assert v.intact, v.problems
    out = io.StringIO()
    assert run(out=out) == 0
    assert out.getvalue().startswith(f"audit trail intact: {v.records} records")


@pytest.mark.django_db(transaction=True)
def test_append_needs_a_transaction():
    with pytest.raises(RuntimeError):
        append(_entries(1))


@pytest.mark.django_db
def test_odd_text_is_stored_and_hashed_alike():
    weird = "nul\x00 surrogate\ud800 long" + "x" * 300
    record([entry_for(ALICE, "search", query=weird, resource_type="T" * 100, detail=weird)])
    assert verify().intact


@pytest.mark.django_db
def test_triggers_refuse_update_and_delete():
    record(_entries(2))
    seq = _last_seq()
    for statement in (
        "UPDATE audit_record SET username = 'mallory' WHERE seq = %s",
        "DELETE FROM audit_record WHERE seq = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            _raw(statement, [seq])
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw("UPDATE audit_head SET seq = seq - 1, hash = 'x' WHERE id = 1")
    with pytest.raises(DatabaseError), transaction.atomic():
        _raw("DELETE FROM audit_head")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            _raw("TRUNCATE audit_record")
    assert AuditRecord.objects.get(seq=seq).username == "alice"
    # The ORM is no way round it either.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(seq=seq).delete()
    assert verify().intact


def _tampered(statements: list[tuple[str, list]]) -> list[str]:
    _drop_triggers()
    for statement, params in statements:
        _raw(statement, params)
    v = verify()
    assert not v.intact
    return v.problems


@pytest.mark.django_db
def test_altered_field_is_named():
    record(_entries(5))
    seq = _last_seq() - 2
    problems = _tampered([("UPDATE audit_record SET username = 'bob' WHERE seq = %s", [seq])])
    assert problems == [f"seq {seq}: hash mismatch (the record was altered)"]


@pytest.mark.django_db
def test_altered_field_with_recomputed_hash_breaks_the_next_link():
    record(_entries(5))
    seq = _last_seq() - 2
    row = AuditRecord.objects.get(seq=seq)
    values = [getattr(row, c) for c in trail.COLUMNS]
    values[trail.COLUMNS.index("username")] = "bob"
    forged = trail.row_hash(values)
    problems = _tampered(
        [("UPDATE audit_record SET username = 'bob', hash = %s WHERE seq = %s", [forged, seq])]
    )
    assert problems[0].startswith(f"seq {seq + 1}: prev_hash does not match")


@pytest.mark.django_db
def test_deleted_row_is_named():
    record(_entries(5))
    seq = _last_seq() - 2
    problems = _tampered([("DELETE FROM audit_record WHERE seq = %s", [seq])])
    assert problems[0] == f"seq {seq + 1}: records missing before it (seq {seq} deleted)"
    assert problems[1].startswith(f"seq {seq + 1}: prev_hash does not match")


@pytest.mark.django_db
def test_swapped_rows_are_named():
    record(_entries(5))
    a, b = _last_seq() - 3, _last_seq() - 1
    # Exchange the two rows' numbers (through a free number), keeping every other column.
    problems = _tampered(
        [
            ("UPDATE audit_record SET seq = -1 WHERE seq = %s", [a]),
            ("UPDATE audit_record SET seq = %s WHERE seq = %s", [a, b]),
            ("UPDATE audit_record SET seq = %s WHERE seq = -1", [b]),
        ]
    )
    named = " ".join(problems)
    assert f"seq {a}:" in named and f"seq {b}:" in named
    assert problems[0].startswith(f"seq {a}:")


@pytest.mark.django_db
def test_truncated_tail_is_caught_by_the_head():
    record(_entries(5))
    last = _last_seq()
    problems = _tampered([("DELETE FROM audit_record WHERE seq >= %s", [last - 1])])
    assert problems == [
        f"seq {last - 1}-{last}: records cut off the end (the head says the last record is "
        f"seq {last})"
    ]


@pytest.mark.django_db
def test_verify_command_exit_code_names_the_place():
    record(_entries(3))
    seq = _last_seq() - 1
    _tampered([("UPDATE audit_record SET detail = 'edited' WHERE seq = %s", [seq])])
    err = io.StringIO()
    assert run(out=io.StringIO(), err=err) == 1
    assert f"seq {seq}: hash mismatch" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_record_is_durable_and_chained_under_concurrency():
    start = _last_seq()
    threads, per_thread = 12, 25
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(per_thread):
                record([entry_for(ALICE, "read", resource_type="Patient", resource_id=f"{n}-{i}")])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors
    ids = set(AuditRecord.objects.filter(seq__gt=start).values_list("resource_id", flat=True))
    assert len(ids) == threads * per_thread
    assert _last_seq() == start + threads * per_thread
    assert verify().intact
