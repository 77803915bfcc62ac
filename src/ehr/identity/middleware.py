"""Screen middleware: security headers, automatic log-off, MFA enrolment, the request principal."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from ehr.fhir.access import acting_as
from ehr.identity.accounts import account_of, principal_for_user
from ehr.identity.models import UserSession
from ehr.identity.sessions import client_ip, track

CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SKIP_PREFIXES = ("/fhir", "/static/")
# Pages a signed-in user who still has to enrol in MFA may open.
ENROL_PATHS = ("/account/mfa/", "/logout/", "/login/")
LAST_ACTIVITY = "_ehr_last_activity"
ACTIVITY_RESOLUTION = 15  # seconds: the session is re-saved at most this often just for activity
LAST_SEEN_RESOLUTION = 60  # seconds between last-seen updates of the tracked session


class SecurityHeadersMiddleware:
    """Content-Security-Policy on every response; secure cookies whenever the request is https."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        return response


class _LazyPolicy:
    """The signed-in person's access policy, built on the first engine call that needs it."""

    def __init__(self, request: HttpRequest):
        self._request = request
        self._policy = None

    def _get(self):
        if self._policy is None:
            from ehr.identity.access import PrincipalPolicy

            self._policy = PrincipalPolicy(self._request.principal)
        return self._policy

    @property
    def patient(self):
        return self._get().patient

    @property
    def principal(self):
        """Who is calling (``scheduling.booking.may_overbook`` reads the role from it)."""
        return self._request.principal

    def permits(self, action: str, resource_type: str) -> bool:
        return self._get().permits(action, resource_type)

    def patient_for(self, action: str, resource_type: str):
        return self._get().patient_for(action, resource_type)

    def constraints(self, action: str, resource_type: str):
        return self._get().constraints(action, resource_type)


class IdentityMiddleware:
    """After ``AuthenticationMiddleware``: idle log-off, MFA enrolment, ``request.principal``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(SKIP_PREFIXES) or not hasattr(request, "user"):
            return self.get_response(request)
        user = request.user
        if not user.is_authenticated:
            request.principal = None  # type: ignore[attr-defined]
            return self.get_response(request)

        now = time.time()
        last = request.session.get(LAST_ACTIVITY)
        timeout = settings.EHR_IDLE_TIMEOUT_MINUTES * 60
        if last is not None and now - last > timeout:
            return self._idle_logout(request)
        if last is None or now - last >= ACTIVITY_RESOLUTION:
            request.session[LAST_ACTIVITY] = now
        self._touch(request, user)

        account = account_of(user)
        if (
            account is not None
            and account.mfa_required
            and not account.mfa_enabled
            and not path.startswith(ENROL_PATHS)
        ):
            return HttpResponseRedirect("/account/mfa/setup/")

        key = request.session.session_key
        ip = client_ip(request)
        request.principal = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: principal_for_user(user, source=ip, session_key=key)
        )
        # Screens read and write health data through the engine under the same rules as the
        # API: the signed-in person's role (and patient, for patients and proxies).
        with acting_as(_LazyPolicy(request)):
            return self.get_response(request)

    def _idle_logout(self, request: HttpRequest) -> HttpResponse:
        minutes = settings.EHR_IDLE_TIMEOUT_MINUTES
        next_url = request.get_full_path() if request.method == "GET" else "/"
        logout(request)
        messages.info(request, f"You were signed out after {minutes} minutes without activity.")
        return HttpResponseRedirect("/login/?" + urlencode({"next": next_url}))

    def _touch(self, request: HttpRequest, user) -> None:
        key = request.session.session_key
        if not key:
            return
        marker = "_ehr_seen"
        now = time.time()
        if now - request.session.get(marker, 0) < LAST_SEEN_RESOLUTION:
            return
        request.session[marker] = now
        updated = UserSession.objects.filter(session_key=key).update(last_seen=timezone.now())
        if not updated:
            track(request, user)
