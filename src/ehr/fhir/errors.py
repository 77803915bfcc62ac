"""Errors the engine raises; the API turns each into an OperationOutcome with its HTTP status."""

from __future__ import annotations


class FhirError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, expression: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression
        if status is not None:
            self.status = status


class NotFound(FhirError):
    status = 404
    code = "not-found"


class Gone(FhirError):
    status = 410
    code = "deleted"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class Unprocessable(FhirError):
    status = 422
    code = "processing"


class NotSupported(FhirError):
    status = 400
    code = "not-supported"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class MultipleMatches(PreconditionFailed):
    code = "multiple-matches"


class Forbidden(FhirError):
    status = 403
    code = "forbidden"


class Unauthorized(FhirError):
    """No valid credentials; ``challenge`` is the WWW-Authenticate header to send."""

    status = 401
    code = "login"

    def __init__(self, message: str, *, challenge: str = 'Bearer realm="ehr"'):
        super().__init__(message)
        self.challenge = challenge
