"""The durable outbox: enqueue inside transactions, claims, leases, retries, dead letters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ehr.jobs import outbox, worker
from ehr.jobs.models import OutboxMessage


class Boom(Exception):
    pass


class FailingSender:
    def send(self, message):
        raise ConnectionError("gateway down")


@pytest.fixture
def files(db, settings, tmp_path):
    settings.EHR_OUTBOX_DIR = str(tmp_path)
    settings.EHR_EMAIL_SENDER = "file"
    settings.EHR_SMS_SENDER = "file"
    settings.EHR_OUTBOX_BACKOFF_SECONDS = 60
    settings.EHR_OUTBOX_MAX_ATTEMPTS = 3
    return tmp_path


def test_enqueue_in_a_transaction_that_rolls_back_leaves_nothing(db):
    with pytest.raises(Boom), transaction.atomic():
        outbox.enqueue("sms", "+16145550123", "hello", key="k-rollback")
        assert OutboxMessage.objects.filter(idempotency_key="k-rollback").exists()
        raise Boom
    assert not OutboxMessage.objects.filter(idempotency_key="k-rollback").exists()


def test_idempotency_key_enqueues_once(db):
    a = outbox.enqueue("email", "a@example.org", "one", key="same", subject="S")
    b = outbox.enqueue("email", "a@example.org", "two", key="same", subject="S")
    assert a.id == b.id and OutboxMessage.objects.count() == 1
    assert OutboxMessage.objects.get().body == "one"


def test_worker_sends_email_and_sms_to_files(files):
    outbox.enqueue("email", "pat@example.org", "See you soon", key="e1", subject="Reminder")
    outbox.enqueue("sms", "(614) 555-0123", "See you soon", key="s1")
    later = outbox.enqueue("sms", "(614) 555-0123", "Not yet", key="s2",
                           send_after=timezone.now() + timedelta(hours=1))  # fmt: skip
    assert outbox.run_once() == {"sent": 2}
    emails = list((files / "outbox-email").glob("*.eml"))
    sms = list((files / "outbox-sms").glob("*.json"))
    assert len(emails) == 1 and b"Subject: Reminder" in emails[0].read_bytes()
    assert json.loads(sms[0].read_text())["to"] == "(614) 555-0123"
    assert OutboxMessage.objects.filter(status="sent").count() == 2
    assert OutboxMessage.objects.get(id=later.id).status == "queued"
    assert outbox.run_once() == {}  # nothing due, nothing sent twice


def test_failing_sender_retries_with_backoff_then_dead(files, settings):
    settings.EHR_SMS_SENDER = "tests.jobs.test_outbox:FailingSender"
    m = outbox.enqueue("sms", "+16145550123", "hi", key="f1")
    t0 = timezone.now()
    assert outbox.run_once() == {"failed": 1}
    m.refresh_from_db()
    assert m.status == "failed" and m.attempts == 1 and "gateway down" in m.last_error
    first_wait = (m.next_attempt_at - t0).total_seconds()
    assert 59 <= first_wait <= 65
    assert outbox.claim(now=t0 + timedelta(seconds=30)) == []  # not due yet
    # second attempt: the wait doubles
    claimed = outbox.claim(now=m.next_attempt_at + timedelta(seconds=1))
    t1 = timezone.now()
    assert outbox.deliver(claimed[0]) == "failed"
    m.refresh_from_db()
    assert m.attempts == 2 and 119 <= (m.next_attempt_at - t1).total_seconds() <= 125
    claimed = outbox.claim(now=m.next_attempt_at + timedelta(seconds=1))
    assert outbox.deliver(claimed[0]) == "dead"
    m.refresh_from_db()
    assert m.status == "dead" and m.attempts == 3
    assert outbox.claim(now=timezone.now() + timedelta(days=1)) == []
    # a person retries the dead letter after fixing the gateway
    settings.EHR_SMS_SENDER = "file"
    assert outbox.retry(m.id)
    assert outbox.run_once() == {"sent": 1}


def test_message_of_a_crashed_worker_is_sent_after_the_lease(files, settings):
    settings.EHR_OUTBOX_LEASE_SECONDS = 300
    m = outbox.enqueue("email", "pat@example.org", "body", key="c1", subject="S")
    t0 = timezone.now()
    claimed = outbox.claim(worker="dead-worker", now=t0)
    assert [c.id for c in claimed] == [m.id]
    # the worker "crashes" here: no deliver. Another worker sees nothing until the lease ends.
    assert outbox.claim(worker="w2", now=t0 + timedelta(seconds=60)) == []
    again = outbox.claim(worker="w2", now=t0 + timedelta(seconds=301))
    assert [c.id for c in again] == [m.id] and again[0].attempts == 2
    assert outbox.deliver(again[0], worker="w2") == "sent"
    m.refresh_from_db()
    assert m.status == "sent" and m.claimed_by == "w2"
    assert len(list((files / "outbox-email").glob("*.eml"))) == 1


def test_worker_loop_once_runs_periodic_tasks_and_sends(files):
    ran = []
    worker.register("test-task", lambda: ran.append(1), every=3600)
    try:
        outbox.enqueue("sms", "+16145550123", "hi", key="loop1")
        assert worker.run(once=True) == 1
        assert ran == [1]
    finally:
        worker._TASKS.pop("test-task", None)


def test_outbox_viewer_admin_only_with_actions(db, files, signed_in):
    m = outbox.enqueue("sms", "+16145550123", "Reminder text", key="v1")
    outbox.give_up(m.id)
    assert signed_in("front_desk").get("/admin/outbox/").status_code == 403
    admin = signed_in("admin")
    page = admin.get("/admin/outbox/?status=dead")
    assert page.status_code == 200 and b"+16145550123" in page.content
    detail = admin.get(f"/admin/outbox/{m.id}/")
    assert b"Reminder text" in detail.content
    resp = admin.post(f"/admin/outbox/{m.id}/retry", {"next": "/admin/outbox/"})
    assert resp.status_code == 302
    m.refresh_from_db()
    assert m.status == "queued" and m.attempts == 0
