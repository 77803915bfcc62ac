"""The staff "Apps" screen: open a registered SMART app for a patient (EHR launch).

The launch itself is ``/oauth/launch`` (views.launch): this screen finds the patient and posts
there, so the app receives ``iss`` and a one-time ``launch`` handle tied to this user.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ehr.audit.events import record_event
from ehr.identity.decorators import require_role
from ehr.identity.oauth.models import Client
from ehr.identity.oauth.patients import search_patients


@require_role("admin", "provider", "nurse", "front_desk", "biller")
def apps(request: HttpRequest) -> HttpResponse:
    launchable = Client.objects.filter(active=True).exclude(launch_url="").order_by("name")
    name = (request.GET.get("name") or "").strip()
    error = ""
    patients: list[tuple[str, str]] = []
    if "name" in request.GET:
        if len(name) < 2:
            error = "Type at least two letters of the patient's name."
        else:
            patients = search_patients(name)
            record_event(
                "search",
                request.principal,
                resource_type="Patient",
                detail=f"apps screen: patients named '{name}' ({len(patients)} found)",
            )
    return render(
        request,
        "oauth/apps.html",
        {"apps": launchable, "name": name, "error": error, "patients": patients},
    )
