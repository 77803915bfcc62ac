"""What the ``ehr createadmin`` and ``ehr user create`` commands do."""

from __future__ import annotations

import getpass
import sys

from django.core.exceptions import ValidationError


def read_password(from_stdin: bool) -> str | None:
    """The new password, from standard input's first line or typed twice; None if they differ."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
    except EOFError:
        print("No password given (use --password-stdin to pipe one).", file=sys.stderr)
        return None
    if first != second:
        print("The two passwords differ.", file=sys.stderr)
        return None
    return first


def create_account(
    username: str,
    role: str,
    *,
    email: str = "",
    fhir_user: str = "",
    password_stdin: bool = False,
) -> int:
    """Create one account, enforcing the password policy; prints the outcome; exit status."""
    from django.contrib.auth import get_user_model

    from ehr.identity.accounts import check_fhir_user, create_user
    from ehr.identity.audit_hook import audit
    from ehr.identity.principal import ROLES, SYSTEM

    if role not in ROLES:
        print(f"Unknown role {role!r}; one of {', '.join(ROLES)}.", file=sys.stderr)
        return 2
    problem = check_fhir_user(role, fhir_user)
    if problem:
        print(f"--fhir-user: {problem}", file=sys.stderr)
        return 2
    if get_user_model().objects.filter(username__iexact=username).exists():
        print(f"A user named {username!r} exists already.", file=sys.stderr)
        return 1
    password = read_password(password_stdin)
    if password is None:
        return 1
    try:
        create_user(username, role, password=password, email=email, fhir_user=fhir_user)
    except ValidationError as e:
        for message in e.messages:
            print(f"Password refused: {message}", file=sys.stderr)
        return 1
    audit("account-change", SYSTEM, detail=f"created user {username}, role {role} (command line)")
    note = (
        " Two-step verification will be set up at the first sign-in." if role != "patient" else ""
    )
    print(f"Created {role} {username}.{note}")
    return 0


def print_demo_accounts(rows: list[tuple[str, str, str]]) -> None:
    print("\nDemo accounts (synthetic data only):")
    width = max(len(u) for u, _, _ in rows)
    pw_width = max(len(p) for _, p, _ in rows)
    for username, password, role in rows:
        print(f"  {username:<{width}}  {password:<{pw_width}}  {role}")
