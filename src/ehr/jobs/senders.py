"""Pluggable delivery: one sender per channel, chosen by setting.

``EHR_EMAIL_SENDER``: ``file`` (default: one .eml file per message under
``var/outbox-email/``), ``console`` (printed on the worker's stdout) or ``smtp`` (Django's SMTP
backend with the ``EHR_EMAIL_*`` settings). ``EHR_SMS_SENDER``: ``file`` (default: one JSON file
per message under ``var/outbox-sms/``) or ``http`` (a JSON POST to ``EHR_SMS_URL`` with an
optional bearer ``EHR_SMS_TOKEN``; any 2xx is success). Either setting may also name a class,
``package.module:Class``, whose instances have ``send(message)``; a sender raises to fail.
The defaults keep everything on the machine: nothing leaves it until an operator says so.
"""

from __future__ import annotations

import importlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from ehr.jobs.models import OutboxMessage


class Sender(Protocol):
    def send(self, message: OutboxMessage) -> None: ...


def _setting(name: str, default: str) -> str:
    return str(getattr(settings, name, None) or os.environ.get(name) or default)


def outbox_dir(kind: str) -> Path:
    base = Path(_setting("EHR_OUTBOX_DIR", str(settings.VAR_DIR)))
    path = base / f"outbox-{kind}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe_name(message: OutboxMessage) -> str:
    return f"{message.id:08d}"


class DjangoEmailSender:
    """E-mail through one of Django's mail backends."""

    BACKENDS = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
    }

    def __init__(self, kind: str):
        self.kind = kind

    def send(self, message: OutboxMessage) -> None:
        domain = (settings.DEFAULT_FROM_EMAIL.rsplit("@", 1) + ["localhost"])[1]
        email = EmailMessage(
            subject=message.subject or "Message from your practice",
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={"Message-ID": f"<{message.idempotency_key.replace(' ', '')}@{domain}>"},
        )
        if self.kind == "file":
            path = outbox_dir("email") / f"{_safe_name(message)}.eml"
            path.write_bytes(email.message().as_bytes())
            return
        connection = get_connection(self.BACKENDS[self.kind], fail_silently=False)
        if connection.send_messages([email]) != 1:
            raise RuntimeError("The mail backend accepted no message")


class FileSmsSender:
    """One JSON file per text message (development and tests)."""

    def send(self, message: OutboxMessage) -> None:
        path = outbox_dir("sms") / f"{_safe_name(message)}.json"
        path.write_text(json.dumps(_sms_payload(message), indent=2))


class HttpSmsSender:
    """POST ``{"to", "body", "id", "idempotency_key"}`` as JSON to ``EHR_SMS_URL``."""

    def __init__(self) -> None:
        self.url = _setting("EHR_SMS_URL", "")
        self.token = _setting("EHR_SMS_TOKEN", "")
        self.timeout = float(_setting("EHR_SMS_TIMEOUT", "15"))

    def send(self, message: OutboxMessage) -> None:
        if not self.url:
            raise RuntimeError("EHR_SMS_URL is not set")
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(
            self.url, data=json.dumps(_sms_payload(message)).encode(), headers=headers,
            method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (operator URL)
            if not 200 <= resp.status < 300:
                raise RuntimeError(f"SMS gateway answered {resp.status}")


def _sms_payload(message: OutboxMessage) -> dict:
    return {
        "to": message.recipient,
        "body": message.body,
        "id": message.id,
        "idempotency_key": message.idempotency_key,
    }


def _custom(path: str) -> Sender:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()


def sender_for(channel: str) -> Sender:
    if channel == "email":
        kind = _setting("EHR_EMAIL_SENDER", "file")
        if kind in ("file", "console", "smtp"):
            return DjangoEmailSender(kind)
        return _custom(kind)
    if channel == "sms":
        kind = _setting("EHR_SMS_SENDER", "file")
        if kind == "file":
            return FileSmsSender()
        if kind == "http":
            return HttpSmsSender()
        return _custom(kind)
    raise ValueError(f"No sender for channel {channel!r}")
