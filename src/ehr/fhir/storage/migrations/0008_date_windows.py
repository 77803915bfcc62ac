"""Date searches between two bounds: a partial index of long date values, and envelope rows.

``query.date_windows`` finds the candidates of ``date=ge..&date=lt..`` from short values by
their start, from long ones (more than a day) by ``fhir_date_long``, and from the envelope row
(key ``-hash_param - 1``) that ``index_values`` now writes for each date parameter with several
values in one resource. This migration builds the index and the envelope rows of the resources
already stored. The index's condition must stay the same text as ``query.LONG_DATE``.
"""

from django.db import migrations

DAY_US = 86_400_000_000


def forwards(apps, schema_editor):
    run = schema_editor.execute
    run(
        'CREATE INDEX "fhir_date_long" ON "fhir_date" ("hash_param", "high_us") '
        f"WHERE high_us - low_us > {DAY_US}"
    )
    run(
        'INSERT INTO "fhir_date" ("resource_id", "hash_param", "seq", "low_us", "high_us") '
        'SELECT "resource_id", -"hash_param" - 1, 0, MIN("low_us"), MAX("high_us") '
        'FROM "fhir_date" GROUP BY "resource_id", "hash_param" HAVING COUNT(*) > 1'
    )


def backwards(apps, schema_editor):
    run = schema_editor.execute
    run('DROP INDEX "fhir_date_long"')


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0007_clustered_index_tables")]
    operations = [migrations.RunPython(forwards, backwards)]
