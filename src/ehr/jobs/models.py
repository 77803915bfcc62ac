"""The outbox: one row per outbound message, kept after sending (the dead-letter view and the
delivery history read it). Not health data in the FHIR sense, but it holds a recipient and a
short text, so it is shown to administrators only."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

CHANNELS = [("email", "Email"), ("sms", "SMS")]
STATUSES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed (will retry)"),
    ("dead", "Dead letter"),
    ("cancelled", "Cancelled"),
]
# Statuses a worker may pick up when ``next_attempt_at`` has come.
DUE = ("queued", "failed")


class OutboxMessage(models.Model):
    channel = models.CharField(max_length=8, choices=CHANNELS)
    recipient = models.CharField(max_length=320)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=STATUSES, default="queued")
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=6)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # Set while a worker holds the message; a message whose lease ran out (the worker died)
    # is due again.
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=80, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    # What the message is about, for updates and cancellation: e.g. topic "appointment-reminder"
    # and ref "Appointment/123".
    topic = models.CharField(max_length=60, blank=True, default="")
    ref = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        db_table = "jobs_outbox"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="jobs_outbox_due"),
            models.Index(fields=["status", "lease_until"], name="jobs_outbox_lease"),
            models.Index(fields=["ref", "topic"], name="jobs_outbox_ref"),
            models.Index(fields=["-created_at"], name="jobs_outbox_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.status})"
