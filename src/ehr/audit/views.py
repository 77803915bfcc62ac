"""The administrators' audit report: filter, sort, page and export the trail as CSV.

Viewing and exporting are audited themselves (action ``search`` / ``export`` on AuditEvent).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import render

from ehr.audit.codes import ACTIONS
from ehr.audit.events import record_event
from ehr.audit.fhir_view import instant
from ehr.audit.models import AuditRecord
from ehr.audit.trail import COLUMNS, OUTCOMES
from ehr.identity.principal import Principal

PAGE = 100
SORTS = {
    "recorded": ("recorded", "seq"),
    "user": ("username", "recorded", "seq"),
    "action": ("action", "recorded", "seq"),
    "patient": ("patient", "recorded", "seq"),
}
# The chained columns, with the row's own hash in place of the previous one.
CSV_COLUMNS = (*COLUMNS[:-1], "hash")


class AuditFilter(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User")
    patient = forms.CharField(
        required=False, max_length=72, label="Patient", help_text="Patient id, e.g. 123"
    )
    action = forms.ChoiceField(
        required=False, choices=[("", "Any")] + [(a, a) for a in sorted(ACTIONS)]
    )
    outcome = forms.ChoiceField(required=False, choices=[("", "Any")] + [(o, o) for o in OUTCOMES])
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        help_text="Inclusive (UTC)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = forms.ChoiceField(
        required=False, choices=[(s, s) for k in SORTS for s in (k, f"-{k}")], initial="-recorded"
    )
    page = forms.IntegerField(required=False, min_value=1)

    def clean_patient(self) -> str:
        return self.cleaned_data["patient"].strip().removeprefix("Patient/")

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def queryset(self) -> QuerySet:
        """The filtered, sorted records (the form must be valid)."""
        d = self.cleaned_data
        q = Q()
        if d["user"]:
            q &= Q(username__iexact=d["user"].strip())
        if d["patient"]:
            q &= Q(patient=d["patient"])
        if d["action"]:
            q &= Q(action=d["action"])
        if d["outcome"]:
            q &= Q(outcome=d["outcome"])
        if d["date_from"]:
            q &= Q(recorded__gte=_day_us(d["date_from"]))
        if d["date_to"]:
            q &= Q(recorded__lt=_day_us(d["date_to"] + timedelta(days=1)))
        sort = d.get("sort") or "-recorded"
        fields = SORTS[sort.lstrip("-")]
        order = [f"-{f}" for f in fields] if sort.startswith("-") else list(fields)
        return AuditRecord.objects.filter(q).order_by(*order)

    def summary(self) -> str:
        """The filter as a query string, for the audit record of this view."""
        d = self.cleaned_data
        keys = ("user", "patient", "action", "outcome", "date_from", "date_to")
        return urlencode([(k, str(d[k])) for k in keys if d.get(k)])


def _day_us(day) -> int:
    return int(datetime.combine(day, time(0), UTC).timestamp()) * 1_000_000


def _principal(request: HttpRequest) -> Principal:
    found = getattr(request, "principal", None)  # set by ehr.identity's middleware
    if found is not None:
        return found
    user = request.user
    return Principal(
        kind="user",
        username=user.get_username(),
        role=_role(request),
        user_id=user.pk,
        token_id=request.session.session_key if hasattr(request, "session") else None,
        source=request.META.get("REMOTE_ADDR"),
    )


def _role(request: HttpRequest) -> str | None:
    """The role from the request's Principal, else the Account (identity app) of the user."""
    found = getattr(request, "principal", None)
    if found is not None:
        return found.role
    from ehr.identity.accounts import account_of

    account = account_of(request.user)
    return account.role if account is not None else None


def _gate(request: HttpRequest) -> HttpResponse | None:
    """None if an administrator asks; else the login redirect or a 403 (which is audited)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if _role(request) != "admin":
        record_event(
            "access-denied",
            _principal(request),
            outcome="denied",
            status=403,
            resource_type="AuditEvent",
            detail="audit report",
        )
        return HttpResponseForbidden("Only administrators may see the audit trail.")
    return None


def report(request: HttpRequest) -> HttpResponse:
    refused = _gate(request)
    if refused is not None:
        return refused
    form = AuditFilter(request.GET or None)
    rows: list[AuditRecord] = []
    page, more = 1, False
    if not request.GET or form.is_valid():
        if not request.GET:
            form = AuditFilter({"sort": "-recorded"})
            form.is_valid()
        page = form.cleaned_data.get("page") or 1
        found = list(form.queryset()[(page - 1) * PAGE : page * PAGE + 1])
        more = len(found) > PAGE
        rows = found[:PAGE]
        record_event(
            "search",
            _principal(request),
            resource_type="AuditEvent",
            query=form.summary(),
            detail=f"audit report page {page}",
        )
    params = {k: v for k, v in request.GET.items() if k != "page" and v}
    sort = (form.cleaned_data.get("sort") if form.is_bound and form.is_valid() else "") or (
        "-recorded"
    )
    columns = []
    for key, label in (
        ("recorded", "When (UTC)"),
        ("user", "User"),
        ("action", "Action"),
        ("patient", "Patient"),
    ):
        next_sort = f"-{key}" if sort == key else key
        state = "ascending" if sort == key else "descending" if sort == f"-{key}" else "none"
        columns.append(
            {
                "label": label,
                "url": "?" + urlencode({**params, "sort": next_sort}),
                "aria_sort": state,
            }
        )
    context = {
        "form": form,
        "rows": [(r, instant(r.recorded)[:19].replace("T", " ")) for r in rows],
        "columns": columns,
        "page": page,
        "previous_url": "?" + urlencode({**params, "page": page - 1}) if page > 1 else None,
        "next_url": "?" + urlencode({**params, "page": page + 1}) if more else None,
        "export_url": "export.csv?" + urlencode(params),
    }
    return render(request, "audit/report.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> object:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_lines(qs: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for row in qs.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
        values = list(row)
        values[1] = instant(values[1])
        yield writer.writerow([_cell(v) for v in values])


def export_csv(request: HttpRequest) -> HttpResponse:
    refused = _gate(request)
    if refused is not None:
        return refused
    form = AuditFilter(request.GET or {"sort": "-recorded"})
    if not form.is_valid():
        return render(
            request,
            "audit/report.html",
            {"form": form, "rows": [], "columns": [], "page": 1},
            status=400,
        )
    record_event(
        "export",
        _principal(request),
        resource_type="AuditEvent",
        query=form.summary(),
        detail="audit report CSV",
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(_csv_lines(form.queryset()), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
