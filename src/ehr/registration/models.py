"""The practice-wide MRN sequence (configuration-like state, not health data)."""

from __future__ import annotations

from django.db import models


class MrnCounter(models.Model):
    """One row: the last medical record number handed out by registration."""

    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "registration_mrn_counter"
