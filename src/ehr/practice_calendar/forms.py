"""Forms of the events calendar: the event form, a feed token label, an ``.ics`` upload.

Forms own their validation and put each error beside its field; the engine's own checks (at
most 31 days, end after start) come back as ``SchedulingError`` and land beside the end fields.
"""

from __future__ import annotations

from datetime import date, datetime

from django import forms

from ehr.practice_calendar.calendar import KIND_LABELS
from ehr.scheduling.common import practice_tz

MAX_ICS_BYTES = 1_000_000


class AccessibleForm(forms.Form):
    """Ties help text and errors to each control (``aria-describedby``, ``aria-invalid``)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for name, f in self.fields.items():
            if f.help_text:
                f.widget.attrs["aria-describedby"] = f"id_{name}_help"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                w = self.fields[name].widget
                w.attrs["aria-invalid"] = "true"
                ids = [f"id_{name}_error"]
                if self.fields[name].help_text:
                    ids.append(f"id_{name}_help")
                w.attrs["aria-describedby"] = " ".join(ids)


class EventForm(AccessibleForm):
    title = forms.CharField(label="Title", max_length=200)
    kind = forms.ChoiceField(label="Kind", choices=list(KIND_LABELS.items()))
    all_day = forms.BooleanField(label="All day", required=False)
    start_date = forms.DateField(label="Start date", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label="Start time",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    end_date = forms.DateField(
        label="End date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end_time = forms.TimeField(
        label="End time",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    location = forms.ChoiceField(
        label="Location",
        required=False,
        help_text="A closure with a location blocks every provider working there; without one, "
        "the whole practice.",
    )
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea({"rows": 4})
    )
    attendees = forms.MultipleChoiceField(
        label="Attendees",
        required=False,
        help_text="Providers who attend cannot be booked while the event lasts.",
        widget=forms.CheckboxSelectMultiple,
    )

    LAYOUT = (
        ("What", ("title", "kind"), ""),
        (
            "When",
            ("all_day", "start_date", "start_time", "end_date", "end_time"),
            "Leave the end date empty for an event on one day. An all-day event needs no times; "
            "an event may last up to 31 days.",
        ),
        ("Where and who", ("location", "attendees", "description"), ""),
    )

    def __init__(self, *args, locations=(), practitioners=(), **kw):
        super().__init__(*args, **kw)
        self.fields["location"].choices = [("", "No location")] + list(locations)
        self.fields["attendees"].choices = list(practitioners)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        all_day = data.get("all_day")
        first: date = data["start_date"]
        last: date = data.get("end_date") or first
        if last < first:
            self.add_error("end_date", "The end date is before the start date.")
            return data
        if all_day:
            data["start"], data["end"] = first, last
            return data
        if data.get("start_time") is None:
            self.add_error("start_time", "Give a start time, or tick All day.")
        if data.get("end_time") is None:
            self.add_error("end_time", "Give an end time, or tick All day.")
        if self.errors:
            return data
        tz = practice_tz()
        start = datetime.combine(first, data["start_time"], tzinfo=tz)
        end = datetime.combine(last, data["end_time"], tzinfo=tz)
        if end <= start:
            self.add_error("end_time", "The end must be after the start.")
        data["start"], data["end"] = start, end
        return data

    def engine_fields(self) -> dict:
        """What ``events.create_event`` / ``update_event`` take."""
        d = self.cleaned_data
        return {
            "title": d["title"],
            "kind": d["kind"],
            "all_day": bool(d.get("all_day")),
            "start": d["start"],
            "end": d["end"],
            "location": f"Location/{d['location']}" if d.get("location") else None,
            "description": d.get("description") or None,
            "attendees": [f"Practitioner/{a}" for a in d.get("attendees") or []],
        }


def initial_from(info: dict) -> dict:
    """Form values for an event as ``events.describe`` gives it."""
    tz = practice_tz()
    start, end = info["start"], info["end"]
    out = {
        "title": info["title"],
        "kind": info["kind"],
        "all_day": info["all_day"],
        "location": (info["location"] or "").removeprefix("Location/"),
        "description": info["description"] or "",
        "attendees": [
            a.removeprefix("Practitioner/")
            for a in info["attendees"]
            if a.startswith("Practitioner/")
        ],
    }
    if info["all_day"]:
        out.update(start_date=start, end_date=end if end != start else None)
    else:
        s, e = start.astimezone(tz), end.astimezone(tz)
        out.update(
            start_date=s.date(),
            start_time=s.time().replace(second=0),
            end_date=e.date() if e.date() != s.date() else None,
            end_time=e.time().replace(second=0),
        )
    return out


def default_initial(day: date | None) -> dict:
    """Context only (the day chosen); never a time the user did not choose."""
    return {"start_date": day} if day else {}


class FeedTokenForm(AccessibleForm):
    label = forms.CharField(
        label="Label",
        max_length=100,
        help_text="Where you will use it, for example “Phone calendar” or “Outlook at home”.",
    )


class ImportForm(AccessibleForm):
    file = forms.FileField(label="iCalendar file (.ics)", help_text="At most 1 MB.")

    def clean_file(self):
        f = self.cleaned_data["file"]
        if f.size > MAX_ICS_BYTES:
            raise forms.ValidationError(
                f"The file is {f.size / 1_000_000:.1f} MB; at most 1 MB can be imported. "
                "Export a shorter date range."
            )
        return f
