"""On PostgreSQL, compare folded search strings byte by byte.

String search uses ``value_norm >= prefix AND value_norm < next(prefix)``, which is a prefix
test only under a binary collation; a linguistic database default (en_US...) orders strings
differently. SQLite compares bytes already.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        'ALTER TABLE fhir_string ALTER COLUMN value_norm TYPE varchar(200) COLLATE "C"'
    )
    schema_editor.execute('ALTER TABLE fhir_token ALTER COLUMN text TYPE text COLLATE "C"')


def backwards(apps, schema_editor):
    return


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0002_search_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
