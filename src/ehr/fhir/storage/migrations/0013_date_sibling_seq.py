"""Date values with siblings under the same parameter get a negative ``seq``.

A date window's page (``search.window_order``) meets a resource once: at its only value of the
parameter, or at its envelope row when it has several. It told the two apart by looking up the
envelope of every row it read, a random read each on a database larger than memory (about
2 ms of a cold page of 50 at 64,000 patients). ``index_writer.date_seq`` now writes a value
with siblings as ``-position - 1``, which the index entry carries (the key is part of it), so
the page checks ``seq >= 0`` instead. This migration renumbers the rows already stored; the
positions stay distinct, so the key stays unique.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    schema_editor.execute(
        'UPDATE "fhir_date" SET "seq" = -"seq" - 1 WHERE "seq" >= 0 AND ("resource_id", '
        '"hash_param") IN (SELECT "resource_id", "hash_param" FROM "fhir_date" '
        'GROUP BY "resource_id", "hash_param" HAVING COUNT(*) > 1)'
    )


def backwards(apps, schema_editor):
    schema_editor.execute('UPDATE "fhir_date" SET "seq" = -"seq" - 1 WHERE "seq" < 0')


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0012_date_hours_index")]
    operations = [migrations.RunPython(forwards, backwards)]
