"""Search index tables keyed by the resource they belong to, with no surrogate id.

Each index row used to live in three or four B-trees: the table (keyed by an autoincrement
id), an index on ``(resource_id, hash_param)`` and the lookup indexes. The rows are only ever
reached by resource (clearing on update, sort keys, includes, per-row checks) or through the
lookup indexes, so the table itself is now keyed by ``(resource_id, hash_param, seq)``
(``seq``: the row's position among the resource's rows of that table). On SQLite the tables are
``WITHOUT ROWID``: the key is the table, one B-tree fewer per row. On PostgreSQL the primary
key index replaces the old ``(resource_id, hash_param)`` index.

The rows are derived data, written and cleared by ``index_writer`` in the same transaction as
their resource, so they carry no foreign-key constraint (which cost a lookup per row).
``fhir_text`` becomes a SQLite rowid table keyed by ``resource_id`` itself, and the unused
index on ``fhir_resource.patient_key`` goes.

Django's migration state is updated to match; a later ``AlterField`` on one of these models
would make Django rebuild the SQLite table without ``WITHOUT ROWID`` (still correct, slower),
so change them with a migration like this one.
"""

from django.db import migrations, models

# table: (columns after resource_id, hash_param, seq; lookup indexes)
TABLES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "fhir_token": (
        [
            ("resource_type", "varchar(64) NOT NULL"),
            ("param", "varchar(64) NOT NULL"),
            ("hash_value", "bigint NOT NULL"),
            ("hash_sys_value", "bigint NOT NULL"),
            ("hash_system", "bigint NOT NULL"),
            ("system", "text NULL"),
            ("code", "text NULL"),
            ("text", "text{C} NULL"),
        ],
        [
            'CREATE INDEX "fhir_token_code" ON "fhir_token" ("hash_value", "hash_sys_value")',
            'CREATE INDEX "fhir_token_in_system" ON "fhir_token" ("hash_system") '
            'WHERE "system" IS NOT NULL',
        ],
    ),
    "fhir_string": (
        [("value_norm", "varchar(200){C} NOT NULL"), ("value_exact", "text NOT NULL")],
        ['CREATE INDEX "fhir_string_norm" ON "fhir_string" ("hash_param", "value_norm")'],
    ),
    "fhir_date": (
        [("low_us", "bigint NOT NULL"), ("high_us", "bigint NOT NULL")],
        [
            'CREATE INDEX "fhir_date_low" ON "fhir_date" ("hash_param", "low_us")',
            'CREATE INDEX "fhir_date_high" ON "fhir_date" ("hash_param", "high_us")',
        ],
    ),
    "fhir_number": (
        [("value", "{FLOAT} NOT NULL"), ("low", "{FLOAT} NOT NULL"), ("high", "{FLOAT} NOT NULL")],
        ['CREATE INDEX "fhir_number_value" ON "fhir_number" ("hash_param", "value")'],
    ),
    "fhir_quantity": (
        [
            ("hash_units", "bigint NOT NULL"),
            ("hash_code", "bigint NOT NULL"),
            ("value", "{FLOAT} NOT NULL"),
            ("low", "{FLOAT} NOT NULL"),
            ("high", "{FLOAT} NOT NULL"),
        ],
        [
            'CREATE INDEX "fhir_quantity_value" ON "fhir_quantity" ("hash_param", "value")',
            'CREATE INDEX "fhir_quantity_units" ON "fhir_quantity" ("hash_units", "value")',
            'CREATE INDEX "fhir_quantity_code" ON "fhir_quantity" ("hash_code", "value")',
        ],
    ),
    "fhir_reference": (
        [
            ("target_type", "varchar(64) NULL"),
            ("target_id", "varchar(64) NULL"),
            ("target_url", "text NULL"),
        ],
        [
            'CREATE INDEX "fhir_reference_target" ON "fhir_reference" '
            '("hash_param", "target_id", "target_type")'
        ],
    ),
    "fhir_uri": (
        [("value", "text NOT NULL")],
        ['CREATE INDEX "fhir_uri_value" ON "fhir_uri" ("hash_param", "value")'],
    ),
    "fhir_composite": (
        [("hash_key", "bigint NOT NULL"), ("low", "{FLOAT} NULL"), ("high", "{FLOAT} NULL")],
        ['CREATE INDEX "fhir_composite_key" ON "fhir_composite" ("hash_key", "low")'],
    ),
}


