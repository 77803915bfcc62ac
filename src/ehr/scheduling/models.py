"""Scheduling configuration: working hours, exceptions, appointment types and feed tokens.

These are configuration, not health data (DESIGN.md): who works when and where, which kinds of
visit exist and how long they last. They are edited by the administrator, read on every slot
computation and never exchanged with other systems, so they are ordinary Django models.
Everything that happens to a patient or the practice (appointments, recurring series, practice
events) is FHIR, written through the repository (see ``booking``, ``series``, ``events``).

A schedulable resource ("actor") is named by its FHIR reference: ``Practitioner/<id>`` for a
provider, ``Location/<id>`` for a room, ``Device/<id>`` for equipment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"),
            (5, "Saturday"), (6, "Sunday")]  # fmt: skip


class WorkingHours(models.Model):
    """One shift: an actor works at a location on a weekday from ``start`` to ``end`` (local
    practice time). Several rows per day make several shifts (morning and afternoon)."""

    actor = models.CharField(max_length=140, db_index=True)
    location = models.CharField(max_length=140, help_text="Location/<id> of the clinic")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start = models.TimeField()
    end = models.TimeField()
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True, help_text="last day, inclusive")

    class Meta:
        db_table = "scheduling_working_hours"
        ordering = ["actor", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")),
                                   name="scheduling_hours_end_after_start"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.actor} {self.get_weekday_display()} {self.start}-{self.end} {self.location}"


class ScheduleException(models.Model):
    """Time an actor is not available although the weekly hours say so (holiday, vacation,
    out of office). An empty ``actor`` applies to everyone (a practice holiday); a non-empty
    ``location`` limits it to that location."""

    actor = models.CharField(max_length=140, blank=True, default="", db_index=True)
    location = models.CharField(max_length=140, blank=True, default="")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        db_table = "scheduling_exception"
        indexes = [models.Index(fields=["start", "end"], name="scheduling_exc_range")]

    def __str__(self) -> str:
        return f"{self.actor or 'everyone'} off {self.start}-{self.end} ({self.reason})"


class AppointmentType(models.Model):
    """A kind of visit: its code (written into each Appointment's ``serviceType``), duration,
    colour for the calendar and the providers who may see it (empty: any provider)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveSmallIntegerField()
    colour = models.CharField(max_length=7, help_text="#rrggbb")
    allowed_actors = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        db_table = "scheduling_appointment_type"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"

    def allows(self, actor: str) -> bool:
        return not self.allowed_actors or actor in self.allowed_actors


class FeedToken(models.Model):
    """A secret that lets a calendar app read iCalendar feeds (it cannot sign in). Only the
    SHA-256 of the secret is kept; revoking sets ``revoked``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="feed_tokens")  # fmt: skip
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=100, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "scheduling_feed_token"
