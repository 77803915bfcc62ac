"""``ehr client create`` and ``ehr token``: register apps and mint tokens from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_commands(sub: Any, setup: Any) -> None:
    """Add the subcommands to the ``ehr`` parser; ``setup`` starts Django."""

    def client_create(args: argparse.Namespace) -> int:
        setup()
        return cmd_client_create(args)

    def token(args: argparse.Namespace) -> int:
        setup()
        return cmd_token(args)

    p = sub.add_parser("client", help="manage OAuth clients (SMART apps, backend services)")
    csub = p.add_subparsers(dest="client_command", required=True)
    c = csub.add_parser("create", help="register an app; prints its client id (and secret once)")
    c.add_argument("--name", required=True)
    c.add_argument("--type", required=True, choices=["public", "confidential"])
    c.add_argument("--redirect-uri", action="append", default=[], help="repeatable")
    c.add_argument("--scope", action="append", default=[], help="allowed scopes; repeatable")
    c.add_argument(
        "--auth-method",
        choices=["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        help="default: none for public, private_key_jwt with keys, else client_secret_basic",
    )
    keys = c.add_mutually_exclusive_group()
    keys.add_argument("--jwks-url", default="", help="where the app publishes its public keys")
    keys.add_argument("--jwks-file", help="a JWKS JSON file with the app's public keys")
    c.add_argument("--launch-url", default="", help="the app's EHR launch URL")
    c.set_defaults(func=client_create)

    p = sub.add_parser("token", help="mint an access token for local scripting")
    p.add_argument("--user", help="an administrator's user name")
    p.add_argument("--system", action="store_true", help="a system token (no user)")
    p.add_argument("--scope", required=True, help='e.g. "user/*.rs" or "system/Patient.rs"')
    p.add_argument("--patient", default="", help="patient id in context")
    p.add_argument("--client", default=None, help="client id the token is issued to")
    p.add_argument("--minutes", type=int, default=60)
    p.set_defaults(func=token)


def cmd_client_create(args: argparse.Namespace) -> int:
    from ehr.identity.oauth.clients import ClientInputError, create_client
    from ehr.identity.oauth.scopes import ScopeError

    jwks = None
    if args.jwks_file:
        try:
            jwks = json.loads(Path(args.jwks_file).read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"ehr client create: cannot read the JWKS file: {e}", file=sys.stderr)
            return 2
    try:
        client, secret = create_client(
            name=args.name,
            client_type=args.type,
            redirect_uris=args.redirect_uri,
            scopes=" ".join(args.scope),
            auth_method=args.auth_method,
            jwks=jwks,
            jwks_url=args.jwks_url,
            launch_url=args.launch_url,
        )
    except (ClientInputError, ScopeError) as e:
        print(f"ehr client create: {e}", file=sys.stderr)
        return 2
    print(f"client_id: {client.client_id}")
    if secret:
        print(f"client_secret: {secret}")
        print("(the secret is shown only now; it is stored as a hash)", file=sys.stderr)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model

    from ehr.fhir import definitions
    from ehr.identity.oauth.integration import account_of
    from ehr.identity.oauth.models import Client
    from ehr.identity.oauth.scopes import ScopeError, ScopeSet
    from ehr.identity.oauth.tokens import mint

    if bool(args.user) == bool(args.system):
        print("ehr token: give either --user NAME or --system", file=sys.stderr)
        return 2
    try:
        scopes = ScopeSet.parse(args.scope, is_resource_type=definitions.is_resource_type)
    except ScopeError as e:
        print(f"ehr token: {e}", file=sys.stderr)
        return 2
    if not 1 <= args.minutes <= 24 * 60:
        print("ehr token: --minutes must be between 1 and 1440", file=sys.stderr)
        return 2
    client = None
    if args.client:
        client = Client.objects.filter(client_id=args.client, active=True).first()
        if client is None:
            print(f"ehr token: no active client '{args.client}'", file=sys.stderr)
            return 2
    user = None
    if args.user:
        user = get_user_model().objects.filter(username=args.user, is_active=True).first()
        if user is None:
            print(f"ehr token: no active user '{args.user}'", file=sys.stderr)
            return 2
        if account_of(user)[0] != "admin":
            print("ehr token: only administrators may mint tokens", file=sys.stderr)
            return 2
    elif scopes.contexts() - {"system"} or scopes.other:
        print("ehr token: a --system token takes system/ scopes only", file=sys.stderr)
        return 2
    value, _ = mint(
        scopes=scopes,
        user=user,
        client=client,
        patient=args.patient,
        minutes=args.minutes,
        system=args.system,
    )
    print(value)
    return 0
