"""A partial index of date values longer than an hour, for windows that start mid-history.

A date window (``date=ge..&date=lt..``) must also find values that start before it and end
inside it. Values of an hour or less can only do so if they start within the hour before the
window, which the covering index ``fhir_date_span`` reads cheaply; longer values starting
earlier in the day before are read from this index, which holds only them (few Observations
last more than an hour). Before it, the day before every window was read whole: about 17,000
index rows at 64,000 patients to find the handful that reach into the window. The index's
condition must stay the same text as ``query.HOURS_DATE``.
"""

from django.db import migrations

HOUR_US = 3_600_000_000


def forwards(apps, schema_editor):
    schema_editor.execute(
        'CREATE INDEX "fhir_date_hours" ON "fhir_date" ("hash_param", "low_us", "high_us") '
        f"WHERE high_us - low_us > {HOUR_US}"
    )


def backwards(apps, schema_editor):
    schema_editor.execute('DROP INDEX "fhir_date_hours"')


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0011_postgres_token_code_dependency")]
    operations = [migrations.RunPython(forwards, backwards)]
