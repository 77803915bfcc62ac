"""Screens show times in the practice's time zone (``EHR_TIME_ZONE``); storage and the API stay
in UTC. Templates' ``date`` filter converts aware times to the active zone, so activating it
per request is enough."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class PracticeTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.zone = ZoneInfo(settings.EHR_TIME_ZONE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.activate(self.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
