"""Read-only iCalendar feeds, authenticated by a feed token in the query string."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from ehr.fhir.access import acting_as
from ehr.fhir.errors import FhirError, NotFound
from ehr.fhir.storage import repository
from ehr.identity.access import PrincipalPolicy
from ehr.identity.accounts import principal_for_user
from ehr.identity.sessions import client_ip
from ehr.scheduling import feeds, ical
from ehr.scheduling.events_access import EventsReaderPolicy

CONTENT_TYPE = "text/calendar; charset=utf-8"


def _refuse() -> HttpResponse:
    return HttpResponse(
        "This calendar link is not valid (wrong or revoked token).\n",
        status=403,
        content_type="text/plain; charset=utf-8",
    )


def _answer(body: bytes, name: str) -> HttpResponse:
    resp = HttpResponse(body, content_type=CONTENT_TYPE)
    resp["Content-Disposition"] = f'inline; filename="{name}"'
    resp["Cache-Control"] = "private, max-age=300"
    resp["Referrer-Policy"] = "no-referrer"
    return resp


def _as_token_user(request: HttpRequest, build) -> HttpResponse:
    """Run ``build`` under the token owner's access policy (the same rules as the screens)."""
    user = feeds.user_for(request.GET.get("token"))
    if user is None:
        return _refuse()
    principal = principal_for_user(user, source=client_ip(request))
    try:
        # Every member of staff may see the practice events (EventsReaderPolicy); visits stay
        # under the owner's role, so a role that may not see appointments gets events only.
        with acting_as(EventsReaderPolicy(PrincipalPolicy(principal))):
            return build()
    except NotFound:
        return HttpResponse("No such provider.\n", status=404, content_type="text/plain")
    except FhirError as err:
        return HttpResponse(err.message + "\n", status=err.status, content_type="text/plain")


@require_GET
def practice_ics(request: HttpRequest) -> HttpResponse:
    return _as_token_user(request, lambda: _answer(ical.practice_feed(), "practice.ics"))


@require_GET
def provider_ics(request: HttpRequest, provider_id: str) -> HttpResponse:
    def build() -> HttpResponse:
        repository.read("Practitioner", provider_id)
        body = ical.provider_feed(f"Practitioner/{provider_id}")
        return _answer(body, f"{provider_id}.ics")

    return _as_token_user(request, build)
