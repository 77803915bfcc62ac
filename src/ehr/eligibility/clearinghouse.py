"""Clearinghouse adapters: send a 270, get the 271 back.

``EHR_CLEARINGHOUSE`` picks one: ``simulator`` (the default; the local payer simulator, in
process) or ``http`` (POST to ``EHR_CLEARINGHOUSE_URL`` as ``application/edi-x12``, with
``EHR_CLEARINGHOUSE_TIMEOUT`` seconds to answer). A real clearinghouse's own API gets its own
adapter with the same one method.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Protocol

from django.conf import settings

from ehr.eligibility import simulator

CONTENT_TYPE = "application/edi-x12"
MAX_ANSWER = 5 * 1024 * 1024


class ClearinghouseError(Exception):
    """The 270 could not be sent or no 271 came back; the message is for people."""


class Clearinghouse(Protocol):
    name: str

    def send_270(self, x12_text: str) -> str:
        """Send one 270 interchange; return the 271 interchange text."""
        ...


class LocalPayerSimulator:
    """The simulated payer (``ehr.eligibility.simulator``), answering in process."""

    name = "simulator"

    def send_270(self, x12_text: str) -> str:
        try:
            return simulator.answer_270(x12_text)
        except simulator.SimulatorError as exc:
            raise ClearinghouseError(str(exc)) from exc


class HttpClearinghouse:
    """POSTs the 270 to a URL and reads the 271 from the answer's body."""

    name = "http"

    def __init__(self, url: str, timeout: float = 15.0):
        if not url.startswith(("http://", "https://")):
            raise ClearinghouseError(f"EHR_CLEARINGHOUSE_URL must be an http(s) URL, not {url!r}")
        self.url = url
        self.timeout = timeout

    def send_270(self, x12_text: str) -> str:
        req = urllib.request.Request(
            self.url,
            data=x12_text.encode("utf-8"),
            method="POST",
            headers={"Content-Type": CONTENT_TYPE, "Accept": f"{CONTENT_TYPE}, text/plain"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                body = resp.read(MAX_ANSWER + 1)
        except urllib.error.HTTPError as exc:
            detail = " ".join(exc.read(300).decode("utf-8", "replace").split())
            raise ClearinghouseError(
                f"The clearinghouse refused the inquiry (HTTP {exc.code})"
                + (f": {detail}" if detail else "")
            ) from exc
        except TimeoutError as exc:
            raise ClearinghouseError(
                f"The clearinghouse did not answer within {self.timeout:g} seconds"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ClearinghouseError(
                    f"The clearinghouse did not answer within {self.timeout:g} seconds"
                ) from exc
            raise ClearinghouseError(f"Could not reach the clearinghouse: {exc.reason}") from exc
        except OSError as exc:
            raise ClearinghouseError(f"Could not reach the clearinghouse: {exc}") from exc
        if len(body) > MAX_ANSWER:
            raise ClearinghouseError("The clearinghouse's answer is larger than 5 MB")
        text = body.decode("utf-8", "replace")
        if not text.strip():
            raise ClearinghouseError("The clearinghouse answered with an empty body")
        return text


def get_clearinghouse() -> Clearinghouse:
    """The adapter the settings choose."""
    kind = getattr(settings, "EHR_CLEARINGHOUSE", "simulator") or "simulator"
    if kind == "simulator":
        return LocalPayerSimulator()
    if kind == "http":
        url = getattr(settings, "EHR_CLEARINGHOUSE_URL", "")
        if not url:
            raise ClearinghouseError("EHR_CLEARINGHOUSE is http but EHR_CLEARINGHOUSE_URL is empty")
        return HttpClearinghouse(url, float(getattr(settings, "EHR_CLEARINGHOUSE_TIMEOUT", 15)))
    raise ClearinghouseError(f"Unknown EHR_CLEARINGHOUSE {kind!r}: use simulator or http")
