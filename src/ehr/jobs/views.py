"""``/admin/outbox/``: the outbox viewer (administrators): every message with its status and
last error, the rendered content, and the dead-letter actions (retry, give up)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from ehr.audit.events import record_event
from ehr.identity.decorators import require_role
from ehr.jobs import outbox
from ehr.jobs.models import STATUSES, OutboxMessage
from ehr.scheduling.common import practice_tz

FILTERS = [("", "All"), *STATUSES]


@require_role("admin")
def outbox_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = OutboxMessage.objects.order_by("-created_at", "-id")
    if status in dict(STATUSES):
        qs = qs.filter(status=status)
    counts = outbox.counts_by_status()
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    record_event(
        "search", request.principal, detail=f"outbox viewer: {len(page.object_list)} messages",
        query=f"status={status}",
    )  # fmt: skip
    return render(
        request,
        "jobs/outbox.html",
        {
            "page": page,
            "status": status,
            "practice_tz": practice_tz(),
            "filters": [(code, label, counts.get(code, 0)) for code, label in FILTERS],
        },
    )


@require_role("admin")
def outbox_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    msg = OutboxMessage.objects.filter(id=message_id).first()
    if msg is None:
        raise Http404("No such message")
    record_event("read", request.principal, detail=f"outbox message {msg.id} ({msg.ref})")
    return render(request, "jobs/outbox_detail.html", {"m": msg, "practice_tz": practice_tz()})


@require_POST
@require_role("admin")
def outbox_action(request: HttpRequest, message_id: int, action: str) -> HttpResponse:
    if action == "retry":
        done = outbox.retry(message_id)
        text = "Message queued again." if done else "Only dead, failed or cancelled messages."
    elif action == "dead":
        done = outbox.give_up(message_id)
        text = "Message moved to dead letters." if done else "Only queued or failed messages."
    else:
        raise Http404("No such action")
    record_event(
        "update", request.principal, outcome="success" if done else "failed", status=200,
        detail=f"outbox message {message_id}: {action}",
    )  # fmt: skip
    (messages.success if done else messages.error)(request, text)
    back = request.POST.get("next") or f"/admin/outbox/{message_id}/"
    if not back.startswith("/admin/outbox/"):
        back = "/admin/outbox/"
    return HttpResponseRedirect(back)
