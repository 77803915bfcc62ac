"""Recurring appointments: an RFC 5545 RRULE, materialised as ordinary Appointments.

Storage: R4 Appointment has no recurrence, so the series itself is a FHIR ``Basic`` resource
(code ``appointment-series``, ``subject`` = the patient) whose extension holds the rule (RRULE
text, DTSTART in practice local time, EXDATEs), the template of each visit (provider, clinic,
room, type, duration, comment) and how far it has been materialised. It is FHIR, not a Django
model, because it is part of the patient's administrative record: it belongs in the patient's
compartment, is versioned and audited with the appointments, and travels with ``$everything``.

Each occurrence is an Appointment that points to its series (``supportingInformation`` =
``Basic/<id>``, searchable as ``supporting-info``) and carries its *original* start (the
RRULE instance it stands for) twice: in an extension and in an identifier
``<series id>/<original start UTC>``. That key makes every operation exact:

* materialising is idempotent (an occurrence whose key exists is never created again);
* "this one" edits change one Appointment and keep its key, so it is neither lost nor
  re-created when the horizon is extended;
* "this and following" ends the series before the occurrence (RRULE UNTIL) and starts a new
  series from it; "all" changes the series in place. In both, the affected appointments that
  are still to come (booked, pending) are paired in time order with the occurrences of the new
  rule: paired ones keep their id and get the new time and key, surplus ones are cancelled
  (reason "series changed"), missing ones are created. So no occurrence is lost or duplicated,
  and the count before and after differs only by what the rule change itself asks for.
  Occurrences already under way or done (arrived, fulfilled, no-show) and past ones are left
  as they happened. Individual time overrides in the range are replaced by the new rule.

Occurrences are materialised up to a horizon (default 12 months); ``extend_series`` moves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from dateutil.rrule import rrulestr
from django.utils import timezone

from ehr.fhir.storage import repository
from ehr.fhir.storage.db import isolated
from ehr.scheduling import availability, booking
from ehr.scheduling.common import (
    EXT_ORIGINAL_START,
    EXT_RRULE,
    OCCURRENCE_SYSTEM,
    SERIES_CODE_SYSTEM,
    SchedulingError,
    aware,
    ext,
    fhir_instant,
    lock_actors,
    parse_instant,
    practice_tz,
    search_all,
    set_ext,
)

HORIZON = timedelta(days=365)
MAX_OCCURRENCES = 1000
UPCOMING = ("booked", "pending", "proposed")
SCOPES = ("this", "following", "all")


@dataclass
class Rule:
    """The parts of a series: its recurrence and the template of each visit."""

    rrule: str
    dtstart: datetime
    duration: int  # minutes
    patient: str
    provider: str
    appointment_type: str
    location: str | None = None
    room: str | None = None
    comment: str | None = None
    exdates: list[datetime] = field(default_factory=list)
    horizon: datetime | None = None

    def occurrences(self, start: datetime | None = None, end: datetime | None = None) -> list:
        """Original starts of the rule in [start, end] (aware, practice local time)."""
        rule = rrulestr(self.rrule, dtstart=self.dtstart.astimezone(practice_tz()))
        end = end or self.horizon or self.dtstart + HORIZON
        start = start or self.dtstart
        skip = {x.astimezone(UTC) for x in self.exdates}
        out = []
        for occ in rule.xafter(start.astimezone(practice_tz()), inc=True):
            if occ > end or len(out) >= MAX_OCCURRENCES:
                break
            if occ.astimezone(UTC) not in skip:
                out.append(occ)
        return out


def _clean_rrule(text: str) -> str:
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper():
        raise SchedulingError("Give DTSTART separately, not inside the RRULE", status=400)
    try:
        rrulestr(text, dtstart=datetime(2000, 1, 1, tzinfo=practice_tz()))
    except (ValueError, TypeError) as err:
        raise SchedulingError(f"Invalid RRULE: {err}", status=400) from None
    return text


def _to_basic(rule: Rule, series_id: str | None = None) -> dict:
    parts: list[dict] = [
        {"url": "rrule", "valueString": rule.rrule},
        {"url": "dtstart", "valueDateTime": fhir_instant(rule.dtstart)},
        {"url": "duration", "valueInteger": rule.duration},
        {"url": "provider", "valueReference": {"reference": rule.provider}},
        {"url": "appointmentType", "valueCode": rule.appointment_type},
    ]
    for name in ("location", "room"):
        if getattr(rule, name):
            parts.append({"url": name, "valueReference": {"reference": getattr(rule, name)}})
    if rule.comment:
        parts.append({"url": "comment", "valueString": rule.comment})
    parts += [{"url": "exdate", "valueDateTime": fhir_instant(x)} for x in rule.exdates]
    if rule.horizon:
        parts.append({"url": "horizon", "valueDateTime": fhir_instant(rule.horizon)})
    basic = {
        "resourceType": "Basic",
        "code": {"coding": [{"system": SERIES_CODE_SYSTEM, "code": "appointment-series"}]},
        "subject": {"reference": rule.patient},
        "created": date.today().isoformat(),
        "extension": [{"url": EXT_RRULE, "extension": parts}],
    }
    if series_id:
        basic["id"] = series_id
    return basic


def _from_basic(basic: dict) -> Rule:
    parts = ext(basic, EXT_RRULE)["extension"]

    def one(name: str):
        for p in parts:
            if p["url"] == name:
                return next(v for k, v in p.items() if k.startswith("value"))
        return None

    ref = lambda name: (one(name) or {}).get("reference")  # noqa: E731
    horizon = one("horizon")
    return Rule(
        rrule=one("rrule"),
        dtstart=parse_instant(one("dtstart")),
        duration=one("duration"),
        patient=basic["subject"]["reference"],
        provider=ref("provider"),
        appointment_type=one("appointmentType"),
        location=ref("location"),
        room=ref("room"),
        comment=one("comment"),
        exdates=[parse_instant(p["valueDateTime"]) for p in parts if p["url"] == "exdate"],
        horizon=parse_instant(horizon) if horizon else None,
    )


def _key(series_id: str, original: datetime) -> str:
    return f"{series_id}/{original.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def original_start(appointment: dict) -> datetime | None:
    e = ext(appointment, EXT_ORIGINAL_START)
    return parse_instant(e["valueDateTime"]) if e else None


def series_of(appointment: dict) -> str | None:
    for ref in appointment.get("supportingInformation", []):
        if ref.get("reference", "").startswith("Basic/"):
            return ref["reference"][6:]
    return None


def occurrences(series_id: str) -> list[dict]:
    """Every Appointment of a series (all statuses), by original start."""
    rows = search_all("Appointment", [("supporting-info", f"Basic/{series_id}")])
    return sorted(rows, key=lambda a: (original_start(a), a["id"]))


def get_series(series_id: str) -> Rule:
    return _from_basic(repository.read("Basic", series_id).resource())


def _stamp(appt: dict, series_id: str, original: datetime) -> None:
    appt["supportingInformation"] = [{"reference": f"Basic/{series_id}"}]
    appt["identifier"] = [
        i for i in appt.get("identifier", []) if i.get("system") != OCCURRENCE_SYSTEM
    ] + [{"system": OCCURRENCE_SYSTEM, "value": _key(series_id, original)}]
    set_ext(appt, EXT_ORIGINAL_START, valueDateTime=fhir_instant(original))


def _visit(rule: Rule, start: datetime) -> dict:
    atype = availability.appointment_type(rule.appointment_type)
    return booking.build(
        patient=rule.patient, provider=rule.provider, start=start,
        end=start + timedelta(minutes=rule.duration), atype=atype, location=rule.location,
        room=rule.room, comment=rule.comment,
    )  # fmt: skip


def _apply_template(appt: dict, rule: Rule, start: datetime) -> None:
    fresh = _visit(rule, start)
    for key in ("start", "end", "minutesDuration", "participant", "serviceType", "description"):
        appt[key] = fresh[key]
    if rule.comment:
        appt["comment"] = rule.comment
    else:
        appt.pop("comment", None)


def _check_all(appts: list[dict], overbook: bool, ignore: set[str]) -> None:
    problems = []
    for appt in appts:
        try:
            booking.check(appt, overbook=overbook, ignore=ignore)
        except booking.Conflict as err:
            problems.append((appt["start"], err))
    if problems:
        clashes = [c for _, err in problems for c in err.clashes]
        when = ", ".join(start for start, _ in problems)
        raise booking.Conflict(f"{len(problems)} occurrence(s) are not free: {when}", clashes)


def create_series(
    *,
    patient: str,
    provider: str,
    rrule: str,
    dtstart: datetime,
    appointment_type: str,
    location: str | None = None,
    room: str | None = None,
    duration_minutes: int | None = None,
    exdates: list[datetime] | tuple = (),
    comment: str | None = None,
    horizon: datetime | None = None,
    overbook: bool = False,
) -> tuple[str, list[dict]]:
    """Create a series and its occurrences up to the horizon (all or nothing: a conflict on any
    occurrence refuses the whole series, listing them). Returns (series id, appointments)."""
    atype = availability.appointment_type(appointment_type)
    dtstart = aware(dtstart)
    if location is None:
        location = booking._clinic_for(provider, dtstart, dtstart)
    rule = Rule(
        rrule=_clean_rrule(rrule), dtstart=dtstart,
        duration=duration_minutes or atype.duration_minutes, patient=patient, provider=provider,
        appointment_type=atype.code, location=location, room=room, comment=comment,
        exdates=[aware(x) for x in exdates], horizon=aware(horizon) if horizon else None,
    )  # fmt: skip
    rule.horizon = rule.horizon or dtstart + HORIZON
    with isolated():
        basic = _to_basic(rule)
        repository.create(basic)
        created = _materialise(basic["id"], rule, [], overbook=overbook)
    return basic["id"], created


def _materialise(series_id: str, rule: Rule, existing: list[dict], *, overbook: bool) -> list:
    """Create the occurrences of ``rule`` up to its horizon that have no Appointment yet."""
    have = {original_start(a).astimezone(UTC) for a in existing}
    new = []
    for occ in rule.occurrences():
        if occ.astimezone(UTC) in have:
            continue
        appt = _visit(rule, occ)
        _stamp(appt, series_id, occ)
        new.append(appt)
    lock_actors([rule.provider, rule.patient] + ([rule.room] if rule.room else []))
    _check_all(new, overbook, {a["id"] for a in existing if "id" in a})
    for appt in new:
        repository.create(appt)
    return new


def extend_series(series_id: str, until: datetime, *, overbook: bool = False) -> list[dict]:
    """Materialise occurrences up to ``until``; returns the new ones (none if already there)."""
    with isolated():
        basic = repository.read("Basic", series_id).resource()
        rule = _from_basic(basic)
        until = aware(until)
        if rule.horizon and until <= rule.horizon:
            return []
        rule.horizon = until
        repository.update("Basic", series_id, _to_basic(rule, series_id))
        return _materialise(series_id, rule, occurrences(series_id), overbook=overbook)


def _reconcile(
    series_id: str,
    rule: Rule,
    old: list[dict],
    cutoff: datetime,
    *,
    overbook: bool,
    ignore: set[str],
) -> list[dict]:
    """Pair the upcoming appointments ``old`` (by original start) with the occurrences of
    ``rule`` from ``cutoff``; update, cancel the surplus, create the missing."""
    wanted = rule.occurrences(start=cutoff)
    old = sorted(old, key=lambda a: original_start(a))
    changed: list[dict] = []
    for appt, occ in zip(old, wanted, strict=False):
        _apply_template(appt, rule, occ)
        _stamp(appt, series_id, occ)
        changed.append(appt)
    created = []
    for occ in wanted[len(old) :]:
        appt = _visit(rule, occ)
        _stamp(appt, series_id, occ)
        created.append(appt)
    lock_actors([rule.provider, rule.patient] + ([rule.room] if rule.room else []))
    _check_all(changed + created, overbook, ignore)
    for appt in changed:
        repository.update("Appointment", appt["id"], appt)
    for appt in old[len(wanted) :]:
        booking.cancel(appt["id"], "series changed", code="other")
    for appt in created:
        repository.create(appt)
    return changed + created


def _shift_time(rule: Rule, original: datetime, new_start: datetime) -> None:
    """Move the rule's time of day (and dtstart) by the move of one occurrence."""
    tz = practice_tz()
    delta = new_start.astimezone(tz).replace(tzinfo=None) - original.astimezone(tz).replace(
        tzinfo=None
    )
    rule.dtstart = (rule.dtstart.astimezone(tz).replace(tzinfo=None) + delta).replace(tzinfo=tz)
    rule.exdates = [
        (x.astimezone(tz).replace(tzinfo=None) + delta).replace(tzinfo=tz) for x in rule.exdates
    ]


