"""On PostgreSQL, the date indexes a window reads in order also carry the resource key.

A date window's page (``search.window_order``) reads its range of ``fhir_date_span`` (and of
``fhir_date_hours``) in the order ``low_us, high_us, resource_id`` and stops at the page. On
SQLite every index of the clustered table ends with its key, so the index gives that order.
PostgreSQL's did not: it read every row of the week, joined each to its resource and sorted
them, so a week's page cost what the week held (116 rows and 4.6 ms at 4,000 patients for a
page of 50, against 51 rows and 0.7 ms with the key in the index). The key (and ``seq``, which
tells a sole value) now come from the index entry: an index-only scan in the page's order.
SQLite is left as it is.
"""

from django.db import migrations

HOUR_US = 3_600_000_000
SPAN = '"fhir_date" ("hash_param", "low_us", "high_us"'
HOURS = f"WHERE high_us - low_us > {HOUR_US}"


def _rebuild(schema_editor, columns: str) -> None:
    run = schema_editor.execute
    run('DROP INDEX "fhir_date_span"')
    run(f'CREATE INDEX "fhir_date_span" ON {SPAN}{columns}')
    run('DROP INDEX "fhir_date_hours"')
    run(f'CREATE INDEX "fhir_date_hours" ON {SPAN}{columns} {HOURS}')


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, ', "resource_id") INCLUDE ("seq")')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, ")")


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0013_date_sibling_seq")]
    operations = [migrations.RunPython(forwards, backwards)]
