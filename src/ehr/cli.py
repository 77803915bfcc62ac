"""The ``ehr`` command: serve, migrate, import, export, demo data."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
    import django

    django.setup()


def cmd_migrate(args: argparse.Namespace) -> int:
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=1 if args.verbose else 0, interactive=False)
    from ehr.fhir.storage.db import refresh_statistics

    refresh_statistics()
    return 0


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None when it is free.

    The server's sockets share their port with any other listener that asks to share it, so a
    second ``ehr serve`` on a busy port would start without complaint and take half of the
    first one's connections. A plain socket cannot share a port someone listens on: binding one
    here first tells a busy port from a free one (``SO_REUSEADDR`` only lets it past the
    closed connections a server that just stopped leaves behind)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            probe.listen(1)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    host = args.host
    port = int(args.port or os.environ.get("EHR_PORT", "8000"))
    busy = port_taken(host, port)
    if busy:
        print(
            f"ehr serve: cannot listen on {host}:{port} ({busy}). Is another server running "
            "there? Stop it, or choose another port with --port or EHR_PORT.",
            file=sys.stderr,
        )
        return 1
    print(f"EHR serving on http://{host}:{port}/", flush=True)
    print(f"  FHIR API:            http://{host}:{port}/fhir", flush=True)
    print(f"  CapabilityStatement: http://{host}:{port}/fhir/metadata", flush=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ehr.settings")
    from ehr.jobs.cli import start_beside_server, stop_beside_server

    worker = start_beside_server()
    try:
        _granian(args, host, port)
    finally:
        stop_beside_server(worker)
    return 0


def _granian(args: argparse.Namespace, host: str, port: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "ehr.wsgi:application",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=args.workers,
        blocking_threads=args.threads,
        backpressure=args.threads,
        log_access=False,
    ).serve()


def cmd_import(args: argparse.Namespace) -> int:
    _django()
    from ehr.fhir.operations.bulk_import import import_paths

    status = import_paths([Path(p) for p in args.paths], progress=not args.quiet)
    _audit_command(
        "create",
        "failed" if status else "success",
        f"ehr import {' '.join(args.paths)} (exit {status})",
    )
    return status


def _audit_command(action: str, outcome: str, detail: str) -> None:
    """Bulk commands touch health data too: one audit record each, as the system."""
    from ehr.audit.events import record_event
    from ehr.identity.principal import SYSTEM

    record_event(action, SYSTEM, outcome=outcome, detail=detail)


def cmd_validate(args: argparse.Namespace) -> int:
    from ehr.fhir.operations.validate_files import validate_paths

    return validate_paths(
        [Path(p) for p in args.paths], profiles=args.profile or [], quiet=args.quiet
    )


def cmd_export(args: argparse.Namespace) -> int:
    _django()
    from ehr.fhir.operations.bulk_export import export_ndjson

    counts = export_ndjson(Path(args.dir), types=args.type or None)
    total = sum(counts.values())
    _audit_command("export", "success", f"ehr export to {args.dir}: {total} resources")
    for rtype, n in sorted(counts.items()):
        print(f"{rtype}.ndjson  {n}")
    print(f"exported {sum(counts.values())} resources to {args.dir}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    _django()
    from ehr.demo.generator import generate
    from ehr.fhir.operations.bulk_import import load_bundles

    if args.if_empty and _has_patients():
        print("demo data: the database already holds patients; nothing loaded", file=sys.stderr)
        # Demo sign-ins only where demo data was loaded: never added to a real practice's data.
        return _demo_accounts() if _has_demo_accounts() else 0

    bundles = generate(args.patients, args.seed)
    status = load_bundles(
        bundles, label=f"demo data ({args.patients} patients)", progress=not args.quiet
    )
    if not status:
        from ehr.scheduling.demo import seed_demo_schedule

        print(f"demo schedule: {seed_demo_schedule()} appointments booked", file=sys.stderr)
        from ehr.flowboard.rooms import seed_demo_rooms

        print(f"demo rooms: {seed_demo_rooms()} exam rooms", file=sys.stderr)
    return status or _demo_accounts()


def _has_demo_accounts() -> bool:
    from ehr.identity.models import Account

    return Account.objects.filter(demo=True).exists()


def _demo_accounts() -> int:
    """One sign-in per role, linked to demo records; prints the table of passwords."""
    from ehr.identity.commands import print_demo_accounts
    from ehr.identity.demo_accounts import ensure_demo_accounts

    print_demo_accounts(ensure_demo_accounts())
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    _django()
    from ehr.identity.commands import create_account

    return create_account(
        args.username, "admin", email=args.email or "", password_stdin=args.password_stdin
    )


def cmd_user_create(args: argparse.Namespace) -> int:
    _django()
    from ehr.identity.commands import create_account

    return create_account(
        args.username,
        args.role,
        email=args.email or "",
        fhir_user=args.fhir_user or "",
        password_stdin=args.password_stdin,
    )


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _django()
    from ehr.audit.verify import run

    return run()


def _has_patients() -> bool:
    from ehr.fhir.storage.db import raw_cursor, sql

    cur = raw_cursor()
    cur.execute(sql("SELECT 1 FROM fhir_resource WHERE resource_type = ? LIMIT 1"), ("Patient",))
    return cur.fetchone() is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ehr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the web app and FHIR API (granian)")
    p.add_argument("--host", default=os.environ.get("EHR_HOST", "127.0.0.1"))
    p.add_argument("--port", default=None, help="default $EHR_PORT or 8000")
    p.add_argument("--workers", type=int, default=int(os.environ.get("EHR_WORKERS", "2")))
    p.add_argument("--threads", type=int, default=int(os.environ.get("EHR_THREADS", "8")))
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("import", help="import FHIR Bundles, NDJSON files or folders of them")
    p.add_argument("paths", nargs="+")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("validate", help="validate FHIR JSON/NDJSON files offline")
    p.add_argument("paths", nargs="+")
    p.add_argument("--profile", action="append", help="also validate against this profile URL")
    p.add_argument("-q", "--quiet", action="store_true", help="list errors only")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export", help="export current resources as NDJSON, one file per type")
    p.add_argument("dir")
    p.add_argument("--type", action="append", help="only this resource type (repeatable)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo-data", help="generate and load synthetic patients")
    p.add_argument("--patients", type=int, default=60)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--if-empty", action="store_true", help="only if no Patient is stored yet")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("createadmin", help="create an administrator (MFA set up at first sign-in)")
    p.add_argument("--username", required=True)
    p.add_argument("--email")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_createadmin)

    p = sub.add_parser("user", help="user accounts")
    users = p.add_subparsers(dest="user_command", required=True)
    p = users.add_parser("create", help="create a user with a role")
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, help="admin, provider, nurse, front_desk, biller, ...")
    p.add_argument("--fhir-user", help="linked record, e.g. Practitioner/123 or Patient/abc")
    p.add_argument("--email")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_user_create)

    p = sub.add_parser("audit", help="audit trail tools")
    audit = p.add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="check the audit trail's hash chain (exit 1 if broken)")
    p.set_defaults(func=cmd_audit_verify)

    from ehr.jobs.cli import add_commands as add_jobs_commands

    add_jobs_commands(sub, _django)

    from ehr.identity.oauth.cli import add_commands as add_oauth_commands

    add_oauth_commands(sub, _django)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
