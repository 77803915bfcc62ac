"""Schema of the FHIR store.

The tables are declared as Django models so that migrations create and evolve them on SQLite
and PostgreSQL alike; the repository reads and writes them with plain SQL on the hot path.

- ``fhir_resource``: one row per logical resource (current version, JSON as stored).
- ``fhir_resource_version``: one row per version, kept for vread and history. Its ``content``
  is NULL for the current version, whose JSON is in ``fhir_resource`` (see repository).
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
        ]


class ResourceVersion(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, db_column="resource_id", db_index=False
    )
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
    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, db_column="resource_id", db_index=False
    )
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


class IndexRow(models.Model):
    """A search index row: keyed by its resource, the parameter and its position among the
    resource's rows of the table; no surrogate id and no foreign-key constraint (the rows are
    written and cleared with their resource, in its transaction). Migration 0007 made the
    tables ``WITHOUT ROWID`` on SQLite; change them with a migration like it, since Django would
    rebuild a SQLite table without that clause."""

    pk = models.CompositePrimaryKey("resource", "hash_param", "seq")
    resource = models.ForeignKey(
        Resource,
        on_delete=models.DO_NOTHING,
        db_column="resource_id",
        db_index=False,
        db_constraint=False,
    )
    hash_param = models.BigIntegerField()
    # Dates: negative when the parameter has other values in the resource (index_writer.date_seq).
    seq = models.IntegerField(help_text="position among the resource's rows of this table")

    class Meta:
        abstract = True


class TokenIndex(IndexRow):
    resource_type = models.CharField(max_length=64)
    param = models.CharField(max_length=64)
    hash_param = models.BigIntegerField(default=0, help_text="hash(type, param)")
    hash_value = models.BigIntegerField(help_text="hash(type, param, code)")
    hash_sys_value = models.BigIntegerField(help_text="hash(type, param, system, code)")
    hash_system = models.BigIntegerField(default=0, help_text="hash(type, param, system)")
    system = models.TextField(null=True)
    code = models.TextField(null=True)
    text = models.TextField(null=True, help_text="folded display/text, for :text")

    class Meta:
        db_table = "fhir_token"
        indexes = [
            # One index for `code`, `system|code` and `|code`: hash_value finds the code's
            # rows, hash_sys_value the system among them. Fewer indexes, cheaper writes.
            models.Index(fields=["hash_value", "hash_sys_value"], name="fhir_token_code"),
            # `system|` searches: only tokens that have a system.
            models.Index(
                fields=["hash_system"],
                name="fhir_token_in_system",
                condition=models.Q(system__isnull=False),
            ),
        ]


# ---------------------------------------------------------------------------- search indexes
# One narrow table per kind of search value, as the search engine's index. Every row carries
# ``hash_param`` = hash(resource type, parameter name); lookups are equalities or ranges on
# hashed or normalised columns, so a selective search reads a handful of index entries.
# The key ``(resource_id, hash_param, seq)`` (``IndexRow``) serves per-resource checks, sort
# keys, includes and the clearing of a resource's rows on update.


class StringIndex(IndexRow):
    value_norm = models.CharField(max_length=200, help_text="case- and accent-folded, trimmed")
    value_exact = models.TextField()

    class Meta:
        db_table = "fhir_string"
        indexes = [
            models.Index(fields=["hash_param", "value_norm"], name="fhir_string_norm"),
        ]


class DateIndex(IndexRow):
    low_us = models.BigIntegerField(help_text="start of the implicit range, µs since epoch")
    high_us = models.BigIntegerField(help_text="end of the implicit range (inclusive), µs")

    class Meta:
        db_table = "fhir_date"
        indexes = [
            # Covering for windows and days: a range on the start, the end read from the entry.
            models.Index(fields=["hash_param", "low_us", "high_us"], name="fhir_date_span"),
            models.Index(fields=["hash_param", "high_us"], name="fhir_date_high"),
        ]


class NumberIndex(IndexRow):
    value = models.FloatField()
    low = models.FloatField(help_text="value minus half its last significant digit")
    high = models.FloatField()

    class Meta:
        db_table = "fhir_number"
        indexes = [
            models.Index(fields=["hash_param", "value"], name="fhir_number_value"),
        ]


class QuantityIndex(IndexRow):
    hash_units = models.BigIntegerField(help_text="hash(type, param, system, code); 0 if none")
    hash_code = models.BigIntegerField(help_text="hash(type, param, code or unit); 0 if none")
    value = models.FloatField()
    low = models.FloatField()
    high = models.FloatField()

    class Meta:
        db_table = "fhir_quantity"
        indexes = [
            models.Index(fields=["hash_param", "value"], name="fhir_quantity_value"),
            models.Index(fields=["hash_units", "value"], name="fhir_quantity_units"),
            models.Index(fields=["hash_code", "value"], name="fhir_quantity_code"),
        ]


class ReferenceIndex(IndexRow):
    target_type = models.CharField(max_length=64, null=True)
    target_id = models.CharField(max_length=64, null=True)
    target_url = models.TextField(null=True, help_text="absolute or canonical references")

    class Meta:
        db_table = "fhir_reference"
        indexes = [
            models.Index(
                fields=["hash_param", "target_id", "target_type"], name="fhir_reference_target"
            ),
        ]


class UriIndex(IndexRow):
    value = models.TextField()

    class Meta:
        db_table = "fhir_uri"
        indexes = [
            models.Index(fields=["hash_param", "value"], name="fhir_uri_value"),
        ]


class TextIndex(models.Model):
    """Narrative text (``_text``) and all string content (``_content``), folded, for search."""

    resource = models.OneToOneField(
        Resource,
        on_delete=models.DO_NOTHING,
        db_column="resource_id",
        primary_key=True,
        db_constraint=False,
    )
    narrative = models.TextField(null=True)
    content = models.TextField(null=True)

    class Meta:
        db_table = "fhir_text"


class CompositeIndex(IndexRow):
    """Composite parameters: the first component(s) hashed into ``hash_key``, a numeric or date
    second component as a range (``low``/``high``), all from the same element instance."""

    hash_key = models.BigIntegerField()
    low = models.FloatField(null=True)
    high = models.FloatField(null=True)

    class Meta:
        db_table = "fhir_composite"
        indexes = [
            models.Index(fields=["hash_key", "low"], name="fhir_composite_key"),
        ]
