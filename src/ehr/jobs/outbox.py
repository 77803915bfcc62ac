"""Enqueue, claim, send, retry: the durable outbox (DESIGN.md rule 7: nothing is lost).

- ``enqueue`` writes one row on the caller's database connection, so inside the caller's
  transaction a booking and its reminder commit together, or neither does. The idempotency key
  is unique: enqueueing the same key twice returns the first message.
- ``claim`` marks due messages ``sending`` with a lease, in one short transaction. On
  PostgreSQL the rows are selected ``FOR UPDATE SKIP LOCKED`` so several workers never take the
  same message; on SQLite the transaction is ``IMMEDIATE`` behind the writer gate, which
  serialises claims. The attempt is counted at claim time, so a message that kills its worker
  still ends as a dead letter instead of looping forever.
- A worker that dies holding messages loses nothing: when the lease runs out the message is
  due again (``EHR_OUTBOX_LEASE_SECONDS``). Delivery is therefore at least once; the
  idempotency key travels with SMS posts and as the e-mail Message-ID so a gateway can drop a
  duplicate.
- A failed send is retried with exponential backoff (``EHR_OUTBOX_BACKOFF_SECONDS`` × 2^(n-1),
  at most ``EHR_OUTBOX_BACKOFF_MAX_SECONDS``) until ``max_attempts``; then it is ``dead`` and
  waits in the dead-letter view for a person (retry or leave it).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ehr.fhir.storage import db
from ehr.jobs.models import DUE, OutboxMessage

log = logging.getLogger(__name__)

PENDING = ("queued", "failed", "sending")


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, None) or os.environ.get(name) or default)


def max_attempts() -> int:
    return int(_setting("EHR_OUTBOX_MAX_ATTEMPTS", 6))


def lease() -> timedelta:
    return timedelta(seconds=_setting("EHR_OUTBOX_LEASE_SECONDS", 300))


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failed tries (1, 2, 3...)."""
    base = _setting("EHR_OUTBOX_BACKOFF_SECONDS", 60)
    cap = _setting("EHR_OUTBOX_BACKOFF_MAX_SECONDS", 6 * 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(
    channel: str,
    recipient: str,
    body: str,
    *,
    key: str,
    subject: str = "",
    send_after: datetime | None = None,
    topic: str = "",
    ref: str = "",
    attempts: int | None = None,
) -> OutboxMessage:
    """Queue a message; returns it (the existing one if ``key`` was queued before).

    Joins the caller's open transaction; outside one it commits on its own.
    """
    if channel not in ("email", "sms"):
        raise ValueError(f"Unknown channel {channel!r}: email or sms")
    if not recipient or not body:
        raise ValueError("A message needs a recipient and a body")
    fields = {
        "channel": channel,
        "recipient": recipient[:320],
        "subject": subject[:200],
        "body": body,
        "next_attempt_at": send_after or timezone.now(),
        "topic": topic,
        "ref": ref,
        "max_attempts": attempts or max_attempts(),
    }
    with db.atomic():
        existing = OutboxMessage.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():  # a savepoint: a racing insert of the same key
                return OutboxMessage.objects.create(idempotency_key=key, **fields)
        except IntegrityError:
            return OutboxMessage.objects.get(idempotency_key=key)


def cancel_pending(ref: str, topic: str = "", *, keep: Iterable[str] = ()) -> int:
    """Cancel the not-yet-sent messages about ``ref`` (except the keys in ``keep``)."""
    qs = OutboxMessage.objects.filter(ref=ref, status__in=("queued", "failed"))
    if topic:
        qs = qs.filter(topic=topic)
    keep = list(keep)
    if keep:
        qs = qs.exclude(idempotency_key__in=keep)
    with db.atomic():
        return qs.update(status="cancelled", lease_until=None)


def _due(now: datetime) -> Q:
    return Q(status__in=DUE, next_attempt_at__lte=now) | Q(status="sending", lease_until__lt=now)


def claim(limit: int = 20, *, worker: str | None = None, now: datetime | None = None) -> list:
    """Take up to ``limit`` due messages for this worker (status ``sending``, leased)."""
    now = now or timezone.now()
    worker = worker or worker_name()
    with db.atomic():
        qs = OutboxMessage.objects.filter(_due(now)).order_by("next_attempt_at", "id")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        OutboxMessage.objects.filter(id__in=ids).update(
            status="sending",
            lease_until=now + lease(),
            claimed_by=worker[:80],
            attempts=F("attempts") + 1,
        )
        return list(OutboxMessage.objects.filter(id__in=ids).order_by("next_attempt_at", "id"))


def _finish(message: OutboxMessage, worker: str, **fields) -> bool:
    """Record the outcome, unless the lease was lost to another worker meanwhile."""
    with db.atomic():
        n = OutboxMessage.objects.filter(
            id=message.id, status="sending", claimed_by=message.claimed_by or worker
        ).update(lease_until=None, **fields)
    return n == 1


def deliver(message: OutboxMessage, *, worker: str | None = None) -> str:
    """Send one claimed message; returns its new status."""
    from ehr.jobs.senders import sender_for

    worker = worker or worker_name()
    try:
        sender_for(message.channel).send(message)
    except Exception as exc:  # any failure of a sender is a failed attempt, never a crash
        error = f"{type(exc).__name__}: {exc}"[:2000]
        now = timezone.now()
        if message.attempts >= message.max_attempts:
            status, fields = "dead", {"last_error": error}
            log.warning("outbox message %s is dead after %s attempts: %s", message.id,
                        message.attempts, error)  # fmt: skip
        else:
            status = "failed"
            fields = {"last_error": error, "next_attempt_at": now + backoff(message.attempts)}
        _finish(message, worker, status=status, **fields)
        return status
    _finish(message, worker, status="sent", sent_at=timezone.now())
    return "sent"


def run_once(limit: int = 20, *, worker: str | None = None) -> dict[str, int]:
    """Claim and send one batch; returns counts by outcome."""
    worker = worker or worker_name()
    counts: dict[str, int] = {}
    for message in claim(limit, worker=worker):
        status = deliver(message, worker=worker)
        counts[status] = counts.get(status, 0) + 1
    return counts


def retry(message_id: int) -> bool:
    """Put a dead, failed or cancelled message back in the queue now, with fresh attempts."""
    with db.atomic():
        return (
            OutboxMessage.objects.filter(
                id=message_id, status__in=("dead", "failed", "cancelled")
            ).update(status="queued", attempts=0, next_attempt_at=timezone.now(), lease_until=None)
            == 1
        )


def give_up(message_id: int, reason: str = "Moved to dead letters by a person") -> bool:
    """Move a queued or failed message to the dead letters (it will not be sent)."""
    with db.atomic():
        return (
            OutboxMessage.objects.filter(id=message_id, status__in=("queued", "failed")).update(
                status="dead", last_error=reason, lease_until=None
            )
            == 1
        )


def counts_by_status() -> dict[str, int]:
    from django.db.models import Count

    rows = OutboxMessage.objects.values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}
