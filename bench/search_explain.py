"""The SQL of a search and SQLite's plan for it, to see why a shape is slow.

Runs each request in-process (Django's test client) on the given SQLite database, records
every statement the engine runs (SQLite's trace callback, values bound) with its time, and
prints ``EXPLAIN QUERY PLAN`` for each.

Usage: EHR_DATABASE_URL=sqlite:////path/db.sqlite3 .venv/bin/python bench/search_explain.py \
           'Observation?patient=X&category=vital-signs' ...
"""

from __future__ import annotations

import os
import sys
import time


def main(paths: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
    import django

    django.setup()
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, connection
    from django.test import Client

    # Keep one connection across requests, so the trace callback stays on it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    from ehr.identity.oauth.scopes import ScopeSet
    from ehr.identity.oauth.tokens import mint

    token, _ = mint(scopes=ScopeSet.parse("system/*.rs"), system=True, minutes=60)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get("/fhir/metadata")
    connection.ensure_connection()
    conn = connection.connection
    for path in paths:
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        target = "/fhir" + (path if path.startswith("?") else "/" + path)
        started = time.perf_counter()
        resp = client.get(target)
        took = (time.perf_counter() - started) * 1000
        conn.set_trace_callback(None)
        print(f"### {path}\nHTTP {resp.status_code}, {took:.1f} ms in process")
        for stmt in statements:
            if not stmt.lstrip().upper().startswith("SELECT"):
                continue
            t = time.perf_counter()
            conn.execute(stmt).fetchall()
            alone = (time.perf_counter() - t) * 1000
            print(f"\n-- {alone:.1f} ms (warm, run again alone)\n{stmt}")
            for row in conn.execute("EXPLAIN QUERY PLAN " + stmt):
                print(f"   {'  ' * 0}{row[0]:>3} {row[1]:>3} {row[3]}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
