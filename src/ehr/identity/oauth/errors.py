"""OAuth 2.0 error (RFC 6749 section 5.2) carried from the checks to the endpoint views."""

from __future__ import annotations


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
