from __future__ import annotations

from datetime import date, timedelta

from ehr.demo.practice import CLINICIANS, practice_resources
from ehr.fhir.storage import repository
from ehr.scheduling import booking, events
from ehr.scheduling.demo import seed_demo_schedule


def test_demo_schedule_seeds_hours_events_and_two_weeks(db):
    for r in practice_resources():
        repository.update(r["resourceType"], r["id"], r)
    for i in range(3):
        repository.update("Patient", f"p{i}", {"resourceType": "Patient", "id": f"p{i}"})
    today = date(2031, 3, 5)
    made = seed_demo_schedule(today, per_day=2)
    assert made > 50
    assert seed_demo_schedule(today) == 0  # idempotent
    monday = date(2031, 3, 10)
    conf = events.list_events(monday, monday + timedelta(days=7), attendee=CLINICIANS[0].ref)
    assert any(e["description"].startswith("AAFP") for e in conf)
    week = booking.provider_week(CLINICIANS[0].ref, monday)
    visits = [a for a in week if a.get("serviceType", [{}])[0].get("coding", [{}])[0].get(
        "code") != "conference" and not a.get("meta", {}).get("tag")]  # fmt: skip
    # No visit for Dr Okafor during her conference (Wed-Fri).
    conference_days = {monday + timedelta(days=d) for d in (2, 3, 4)}
    assert visits and not [
        v for v in visits if date.fromisoformat(v["start"][:10]) in conference_days
    ]
