"""Schema of the FHIR store.

The tables are declared as Django models so that migrations create and evolve them on SQLite
and PostgreSQL alike; the repository reads and writes them with plain SQL on the hot path.

- ``fhir_resource``: one row per logical resource (current version, JSON as stored).
- ``fhir_resource_version``: one row per version, kept for vread and history.
- ``fhir_compartment``: which patient compartments a resource belongs to (computed at write time
  from the official CompartmentDefinition); ``fhir_resource.patient_key`` holds the first one so
  that tables can later be distributed by patient.
- ``fhir_token``: token index rows (``_id`` is the row itself; ``identifier`` for conditional
  operations). Keys are 64-bit hashes of type + parameter (+ system) + value, so a lookup is an
  equality on one indexed integer column.
"""

from __future__ import annotations

from django.db import models


class Resource(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource_type = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    version_id = models.IntegerField()
    updated_us = models.BigIntegerField(help_text="lastUpdated, microseconds since the epoch")
    deleted = models.BooleanField(default=False)
    patient_key = models.CharField(max_length=64, null=True)
    content = models.TextField(null=True)

    class Meta:
        db_table = "fhir_resource"
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "fhir_id"], name="fhir_resource_type_id"
            )
        ]
        indexes = [
            models.Index(fields=["resource_type", "updated_us"], name="fhir_resource_type_upd"),
            models.Index(fields=["patient_key"], name="fhir_resource_patient"),
        ]


class ResourceVersion(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, db_column="resource_id")
    resource_type = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    version_id = models.IntegerField()
    updated_us = models.BigIntegerField()
    method = models.CharField(max_length=8)
    deleted = models.BooleanField(default=False)
    content = models.TextField(null=True)

    class Meta:
        db_table = "fhir_resource_version"
        constraints = [
            models.UniqueConstraint(fields=["resource", "version_id"], name="fhir_version_res_vid")
        ]
        indexes = [
            models.Index(fields=["updated_us"], name="fhir_version_upd"),
            models.Index(fields=["resource_type", "updated_us"], name="fhir_version_type_upd"),
        ]


class Compartment(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, db_column="resource_id")
    compartment_type = models.CharField(max_length=32)
    compartment_id = models.CharField(max_length=64)

    class Meta:
        db_table = "fhir_compartment"
        indexes = [
            models.Index(
                fields=["compartment_type", "compartment_id"], name="fhir_compartment_key"
            ),
            models.Index(fields=["resource"], name="fhir_compartment_res"),
        ]


class TokenIndex(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, db_column="resource_id")
    resource_type = models.CharField(max_length=64)
    param = models.CharField(max_length=64)
    hash_value = models.BigIntegerField(help_text="hash(type, param, code)")
    hash_sys_value = models.BigIntegerField(help_text="hash(type, param, system, code)")
    system = models.TextField(null=True)
    code = models.TextField(null=True)

    class Meta:
        db_table = "fhir_token"
        indexes = [
            models.Index(fields=["hash_value"], name="fhir_token_value"),
            models.Index(fields=["hash_sys_value"], name="fhir_token_sys_value"),
            models.Index(fields=["resource"], name="fhir_token_res"),
        ]
