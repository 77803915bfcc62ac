"""Forms of the appointment book: booking (with an optional repeat rule), rescheduling,
cancelling and "find next available". Forms own their validation (errors beside the fields);
start and end are times of day, never a number of minutes (UX.md section 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django import forms

from ehr.appointments.layout import MONTHS, WEEKDAYS, day_text
from ehr.scheduling.common import practice_tz
from ehr.scheduling.models import AppointmentType

REPEAT = [("", "Does not repeat"), ("weekly", "Every week(s)"), ("monthly", "Every month(s)")]
ENDS = [("count", "After a number of visits"), ("until", "On a date")]
SCOPES = [
    ("this", "This appointment only"),
    ("following", "This and the following ones"),
    ("all", "All upcoming appointments in the series"),
]
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def type_choices() -> list[tuple[str, str]]:
    return [("", "Choose the visit type")] + [
        (t.code, f"{t.name} ({t.duration_minutes} min)")
        for t in AppointmentType.objects.filter(active=True)
    ]


def rrule_for(repeat: str, interval: int, ends: str, count: int | None, until: date | None,
              start: datetime) -> str:  # fmt: skip
    """The RFC 5545 RRULE for the repeat fields (DTSTART is the first visit)."""
    parts = [f"FREQ={'WEEKLY' if repeat == 'weekly' else 'MONTHLY'}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if ends == "until" and until:
        last = datetime.combine(until, time(23, 59, 59), tzinfo=practice_tz()).astimezone(UTC)
        parts.append(f"UNTIL={last.strftime('%Y%m%dT%H%M%SZ')}")
    else:
        parts.append(f"COUNT={count or 1}")
    return ";".join(parts)


def rrule_words(rrule: str, start: datetime | None) -> str:
    """``Every 2 weeks on Tuesday at 10:00, 5 visits`` for the rules this form writes."""
    fields = dict(p.split("=", 1) for p in rrule.split(";") if "=" in p)
    n = int(fields.get("INTERVAL", "1"))
    freq = fields.get("FREQ", "WEEKLY")
    unit = "week" if freq == "WEEKLY" else "month"
    text = f"Every {unit}" if n == 1 else f"Every {n} {unit}s"
    if start is not None:
        local = start.astimezone(practice_tz())
        if freq == "WEEKLY":
            text += f" on {DAY_NAMES[local.weekday()]}"
        else:
            text += f" on day {local.day}"
        text += f" at {local.strftime('%H:%M')}"
    if "COUNT" in fields:
        c = int(fields["COUNT"])
        text += f", {c} visit{'s' if c != 1 else ''}"
    elif "UNTIL" in fields:
        last = datetime.strptime(fields["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        text += f", until {day_text(last.astimezone(practice_tz()).date())}"
    return text


class WhenMixin:
    """Shared checks for a day, a start time and an optional end time."""

    def when(self) -> tuple[datetime, datetime | None]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        tz = practice_tz()
        start = datetime.combine(data["day"], data["start_time"], tzinfo=tz)
        end = (
            datetime.combine(data["day"], data["end_time"], tzinfo=tz)
            if data.get("end_time")
            else None
        )
        return start, end

    def check_end(self) -> None:
        data = self.cleaned_data  # type: ignore[attr-defined]
        if (
            data.get("start_time")
            and data.get("end_time")
            and data["end_time"] <= data["start_time"]
        ):
            self.add_error("end_time", "The end must be after the start.")  # type: ignore[attr-defined]


class BookingForm(WhenMixin, forms.Form):
    patient = forms.CharField(
        error_messages={"required": "Choose the patient: search by name, date of birth or MRN."}
    )
    appointment_type = forms.ChoiceField(label="Visit type", choices=())
    provider = forms.ChoiceField(choices=())
    location = forms.ChoiceField(choices=(), required=False, help_text="Leave blank to use the "
                                 "clinic where the provider works at that time.")  # fmt: skip
    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(label="Start", widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(
        label="End", required=False, widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Filled from the visit type's length; change it if this visit is longer.",
    )  # fmt: skip
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    repeat = forms.ChoiceField(choices=REPEAT, required=False, label="Repeat")
    interval = forms.IntegerField(min_value=1, max_value=12, initial=1, required=False,
                                  label="Every")  # fmt: skip
    ends = forms.ChoiceField(choices=ENDS, required=False, initial="count", label="Ends",
                             widget=forms.RadioSelect)  # fmt: skip
    count = forms.IntegerField(min_value=1, max_value=104, required=False, label="Number of visits")
    until = forms.DateField(required=False, label="Last date",
                            widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip

    def __init__(self, *args, providers: list[tuple[str, str]], locations: list[tuple[str, str]],
                 **kw):  # fmt: skip
        super().__init__(*args, **kw)
        self.fields["appointment_type"].choices = type_choices()
        self.fields["provider"].choices = [("", "Choose the provider")] + providers
        self.fields["location"].choices = [("", "Where the provider works")] + locations

    def clean(self) -> dict:
        data = super().clean()
        self.check_end()
        if data.get("repeat"):
            if (data.get("ends") or "count") == "count" and not data.get("count"):
                self.add_error("count", "Say how many visits, or choose an end date.")
            if data.get("ends") == "until":
                if not data.get("until"):
                    self.add_error("until", "Give the date of the last visit.")
                elif data.get("day") and data["until"] < data["day"]:
                    self.add_error("until", "The last date is before the first visit.")
        return data

    def rrule(self) -> str | None:
        data = self.cleaned_data
        if not data.get("repeat"):
            return None
        start, _ = self.when()
        return rrule_for(data["repeat"], data.get("interval") or 1, data.get("ends") or "count",
                         data.get("count"), data.get("until"), start)  # fmt: skip


class RescheduleForm(WhenMixin, forms.Form):
    day = forms.DateField(label="New date", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(label="Start", widget=forms.TimeInput(attrs={"type": "time"}))
    end_time = forms.TimeField(label="End", widget=forms.TimeInput(attrs={"type": "time"}))
    provider = forms.ChoiceField(choices=())
    scope = forms.ChoiceField(choices=SCOPES, initial="this", required=False,
                              widget=forms.RadioSelect, label="Which appointments")  # fmt: skip

    def __init__(self, *args, providers: list[tuple[str, str]], **kw):
        super().__init__(*args, **kw)
        self.fields["provider"].choices = providers

    def clean(self) -> dict:
        data = super().clean()
        self.check_end()
        return data


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling", max_length=200,
        error_messages={"required": "Give the reason for cancelling."},
    )  # fmt: skip
    scope = forms.ChoiceField(choices=SCOPES, initial="this", required=False,
                              widget=forms.RadioSelect, label="Which appointments")  # fmt: skip


class NextAvailableForm(forms.Form):
    appointment_type = forms.ChoiceField(label="Visit type", choices=())
    provider = forms.ChoiceField(choices=(), required=False, label="Provider")
    location = forms.ChoiceField(choices=(), required=False, label="Location")
    after = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}),
                            required=False)  # fmt: skip

    def __init__(self, *args, providers: list[tuple[str, str]], locations: list[tuple[str, str]],
                 **kw):  # fmt: skip
        super().__init__(*args, **kw)
        self.fields["appointment_type"].choices = type_choices()
        self.fields["provider"].choices = [("", "Any provider")] + providers
        self.fields["location"].choices = [("", "Any location")] + locations


def time_of(dt: datetime) -> str:
    return dt.astimezone(practice_tz()).strftime("%H:%M")


def short_day(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day:02d}-{MONTHS[day.month - 1]}"


def plus_minutes(t: time, minutes: int) -> time:
    return (datetime.combine(date(2000, 1, 1), t) + timedelta(minutes=minutes)).time()
