"""Framework-neutral request and response objects for the FHIR API.

The interaction handlers work on these, so the same code serves the Django view, Bundle entries
(transaction and batch) and tests without an HTTP round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from ehr.fhir import jsonio

FHIR_JSON = "application/fhir+json; charset=utf-8"


@dataclass
class FhirRequest:
    method: str
    path: str  # below /fhir, without leading slash: "Patient/123/_history"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    base_url: str = ""
    # Called with the response once the outcome is known: inside the write's transaction for a
    # successful write (``in_transaction`` True), else after it. The API adapter audits here.
    on_outcome: Any = None

    @classmethod
    def from_url(cls, method: str, url: str, **kw) -> FhirRequest:
        path, _, qs = url.partition("?")
        return cls(method, path.strip("/"), parse_qsl(qs, keep_blank_values=True), **kw)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return None

    @property
    def parts(self) -> list[str]:
        return [p for p in self.path.split("/") if p]


@dataclass
class FhirResponse:
    status: int
    body: bytes | None = None  # JSON bytes, or None for no content
    headers: dict[str, str] = field(default_factory=dict)
    resource: dict | None = None  # parsed body when a handler built it (Bundle entries reuse it)
    stored: Any = None  # the stored version a write or read answered with

    @classmethod
    def json(
        cls, status: int, resource: dict, headers: dict[str, str] | None = None
    ) -> FhirResponse:
        return cls(status, jsonio.dumps(resource), headers or {}, resource)


def http_date(updated_us: int) -> str:
    return _http_date(updated_us // 1_000_000)


@lru_cache(maxsize=256)
def _http_date(seconds: int) -> str:
    """An HTTP date has whole seconds: writes and reads of the same second share one text."""
    return formatdate(seconds, usegmt=True)
