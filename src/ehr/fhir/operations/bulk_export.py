"""Export of current resources as NDJSON, one file per resource type."""

from __future__ import annotations

from pathlib import Path

from ehr.fhir.storage.db import raw_cursor, sql


def export_ndjson(folder: Path, types: list[str] | None = None) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    cur = raw_cursor()
    where = "deleted = ?"
    args: list = [False]
    if types:
        where += " AND resource_type IN (" + ",".join("?" * len(types)) + ")"
        args.extend(types)
    cur.execute(
        sql(
            "SELECT resource_type, content FROM fhir_resource "
            f"WHERE {where} ORDER BY resource_type, id"
        ),
        args,
    )
    counts: dict[str, int] = {}
    current, fh = None, None
    try:
        while rows := cur.fetchmany(2000):
            for rtype, content in rows:
                if rtype != current:
                    if fh:
                        fh.close()
                    current = rtype
                    fh = (folder / f"{rtype}.ndjson").open("w", encoding="utf-8")
                    counts[rtype] = 0
                fh.write(content)
                fh.write("\n")
                counts[rtype] += 1
    finally:
        if fh:
            fh.close()
    return counts
