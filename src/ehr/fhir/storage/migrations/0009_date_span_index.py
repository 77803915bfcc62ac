"""The date index on the start of a value also holds its end: ``(hash_param, low_us, high_us)``.

A date window (``date=ge..&date=lt..``) or a day reads a range of starts and keeps the values
whose end reaches the window. With the end in the index entry, that check no longer looks up
each row in the table, and counting a window's matches reads the index alone. The new index
replaces ``fhir_date_low``, which was its prefix.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0008_date_windows")]
    operations = [
        migrations.AddIndex(
            model_name="dateindex",
            index=models.Index(fields=["hash_param", "low_us", "high_us"], name="fhir_date_span"),
        ),
        migrations.RemoveIndex(model_name="dateindex", name="fhir_date_low"),
    ]
