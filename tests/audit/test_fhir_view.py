"""AuditEvent resources (valid R4) and the read-only AuditEvent read and search."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from ehr.audit.fhir_view import audit_event_resource, handle_audit_event
from ehr.audit.models import AuditRecord
from ehr.audit.trail import AuditEntry, entry_for, record
from ehr.fhir.api.http import FhirRequest
from ehr.fhir.validation.validator import validate
from ehr.identity.principal import Principal

pytestmark = pytest.mark.django_db

BASE = "https://ehr.example/fhir"
NURSE = Principal(
    kind="user",
    username="nina",
    role="nurse",
    fhir_user="Practitioner/n1",
    client_id="vitals-app",
    source="192.0.2.4",
    token_id="t1",
)
ADMIN = Principal(kind="user", username="root", role="admin", source="192.0.2.5")


def _us(text: str) -> int:
    dt = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def _at(entry: AuditEntry, when: str) -> AuditEntry:
    entry.recorded = _us(when)
    return entry


@pytest.fixture
def trail() -> dict[str, int]:
    """A small, varied trail; returns the seq of each record by a label."""
    first = (AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first()) or 0
    entries = {
        "read": _at(
            entry_for(
                NURSE, "read", resource_type="Patient", resource_id="p1", version=3, patient="p1"
            ),
            "2024-03-01T09:00:00",
        ),
        "search": _at(
            entry_for(
                NURSE,
                "search",
                resource_type="Observation",
                query="patient=p1&code=http://loinc.org|8867-4",
                patient="Patient/p1",
            ),
            "2024-03-01T09:05:00",
        ),
        "create": _at(
            entry_for(
                NURSE,
                "create",
                status=201,
                resource_type="Observation",
                resource_id="o9",
                version=1,
                patient="p2",
            ),
            "2024-03-02T10:00:00",
        ),
        "denied": _at(
            entry_for(
                NURSE,
                "read",
                outcome="denied",
                status=403,
                resource_type="Patient",
                resource_id="p3",
                patient="p3",
            ),
            "2024-03-03T11:00:00",
        ),
        "login": _at(entry_for(ADMIN, "login", detail="password+totp"), "2024-03-04T08:00:00"),
        "failed": _at(
            entry_for(None, "login-failed", outcome="failed", status=401, detail="unknown name"),
            "2024-03-04T08:01:00",
        ),
        "error": _at(
            entry_for(ADMIN, "export", outcome="failed", status=500, detail="disk full"),
            "2024-03-05T12:00:00",
        ),
    }
    record(list(entries.values()))
    return {label: first + i + 1 for i, label in enumerate(entries)}


def _get(url: str):
    return handle_audit_event(FhirRequest.from_url("GET", url, base_url=BASE))


def _ids(url: str) -> list[int]:
    resp = _get(url)
    assert resp.status == 200, resp.resource
    return [
        int(e["resource"]["id"])
        for e in resp.resource["entry"]
        if e["resource"]["resourceType"] == "AuditEvent"
    ]


def test_every_kind_of_record_is_a_valid_audit_event(trail):
    for seq in trail.values():
        resource = audit_event_resource(AuditRecord.objects.get(seq=seq))
        errors = [i for i in validate(resource) if i.severity == "error"]
        assert not errors, (resource, errors)


def test_read_maps_who_what_when_where(trail):
    resp = _get(f"AuditEvent/{trail['read']}")
    assert resp.status == 200
    ev = resp.resource
    assert ev["type"]["code"] == "rest" and ev["action"] == "R" and ev["outcome"] == "0"
    assert ev["subtype"][0] == {"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}
    assert ev["recorded"] == "2024-03-01T09:00:00.000000Z"
    user, app = ev["agent"]
    assert user["who"]["reference"] == "Practitioner/n1" and user["requestor"] is True
    assert user["network"] == {"address": "192.0.2.4", "type": "2"}
    assert app["who"]["identifier"]["value"] == "vitals-app" and app["requestor"] is False
    what, patient = ev["entity"]
    assert what["what"]["reference"] == "Patient/p1/_history/3"
    assert patient["what"]["reference"] == "Patient/p1"

    search = _get(f"AuditEvent/{trail['search']}").resource
    assert search["action"] == "E" and search["subtype"][0]["code"] == "search-type"
    query = base64.b64decode(search["entity"][0]["query"]).decode()
    assert query == "patient=p1&code=http://loinc.org|8867-4"

    login = _get(f"AuditEvent/{trail['login']}").resource
    assert login["type"]["code"] == "110114" and login["subtype"][0]["code"] == "110122"
    assert _get(f"AuditEvent/{trail['denied']}").resource["outcome"] == "4"
    assert _get(f"AuditEvent/{trail['error']}").resource["outcome"] == "8"
    assert _get(f"AuditEvent/{trail['read']}/_history/1").status == 200


def test_unknown_and_writes_are_refused(trail):
    assert _get("AuditEvent/999999999").status == 404
    assert _get("AuditEvent/abc").status == 404
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        path = "AuditEvent" if method == "POST" else f"AuditEvent/{trail['read']}"
        resp = handle_audit_event(FhirRequest(method, path, body=b"{}", base_url=BASE))
        assert resp.status == 405
        assert resp.resource["resourceType"] == "OperationOutcome"
        assert resp.resource["issue"][0]["code"] == "not-supported"
    assert AuditRecord.objects.get(seq=trail["read"]).username == "nina"


def test_search_filters(trail):
    t = trail
    window = "date=ge2024-03-01&date=le2024-03-05"
    assert set(_ids(f"AuditEvent?{window}")) == set(t.values())
    assert _ids(f"AuditEvent?{window}&_sort=date")[0] == t["read"]
    assert _ids(f"AuditEvent?{window}")[0] == t["error"]  # newest first by default
    assert set(_ids("AuditEvent?date=2024-03-01")) == {t["read"], t["search"]}
    assert set(_ids("AuditEvent?date=gt2024-03-03T00:00:00Z&date=lt2024-03-04T08:01:00Z")) == {
        t["denied"],
        t["login"],
    }
    assert set(_ids(f"AuditEvent?{window}&agent-name=nina")) == {
        t["read"],
        t["search"],
        t["create"],
        t["denied"],
    }
    assert set(_ids(f"AuditEvent?{window}&agent=Practitioner/n1&action=C")) == {t["create"]}
    assert set(_ids(f"AuditEvent?{window}&patient=Patient/p1")) == {t["read"], t["search"]}
    assert set(_ids(f"AuditEvent?{window}&patient=p2,p3")) == {t["create"], t["denied"]}
    assert set(_ids(f"AuditEvent?{window}&subtype=read")) == {t["read"], t["denied"]}
    assert set(_ids(f"AuditEvent?{window}&subtype=110122")) == {t["login"], t["failed"]}
    assert set(_ids(f"AuditEvent?{window}&subtype=login-failed")) == {t["failed"]}
    assert set(_ids(f"AuditEvent?{window}&outcome=4")) == {t["denied"], t["failed"]}
    assert set(_ids(f"AuditEvent?{window}&outcome=8")) == {t["error"]}
    assert set(_ids(f"AuditEvent?{window}&entity-type=Observation")) == {t["search"], t["create"]}


def test_search_pages_with_a_cursor(trail):
    url = "AuditEvent?date=ge2024-03-01&date=le2024-03-05&_count=3&_sort=date"
    seen: list[int] = []
    pages = 0
    while url:
        resp = _get(url.removeprefix(BASE + "/"))
        pages += 1
        seen += [int(e["resource"]["id"]) for e in resp.resource["entry"]]
        nxt = [link["url"] for link in resp.resource["link"] if link["relation"] == "next"]
        url = nxt[0] if nxt else ""
    assert seen == sorted(trail.values()) and pages == 3


def test_search_reports_bad_input(trail):
    bad = _get("AuditEvent?date=2024-13-45")
    assert bad.status == 400 and bad.resource["issue"][0]["expression"] == ["date"]
    assert _get("AuditEvent?_cursor=@@@").status == 400
    assert _get("AuditEvent?_sort=agent").status == 400
    resp = _get("AuditEvent?date=2024-03-01&frobnicate=1")
    assert resp.status == 200
    assert resp.resource["entry"][-1]["search"]["mode"] == "outcome"
