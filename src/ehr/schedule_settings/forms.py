"""Forms of the schedule settings screens. Each check explains itself beside its field.

Choices of providers, rooms and locations come from the FHIR store (``directory``): the
scheduling models name actors by FHIR reference and the store is the one list of who and what
exists.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta

from django import forms

from ehr.fhir.errors import Forbidden
from ehr.fhir.search import engine
from ehr.scheduling.common import practice_tz
from ehr.scheduling.models import WEEKDAYS, AppointmentType, WorkingHours

DIRECTORY_LIMIT = 500  # a practice's providers and rooms; more would need a type-ahead
ACTOR_RE = re.compile(r"^(Practitioner|Location|Device)/[A-Za-z0-9\-.]{1,64}$")
REASONS = [
    ("Holiday", "Holiday"),
    ("Vacation", "Vacation"),
    ("Out of office", "Out of office"),
    ("Training", "Training"),
    ("Other", "Other"),
]
DAY_NAMES = dict(WEEKDAYS)


def _name(res: dict) -> str:
    if res["resourceType"] == "Practitioner":
        n = (res.get("name") or [{}])[0]
        given = " ".join(n.get("given") or [])
        text = f"{n.get('family', '')}, {given}".strip(", ")
        return text or n.get("text") or res["id"]
    return res.get("name") or res["id"]


def directory(rtype: str) -> list[tuple[str, str]]:
    """(reference, name) of the store's Practitioners or Locations, by name.

    One indexed search through the engine, under the caller's access policy; a role that may
    not read them gets an empty list rather than an error.
    """
    req = engine.parse(rtype, [("_count", str(DIRECTORY_LIMIT)), ("_total", "none")])
    try:
        page = engine.run(req)
    except Forbidden:
        return []
    found = [json.loads(s.content) for s in page.rows if s.content]
    out = [(f"{rtype}/{r['id']}", _name(r)) for r in found if r.get("active", True) is not False]
    return sorted(out, key=lambda x: x[1].lower())


def clinics_and_rooms() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The store's Locations split into clinics and rooms (a room is ``partOf`` a clinic); a
    room's name carries its clinic's, e.g. "Exam 1 (Main Clinic)"."""
    req = engine.parse("Location", [("_count", str(DIRECTORY_LIMIT)), ("_total", "none")])
    try:
        page = engine.run(req)
    except Forbidden:
        return [], []
    found = [json.loads(s.content) for s in page.rows if s.content]
    found = [r for r in found if r.get("status") != "inactive"]
    clinics = {f"Location/{r['id']}": _name(r) for r in found if not r.get("partOf")}
    rooms = []
    for r in found:
        parent = (r.get("partOf") or {}).get("reference")
        if parent:
            where = clinics.get(parent) or r["partOf"].get("display") or parent
            rooms.append((f"Location/{r['id']}", f"{_name(r)} ({where})"))
    by_name = sorted(clinics.items(), key=lambda x: x[1].lower())
    return by_name, sorted(rooms, key=lambda x: x[1].lower())


def grouped(clinics: list[tuple[str, str]], rooms: list[tuple[str, str]]) -> list:
    """Choices with clinics first, then rooms, as two groups (plain list if there are no rooms)."""
    return [("Clinics", clinics), ("Rooms", rooms)] if rooms else clinics