def _type(decl: str, postgres: bool) -> str:
    return decl.replace("{FLOAT}", "double precision" if postgres else "real").replace(
        "{C}", ' COLLATE "C"' if postgres else ""
    )


def forwards(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    run = schema_editor.execute
    for table, (columns, indexes) in TABLES.items():
        names = ", ".join(f'"{name}"' for name, _ in columns)
        decls = ", ".join(f'"{name}" {_type(decl, postgres)}' for name, decl in columns)
        run(
            f'CREATE TABLE "{table}_new" ("resource_id" bigint NOT NULL, '
            f'"hash_param" bigint NOT NULL, "seq" integer NOT NULL, {decls}, '
            'PRIMARY KEY ("resource_id", "hash_param", "seq"))'
            + ("" if postgres else " WITHOUT ROWID")
        )
        run(
            f'INSERT INTO "{table}_new" ("resource_id", "hash_param", "seq", {names}) '
            f'SELECT "resource_id", "hash_param", '
            f'ROW_NUMBER() OVER (PARTITION BY "resource_id" ORDER BY "id") - 1, {names} '
            f'FROM "{table}"'
        )
        run(f'DROP TABLE "{table}"')
        run(f'ALTER TABLE "{table}_new" RENAME TO "{table}"')
        for statement in indexes:
            run(statement)
    if not postgres:
        run(
            'CREATE TABLE "fhir_text_new" ("resource_id" integer NOT NULL PRIMARY KEY, '
            '"narrative" text NULL, "content" text NULL)'
        )
        run(
            'INSERT INTO "fhir_text_new" ("resource_id", "narrative", "content") '
            'SELECT "resource_id", "narrative", "content" FROM "fhir_text"'
        )
        run('DROP TABLE "fhir_text"')
        run('ALTER TABLE "fhir_text_new" RENAME TO "fhir_text"')
    else:
        run(
            "DO $$ DECLARE c text; BEGIN FOR c IN SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'fhir_text'::regclass AND contype = 'f' LOOP "
            "EXECUTE 'ALTER TABLE fhir_text DROP CONSTRAINT ' || quote_ident(c); END LOOP; END $$"
        )


def backwards(apps, schema_editor):
    raise RuntimeError("the clustered index tables cannot be turned back; restore a backup")


_MODELS = {
    "tokenindex": "fhir_token",
    "stringindex": "fhir_string",
    "dateindex": "fhir_date",
    "numberindex": "fhir_number",
    "quantityindex": "fhir_quantity",
    "referenceindex": "fhir_reference",
    "uriindex": "fhir_uri",
    "compositeindex": "fhir_composite",
}


def _state_operations() -> list:
    ops: list = []
    for model, table in _MODELS.items():
        ops += [
            migrations.RemoveIndex(model_name=model, name=f"{table}_res"),
            migrations.RemoveField(model_name=model, name="id"),
            migrations.AddField(
                model_name=model,
                name="seq",
                field=models.IntegerField(
                    default=0, help_text="position among the resource's rows of this table"
                ),
                preserve_default=False,
            ),
            migrations.AlterField(
                model_name=model,
                name="resource",
                field=models.ForeignKey(
                    on_delete=models.DO_NOTHING,
                    to="fhir_storage.resource",
                    db_column="resource_id",
                    db_index=False,
                    db_constraint=False,
                ),
            ),
            migrations.AddField(
                model_name=model,
                name="pk",
                field=models.CompositePrimaryKey(
                    "resource",
                    "hash_param",
                    "seq",
                    blank=True,
                    editable=False,
                    primary_key=True,
                    serialize=False,
                ),
            ),
        ]
    ops.append(
        migrations.AlterField(
            model_name="textindex",
            name="resource",
            field=models.OneToOneField(
                on_delete=models.DO_NOTHING,
                to="fhir_storage.resource",
                db_column="resource_id",
                primary_key=True,
                serialize=False,
                db_constraint=False,
            ),
        )
    )
    return ops


class Migration(migrations.Migration):
    dependencies = [("fhir_storage", "0006_drop_reference_rev_index")]
    operations = [
        migrations.RemoveIndex(model_name="resource", name="fhir_resource_patient"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=_state_operations(),
        ),
    ]
