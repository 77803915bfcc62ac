"""The administrator's schedule settings: hours, time off and visit types change what the
scheduling engine offers; mistakes are explained beside the field; every change is audited."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from ehr.audit.models import AuditRecord
from ehr.scheduling import availability
from ehr.scheduling.models import AppointmentType, ScheduleException, WorkingHours
from tests.scheduling.conftest import DR_A, DR_B, MAIN, MONDAY, ROOM, WEST, at

THURSDAY = MONDAY + timedelta(days=3)
HOURS = "/admin/schedule/hours/?actor="


def _shift(client, actor, **fields):
    data = {"actor": actor, "weekday": "3", "start": "08:00", "end": "12:00", "location": WEST,
            "valid_from": "", "valid_to": ""}  # fmt: skip
    data.update(fields)
    return client.post(HOURS + actor, data)


def _audits(rtype: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action="update", resource_type=rtype).order_by("seq"))


def test_overview_lists_providers_and_rooms_from_the_store(admin):
    page = admin.get("/admin/schedule/").content.decode()
    assert "Adams" in page and "Baker" in page and "Room 1" in page
    assert 'href="/admin/schedule/"' in page and "Schedule settings" in page  # the nav item


def test_added_shift_is_offered_as_slots(admin):
    assert availability.free_slots(DR_B, THURSDAY, THURSDAY, "follow-up") == []
    resp = _shift(admin, DR_B)
    assert resp.status_code == 302
    page = admin.get(resp["Location"]).content.decode()
    assert "Shift added: Thursday 08:00–12:00 at West" in page
    assert "08:00–12:00" in page
    slots = availability.free_slots(DR_B, THURSDAY, THURSDAY, "follow-up")
    assert slots and slots[0].start == at(THURSDAY, 8) and slots[-1].end <= at(THURSDAY, 12)
    assert {s.location for s in slots} == {WEST}
    [rec] = _audits("WorkingHours")
    assert rec.username == "u-admin" and "added shift Practitioner/dr-b" in rec.detail


def test_overlapping_shift_refused_beside_the_field(admin):
    resp = _shift(admin, DR_A, weekday="0", start="11:00", end="14:00", location=MAIN)
    assert resp.status_code == 200
    page = resp.content.decode()
    assert 'id="id_start_error"' in page
    assert "Overlaps the Monday shift 09:00–12:00 at Main" in page
    assert 'value="14:00"' in page  # what was typed stays
    assert 'class="error-summary"' in page
    assert WorkingHours.objects.filter(actor=DR_A, weekday=0).count() == 2
    assert _audits("WorkingHours") == []


def test_end_before_start_and_disjoint_validity(admin):
    page = _shift(admin, DR_B, start="12:00", end="08:00").content.decode()
    assert 'id="id_end_error"' in page and "The end must be after the start." in page
    # Same hours as an existing shift but in a validity period that does not overlap: allowed.
    WorkingHours.objects.filter(actor=DR_A, weekday=0).update(valid_to=date(2031, 3, 31))
    resp = _shift(admin, DR_A, weekday="0", start="09:00", end="12:00", location=MAIN,
                  valid_from="2031-04-01")  # fmt: skip
    assert resp.status_code == 302


def test_remove_shift(admin):
    shift = WorkingHours.objects.filter(actor=DR_A, weekday=0).first()
    resp = admin.post(f"/admin/schedule/hours/{shift.pk}/remove")
    assert resp.status_code == 302 and not WorkingHours.objects.filter(pk=shift.pk).exists()
    assert "removed shift" in _audits("WorkingHours")[0].detail


def test_room_hours_page(admin):
    page = admin.get(HOURS + ROOM).content.decode()
    assert "Weekly hours: Room 1" in page and "a room" in page
    assert admin.get(HOURS + "Patient/pat-1").status_code == 404


def test_practice_holiday_removes_slots(admin):
    assert availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up")
    resp = admin.post("/admin/schedule/exceptions/", {
        "actor": "", "location": "", "start_date": MONDAY.isoformat(), "start_time": "",
        "end_date": "", "end_time": "", "reason": "Holiday", "note": "Founders' day",
    })  # fmt: skip
    assert resp.status_code == 302
    assert availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up") == []
    assert availability.free_slots(DR_A, MONDAY + timedelta(days=1), MONDAY + timedelta(days=1),
                                   "follow-up")  # fmt: skip
    exc = ScheduleException.objects.get()
    assert exc.actor == "" and exc.reason == "Holiday: Founders' day"
    assert exc.start == at(MONDAY, 0) and exc.end == at(MONDAY + timedelta(days=1), 0)
    page = admin.get("/admin/schedule/exceptions/?past=1").content.decode()
    assert "Everyone" in page and "Founders" in page
    assert "Mon 03-Mar-2031" in page and "end of Mon 03-Mar-2031" in page
    [rec] = _audits("ScheduleException")
    assert "added exception" in rec.detail
    admin.post(f"/admin/schedule/exceptions/{exc.pk}/remove")
    assert availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up")
    assert len(_audits("ScheduleException")) == 2


def test_provider_out_of_office_afternoon(admin):
    resp = admin.post("/admin/schedule/exceptions/", {
        "actor": DR_A, "location": "", "start_date": MONDAY.isoformat(), "start_time": "13:00",
        "end_date": "", "end_time": "17:00", "reason": "Out of office", "note": "",
    })  # fmt: skip
    assert resp.status_code == 302
    slots = availability.free_slots(DR_A, MONDAY, MONDAY, "follow-up")
    assert slots and all(s.end <= at(MONDAY, 12) for s in slots)
    assert availability.free_slots(DR_B, MONDAY, MONDAY, "follow-up")  # others unaffected


def test_exception_end_before_start_refused(admin):
    resp = admin.post("/admin/schedule/exceptions/", {
        "actor": DR_A, "location": "", "start_date": MONDAY.isoformat(), "start_time": "15:00",
        "end_date": "", "end_time": "10:00", "reason": "Vacation", "note": "",
    })  # fmt: skip
    page = resp.content.decode()
    assert resp.status_code == 200 and 'id="id_end_time_error"' in page
    assert not ScheduleException.objects.exists()


def test_new_type_is_bookable_and_deactivation(admin):
    page = admin.get("/admin/schedule/types/").content.decode()
    assert 'type="color"' in page and "Follow-up" in page
    resp = admin.post("/admin/schedule/types/", {
        "code": "telehealth", "name": "Telehealth", "duration_minutes": "30",
        "colour": "#123ABC", "allowed_actors": [DR_B],
    })  # fmt: skip
    assert resp.status_code == 302, resp.content.decode()[:2000]
    t = AppointmentType.objects.get(code="telehealth")
    assert t.colour == "#123abc" and t.allowed_actors == [DR_B] and t.active
    slots = availability.free_slots(DR_B, MONDAY, MONDAY, "telehealth")
    assert slots and slots[0].end - slots[0].start == timedelta(minutes=30)
    assert availability.free_slots(DR_A, MONDAY, MONDAY, "telehealth") == []  # not allowed
    assert "added type telehealth" in _audits("AppointmentType")[0].detail

    # edit: longer, any provider; the code cannot change
    resp = admin.post(f"/admin/schedule/types/{t.pk}/", {
        "code": "changed", "name": "Telehealth visit", "duration_minutes": "45",
        "colour": "#123abc",
    })  # fmt: skip
    assert resp.status_code == 302
    t.refresh_from_db()
    assert (t.code, t.name, t.duration_minutes, t.allowed_actors) == (
        "telehealth",
        "Telehealth visit",
        45,
        [],
    )
    assert availability.free_slots(DR_A, MONDAY, MONDAY, "telehealth")

    admin.post(f"/admin/schedule/types/{t.pk}/active", {"active": "0"})
    t.refresh_from_db()
    assert not t.active
    with pytest.raises(availability.SchedulingError):
        availability.free_slots(DR_A, MONDAY, MONDAY, "telehealth")
    assert [r.detail.split()[0] for r in _audits("AppointmentType")] == [
        "added",
        "changed",
        "deactivated",
    ]


def test_type_validation_beside_fields(admin):
    resp = admin.post("/admin/schedule/types/", {
        "code": "follow-up", "name": "", "duration_minutes": "2", "colour": "red",
    })  # fmt: skip
    page = resp.content.decode()
    assert resp.status_code == 200
    for name in ("code", "name", "duration_minutes", "colour"):
        assert f'id="id_{name}_error"' in page, name
    assert AppointmentType.objects.count() == 3


@pytest.mark.parametrize("role", ["front_desk", "provider", "nurse", "biller"])
def test_not_admin_gets_403(signed_in, world, role):
    client = signed_in(role)
    for url in ("/admin/schedule/", HOURS + DR_A, "/admin/schedule/exceptions/",
                "/admin/schedule/types/"):  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert _shift(client, DR_B).status_code == 403
    assert WorkingHours.objects.filter(actor=DR_B, weekday=3).count() == 0


def test_anonymous_goes_to_sign_in(client, world):
    resp = client.get("/admin/schedule/types/")
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")


def test_shift_time_preserved_as_typed(admin):
    _shift(admin, DR_B, start="07:30", end="07:45", weekday="4")
    s = WorkingHours.objects.get(actor=DR_B, weekday=4)
    assert (s.start, s.end) == (time(7, 30), time(7, 45))