def display_names(refs, *choices: list[tuple[str, str]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for c in choices:
        names.update(c)
    return {r: names.get(r, r) for r in refs}


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _time_widget() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time", "step": "300"}, format="%H:%M")


def _dates_overlap(a0: date | None, a1: date | None, b0: date | None, b1: date | None) -> bool:
    return (a0 or date.min) <= (b1 or date.max) and (b0 or date.min) <= (a1 or date.max)


class ShiftForm(forms.Form):
    """One shift of one actor; the actor comes from the page, not the form."""

    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, label="Day")
    start = forms.TimeField(widget=_time_widget(), label="Start")
    end = forms.TimeField(widget=_time_widget(), label="End")
    location = forms.ChoiceField(label="Location", help_text="The clinic where the shift is")
    valid_from = forms.DateField(required=False, widget=_date_widget(), label="Valid from",
                                 help_text="Blank: from now on")  # fmt: skip
    valid_to = forms.DateField(required=False, widget=_date_widget(), label="Valid until",
                               help_text="Last day, inclusive; blank: no end")  # fmt: skip

    def __init__(self, *args, actor: str, clinics: list, rooms: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["location"].choices = [("", "Choose a location")] + grouped(clinics, rooms)
        self.location_names = dict(clinics + rooms)

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end must be after the start.")
        v0, v1 = data.get("valid_from"), data.get("valid_to")
        if v0 and v1 and v1 < v0:
            self.add_error("valid_to", "The last day must not be before the first day.")
        if self.errors or data.get("weekday") is None:
            return data
        same_day = WorkingHours.objects.filter(actor=self.actor, weekday=data["weekday"],
                                               start__lt=end, end__gt=start)  # fmt: skip
        for other in same_day:
            if _dates_overlap(v0, v1, other.valid_from, other.valid_to):
                where = self.location_names.get(other.location, other.location)
                self.add_error(
                    "start",
                    f"Overlaps the {DAY_NAMES[other.weekday]} shift "
                    f"{other.start:%H:%M}–{other.end:%H:%M} at {where}. "
                    "Shifts of one person or room on the same day must not overlap.",
                )
                break
        return data


class ExceptionForm(forms.Form):
    """Time off: a practice holiday (everyone), a provider's vacation, a room out of use."""

    actor = forms.ChoiceField(required=False, label="Who",
                              help_text="Everyone: a practice holiday")  # fmt: skip
    location = forms.ChoiceField(required=False, label="Only at location",
                                 help_text="Blank: every location")  # fmt: skip
    start_date = forms.DateField(widget=_date_widget(), label="First day")
    start_time = forms.TimeField(required=False, widget=_time_widget(), label="From time",
                                 help_text="Blank: the whole day")  # fmt: skip
    end_date = forms.DateField(required=False, widget=_date_widget(), label="Last day",
                               help_text="Blank: the same day")  # fmt: skip
    end_time = forms.TimeField(required=False, widget=_time_widget(), label="Until time",
                               help_text="Blank: the end of the last day")  # fmt: skip
    reason = forms.ChoiceField(choices=REASONS, label="Reason")
    note = forms.CharField(required=False, max_length=150, label="Note",
                           help_text="Shown on the calendar, e.g. “Thanksgiving”")  # fmt: skip

    def __init__(self, *args, providers: list, clinics: list, rooms: list, **kwargs):
        super().__init__(*args, **kwargs)
        who = [("Providers", providers), ("Rooms and locations", rooms + clinics)]
        self.fields["actor"].choices = [("", "Everyone (practice holiday)")] + who
        self.fields["location"].choices = [("", "Every location")] + clinics

    def clean(self) -> dict:
        data = super().clean()
        d0 = data.get("start_date")
        if not d0:
            return data
        d1 = data.get("end_date") or d0
        tz = practice_tz()
        start = datetime.combine(d0, data.get("start_time") or time(0), tzinfo=tz)
        if data.get("end_time"):
            end = datetime.combine(d1, data["end_time"], tzinfo=tz)
        else:
            end = datetime.combine(d1 + timedelta(days=1), time(0), tzinfo=tz)
        if d1 < d0:
            self.add_error("end_date", "The last day must not be before the first day.")
        elif end <= start:
            self.add_error("end_time", "The end must be after the start.")
        data["start"], data["end"] = start, end
        note = (data.get("note") or "").strip()
        reason = data.get("reason") or "Other"
        data["reason_text"] = f"{reason}: {note}" if note else reason
        return data


class TypeForm(forms.ModelForm):
    """A visit type. The code is fixed once created: booked appointments carry it."""

    allowed_actors = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Providers who may see it",
        help_text="None ticked: any provider",
    )

    class Meta:
        model = AppointmentType
        fields = ["code", "name", "duration_minutes", "colour", "allowed_actors"]
        labels = {"code": "Code", "name": "Name", "duration_minutes": "Length (minutes)",
                  "colour": "Colour on the calendar"}  # fmt: skip
        help_texts = {"code": "Letters, digits and hyphens, e.g. follow-up; cannot change later",
                      "colour": ""}  # fmt: skip
        widgets = {
            "colour": forms.TextInput(attrs={"type": "color"}),
            "duration_minutes": forms.NumberInput(attrs={"min": 5, "max": 480, "step": 5}),
        }

    def __init__(self, *args, providers: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        known = dict(providers)
        extra = [(a, a) for a in (self.instance.allowed_actors or []) if a not in known]
        self.fields["allowed_actors"].choices = providers + extra
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = "Fixed: booked appointments carry it"
        else:
            self.initial.setdefault("colour", "#4a7ab5")

    def clean_duration_minutes(self) -> int:
        value = self.cleaned_data["duration_minutes"]
        if not 5 <= value <= 480:
            raise forms.ValidationError("Give a length between 5 and 480 minutes.")
        return value

    def clean_colour(self) -> str:
        value = (self.cleaned_data.get("colour") or "").lower()
        if not re.fullmatch(r"#[0-9a-f]{6}", value):
            raise forms.ValidationError("Choose a colour (#rrggbb).")
        return value
