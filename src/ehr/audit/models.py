"""The audit trail's two tables: the hash-chained records and the head of the chain.

Both are ``managed = False``: the migration creates them (with triggers that refuse changes),
and Django's ``flush`` (test teardown, ``manage.py flush``) leaves them alone instead of
failing on the triggers or wiping the trail. Rows are written by ``ehr.audit.trail`` with
plain SQL, never through the ORM; the ORM is used only to read them (report, FHIR search).
"""

from __future__ import annotations

from django.db import models


class AuditRecord(models.Model):
    seq = models.BigIntegerField(primary_key=True)  # chain order: 1, 2, 3, ... without gaps
    recorded = models.BigIntegerField()  # UTC, microseconds since the epoch
    action = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16)  # success / denied / failed
    status = models.IntegerField()  # HTTP status (or the closest one for non-HTTP events)
    username = models.CharField(max_length=150)
    role = models.CharField(max_length=32, null=True)
    fhir_user = models.CharField(max_length=200, null=True)
    client_id = models.CharField(max_length=200, null=True)  # the app acting for the user
    resource_type = models.CharField(max_length=64, null=True)
    resource_id = models.CharField(max_length=64, null=True)
    version = models.CharField(max_length=64, null=True)
    query = models.TextField(null=True)
    patient = models.CharField(max_length=64, null=True)
    source = models.CharField(max_length=64, null=True)
    session = models.CharField(max_length=64, null=True)  # hash of the token or session id
    detail = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        managed = False
        db_table = "audit_record"
        indexes = [
            models.Index(fields=["recorded", "seq"], name="audit_recorded"),
            models.Index(fields=["username", "recorded"], name="audit_user"),
            models.Index(fields=["patient", "recorded"], name="audit_patient"),
            models.Index(fields=["action", "recorded"], name="audit_action"),
        ]


class AuditHead(models.Model):
    """One row (id 1): the last record's seq and hash, updated with every append.

    A chain alone cannot show that records were cut off its end; comparing the last record
    with this row can (unless both were rewritten together, see docs/audit.md).
    """

    id = models.IntegerField(primary_key=True)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        managed = False
        db_table = "audit_head"
