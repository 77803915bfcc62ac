"""Audit tables, the first head row and triggers that refuse changes on both vendors."""

from django.db import migrations, models

GENESIS = "0" * 64

SQLITE = [
    "CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit records cannot be changed'); END",
    "CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record "
    "BEGIN SELECT RAISE(ABORT, 'audit records cannot be deleted'); END",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
    "WHEN NEW.seq <= OLD.seq OR NEW.id <> OLD.id "
    "BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END",
]

POSTGRESQL = [
    """CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit records cannot be changed or deleted (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$""",
    "CREATE TRIGGER audit_record_no_change BEFORE UPDATE OR DELETE ON audit_record "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
    "CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse()",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head FOR EACH ROW "
    "WHEN (NEW.seq <= OLD.seq OR NEW.id <> OLD.id) EXECUTE FUNCTION audit_refuse()",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse()",
]


def forwards(apps, schema_editor):
    # The models are unmanaged (so that flush leaves them alone); create the tables here.
    schema_editor.create_model(apps.get_model("audit", "AuditRecord"))
    schema_editor.create_model(apps.get_model("audit", "AuditHead"))
    schema_editor.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, %s)", params=[GENESIS]
    )
    vendor = schema_editor.connection.vendor
    for statement in SQLITE if vendor == "sqlite" else POSTGRESQL:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TABLE audit_record, audit_head")
        schema_editor.execute("DROP FUNCTION audit_refuse()")
    else:
        schema_editor.execute("DROP TABLE audit_record")
        schema_editor.execute("DROP TABLE audit_head")


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AuditRecord",
            fields=[
                ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                ("recorded", models.BigIntegerField()),
                ("action", models.CharField(max_length=32)),
                ("outcome", models.CharField(max_length=16)),
                ("status", models.IntegerField()),
                ("username", models.CharField(max_length=150)),
                ("role", models.CharField(max_length=32, null=True)),
                ("fhir_user", models.CharField(max_length=200, null=True)),
                ("client_id", models.CharField(max_length=200, null=True)),
                ("resource_type", models.CharField(max_length=64, null=True)),
                ("resource_id", models.CharField(max_length=64, null=True)),
                ("version", models.CharField(max_length=64, null=True)),
                ("query", models.TextField(null=True)),
                ("patient", models.CharField(max_length=64, null=True)),
                ("source", models.CharField(max_length=64, null=True)),
                ("session", models.CharField(max_length=64, null=True)),
                ("detail", models.TextField()),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "db_table": "audit_record",
                "managed": False,
                "indexes": [
                    models.Index(fields=["recorded", "seq"], name="audit_recorded"),
                    models.Index(fields=["username", "recorded"], name="audit_user"),
                    models.Index(fields=["patient", "recorded"], name="audit_patient"),
                    models.Index(fields=["action", "recorded"], name="audit_action"),
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                ("id", models.IntegerField(primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={"db_table": "audit_head", "managed": False},
        ),
        migrations.RunPython(forwards, backwards),
    ]