def _changed_rule(rule: Rule, changes: dict, original: datetime) -> Rule:
    new = Rule(**{**rule.__dict__, "exdates": list(rule.exdates)})
    allowed = {"start", "duration_minutes", "provider", "location", "room", "appointment_type",
               "comment", "rrule"}  # fmt: skip
    unknown = set(changes) - allowed
    if unknown:
        raise SchedulingError(f"Unknown change(s): {', '.join(sorted(unknown))}", status=400)
    if "start" in changes:
        _shift_time(new, original, aware(changes["start"]))
    if "rrule" in changes:
        new.rrule = _clean_rrule(changes["rrule"])
    if "appointment_type" in changes:
        new.appointment_type = availability.appointment_type(changes["appointment_type"]).code
    if "duration_minutes" in changes:
        new.duration = int(changes["duration_minutes"])
    for name in ("provider", "location", "room", "comment"):
        if name in changes:
            setattr(new, name, changes[name])
    return new


def _upcoming(series_id: str, since: datetime) -> list[dict]:
    return [
        a for a in occurrences(series_id) if a["status"] in UPCOMING and original_start(a) >= since
    ]


def edit_series(
    appointment_id: str, scope: str, changes: dict, *, overbook: bool = False
) -> list[dict]:
    """Edit one occurrence, it and the following ones, or the whole series. ``changes`` may
    hold ``start`` (the new start of *this* occurrence; the others move by the same time of
    day), ``duration_minutes``, ``provider``, ``location``, ``room``, ``appointment_type``,
    ``comment`` and, for "following" and "all", ``rrule``. Returns the appointments written."""
    if scope not in SCOPES:
        raise SchedulingError(f"scope must be one of {', '.join(SCOPES)}", status=400)
    with isolated():
        appt = booking.get(appointment_id)
        series_id = series_of(appt)
        if series_id is None:
            raise SchedulingError("This appointment is not part of a series", status=400)
        basic = repository.read("Basic", series_id).resource()
        rule = _from_basic(basic)
        original = original_start(appt)
        if scope == "this":
            if "rrule" in changes:
                raise SchedulingError("A single occurrence has no rule to change", status=400)
            one = _changed_rule(rule, {k: v for k, v in changes.items() if k != "start"}, original)
            start = aware(changes.get("start") or parse_instant(appt["start"]))
            if "duration_minutes" in changes or "appointment_type" in changes:
                length = timedelta(minutes=one.duration)
            else:
                length = parse_instant(appt["end"]) - parse_instant(appt["start"])
            one.duration = int(length.total_seconds() // 60)
            _apply_template(appt, one, start)
            lock_actors(booking.conflict_actors(appt))
            booking.check(appt, overbook=overbook)  # ignores the appointment itself
            repository.update("Appointment", appt["id"], appt)
            return [appt]
        now = timezone.now()
        new_rule = _changed_rule(rule, changes, original)
        if scope == "all":
            old = _upcoming(series_id, now)
            repository.update("Basic", series_id, _to_basic(new_rule, series_id))
            return _reconcile(
                series_id, new_rule, old, now, overbook=overbook,
                ignore={a["id"] for a in occurrences(series_id)},
            )  # fmt: skip
        # "following": end this series before the occurrence, continue in a new one.
        old = _upcoming(series_id, original)
        rule.rrule = _until(rule, original)
        repository.update("Basic", series_id, _to_basic(rule, series_id))
        new_rule.dtstart = aware(changes["start"]) if "start" in changes else original
        new_rule.exdates = [x for x in new_rule.exdates if x >= new_rule.dtstart]
        new_rule.rrule = _without_count(new_rule.rrule, rule, original)
        new_basic = _to_basic(new_rule)
        repository.create(new_basic)
        return _reconcile(
            new_basic["id"], new_rule, old, new_rule.dtstart, overbook=overbook,
            ignore={a["id"] for a in occurrences(series_id)},
        )  # fmt: skip


def _until(rule: Rule, original: datetime) -> str:
    """The rule ended just before ``original`` (UNTIL in UTC; COUNT becomes UNTIL)."""
    parts = [p for p in rule.rrule.split(";") if p.split("=")[0].upper() not in ("UNTIL", "COUNT")]
    until = (original - timedelta(seconds=1)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";".join([*parts, f"UNTIL={until}"])


def _without_count(text: str, old_rule: Rule, original: datetime) -> str:
    """A COUNT carried to the new series counts only the occurrences left."""
    parts = text.split(";")
    for i, p in enumerate(parts):
        if p.upper().startswith("COUNT="):
            done = len([o for o in old_rule.occurrences(end=original) if o < original])
            parts[i] = f"COUNT={max(1, int(p.split('=')[1]) - done)}"
    return ";".join(parts)


def cancel_series(appointment_id: str, scope: str, reason: str) -> list[dict]:
    """Cancel one occurrence (recorded as an EXDATE too), it and the following, or all upcoming
    ones. Cancelled appointments stay in the record with their reason."""
    if scope not in SCOPES:
        raise SchedulingError(f"scope must be one of {', '.join(SCOPES)}", status=400)
    with isolated():
        appt = booking.get(appointment_id)
        series_id = series_of(appt)
        if series_id is None:
            raise SchedulingError("This appointment is not part of a series", status=400)
        rule = get_series(series_id)
        original = original_start(appt)
        if scope == "this":
            rule.exdates.append(original)
            targets = [appt]
        else:
            since = original if scope == "following" else max(timezone.now(), rule.dtstart)
            targets = _upcoming(series_id, since)
            rule.rrule = _until(rule, since if scope == "following" else rule.dtstart)
        repository.update("Basic", series_id, _to_basic(rule, series_id))
        return [booking.cancel(a["id"], reason) for a in targets if a["status"] in UPCOMING]
