"""Statistics that PostgreSQL's planner needs to choose the search plans (no-op on SQLite).

- The length of a date value (``high_us - low_us``, the text of ``query.LONG_DATE``): without
  it the planner guessed thousands of rows from ``fhir_date_long`` and walked the whole
  resource table in key order for a one-day window (125 ms instead of 0.3 ms at 1,000
  patients).
- A larger sample of ``fhir_token.hash_value``: it has a few very common values (categories,
  statuses) and very many rare ones (identifiers). With the default sample the planner thought
  an MRN had hundreds of rows and hashed every Patient (1.5 ms instead of 0.05 ms at 1,000
  patients, and growing with the practice).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run("CREATE STATISTICS IF NOT EXISTS fhir_date_length ON (high_us - low_us) FROM fhir_date")
    run("ALTER TABLE fhir_token ALTER COLUMN hash_value SET STATISTICS 1000")
    run("ANALYZE fhir_date")
    run("ANALYZE fhir_token")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP STATISTICS IF EXISTS fhir_date_length")
    schema_editor.execute("ALTER TABLE fhir_token ALTER COLUMN hash_value SET STATISTICS -1")


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0009_date_span_index")]
    operations = [migrations.RunPython(forwards, backwards)]
