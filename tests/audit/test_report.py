"""The administrators' audit report screen and its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from ehr.audit.models import AuditRecord
from ehr.audit.trail import entry_for, record
from ehr.identity.accounts import create_user
from ehr.identity.principal import Principal

pytestmark = pytest.mark.django_db


def _at(entry, when: str):
    entry.recorded = int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp() * 1e6)
    return entry


@pytest.fixture
def records():
    first = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    dana = Principal(kind="user", username="dana", role="provider", source="198.51.100.7")
    eve = Principal(kind="user", username="eve", role="front_desk")
    record(
        [
            _at(
                entry_for(dana, "read", resource_type="Patient", resource_id="p1", patient="p1"),
                "2031-05-01T10:00:00",
            ),
            _at(
                entry_for(eve, "read", resource_type="Patient", resource_id="p2", patient="p2"),
                "2031-05-02T10:00:00",
            ),
            _at(
                entry_for(
                    dana,
                    "update",
                    resource_type="Patient",
                    resource_id="p2",
                    patient="p2",
                    detail='=HYPERLINK("x")',
                ),
                "2031-05-03T10:00:00",
            ),
            _at(
                entry_for(eve, "login-failed", outcome="failed", status=401), "2031-05-04T10:00:00"
            ),
        ]
    )
    return first


@pytest.fixture
def admin_client(client):
    client.force_login(create_user("root", "admin", demo=True))
    return client


def _table_users(resp) -> list[str]:
    html = resp.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        cell.split("</td>")[0]
        for cell in body.split("<tr>")[1:]
        for cell in [cell.split("<td>")[2]]
    ]


def test_anonymous_is_sent_to_login_and_non_admin_refused(client, records):
    resp = client.get("/admin/audit/")
    assert resp.status_code == 302 and "login" in resp["Location"]
    client.force_login(create_user("clerk", "front_desk", demo=True))
    before = AuditRecord.objects.count()
    assert client.get("/admin/audit/").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403
    denied = AuditRecord.objects.order_by("-seq")[:2]
    assert AuditRecord.objects.count() == before + 2
    assert {(r.action, r.username, r.outcome) for r in denied} == {
        ("access-denied", "clerk", "denied")
    }


def test_filters_sorting_and_the_view_is_audited(admin_client, records):
    window = "date_from=2031-05-01&date_to=2031-05-04"
    resp = admin_client.get(f"/admin/audit/?{window}&sort=recorded")
    assert resp.status_code == 200
    assert _table_users(resp) == ["dana", "eve", "dana", "eve"]
    assert _table_users(admin_client.get(f"/admin/audit/?{window}&sort=-recorded")) == [
        "eve",
        "dana",
        "eve",
        "dana",
    ]
    assert _table_users(admin_client.get(f"/admin/audit/?{window}&user=dana")) == ["dana", "dana"]
    assert _table_users(admin_client.get(f"/admin/audit/?{window}&patient=Patient/p2")) == [
        "dana",
        "eve",
    ]
    assert _table_users(admin_client.get(f"/admin/audit/?{window}&action=login-failed")) == ["eve"]
    assert _table_users(admin_client.get(f"/admin/audit/?{window}&outcome=failed")) == ["eve"]
    one_day = "/admin/audit/?date_from=2031-05-02&date_to=2031-05-02"
    assert _table_users(admin_client.get(one_day)) == ["eve"]
    seen = AuditRecord.objects.order_by("-seq").first()
    assert seen.action == "search" and seen.resource_type == "AuditEvent"
    assert seen.username == "root" and "date_from=2031-05-02" in seen.query


def test_bad_filter_shows_errors_beside_fields(admin_client, records):
    resp = admin_client.get("/admin/audit/?date_from=2031-05-04&date_to=2031-05-01&action=nope")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'id="id_date_to-error"' in html and "before the start date" in html
    assert 'id="id_action-error"' in html
    assert "<tbody>" not in html


def test_paging_by_100(admin_client, records):
    many = [
        _at(entry_for(Principal(kind="user", username="bulk"), "read"), "2031-06-01T00:00:00")
        for _ in range(150)
    ]
    record(many)
    url = "/admin/audit/?user=bulk&date_from=2031-06-01&date_to=2031-06-01"
    first = admin_client.get(url)
    assert len(_table_users(first)) == 100 and b'rel="next"' in first.content
    second = admin_client.get(url + "&page=2")
    assert len(_table_users(second)) == 50 and b'rel="next"' not in second.content


def test_csv_export_streams_the_filter_and_is_audited(admin_client, records):
    resp = admin_client.get("/admin/audit/export.csv?user=dana&date_from=2031-05-01&sort=recorded")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    assert resp.streaming
    rows = list(csv.reader(io.StringIO(b"".join(resp.streaming_content).decode())))
    assert rows[0][:3] == ["seq", "recorded", "action"]
    assert [r[2] for r in rows[1:]] == ["read", "update"]
    assert rows[1][1] == "2031-05-01T10:00:00.000000Z"
    assert rows[2][rows[0].index("detail")].startswith("'=")  # no formula injection
    exported = AuditRecord.objects.order_by("-seq").first()
    assert exported.action == "export" and exported.resource_type == "AuditEvent"
