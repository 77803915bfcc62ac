"""Forms of the front desk: registration/demographics, coverage, document upload, merge.

Forms own their validation (errors beside each field); the views turn cleaned data into FHIR
resources with ``ehr.registration.fhirmap``. Dates are typed as text and read leniently
(``parse_date``), then shown back as dd-Mmm-yyyy beside the field.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms

from ehr.registration import codes
from ehr.registration.matching import phone_key
from ehr.registration.search import parse_date

BLANK = [("", "Not asked / not given")]


def _text(label: str, *, required: bool = False, autocomplete: str = "off", **kw) -> forms.Field:
    return forms.CharField(
        label=label,
        required=required,
        max_length=kw.pop("max_length", 100),
        widget=forms.TextInput(attrs={"autocomplete": autocomplete, **kw.pop("attrs", {})}),
        **kw,
    )


def _date(label: str, *, required: bool = False, autocomplete: str = "off", help_text: str = ""):
    return forms.CharField(
        label=label,
        required=required,
        max_length=40,
        help_text=help_text or "For example 07/14/1945 or 14 Jul 1945",
        widget=forms.TextInput(attrs={"autocomplete": autocomplete, "inputmode": "text"}),
    )


def _tel(label: str, autocomplete: str = "tel") -> forms.Field:
    return forms.CharField(
        label=label,
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": autocomplete}),
    )


def _select(label: str, choices, *, required: bool = False, blank=BLANK) -> forms.Field:
    return forms.ChoiceField(
        label=label, required=required, choices=(blank if blank else []) + list(choices)
    )


def _relationship(label: str = "Relationship to patient") -> forms.Field:
    return _select(label, codes.RELATIONSHIPS, blank=[("", "Choose…")])


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


class RegistrationForm(AccessibleForm):
    """USCDI v3 demographics, in the fieldsets of ``FIELDSETS``."""

    family = _text("Family name (legal)", required=True, autocomplete="family-name")
    given = _text("Given name (legal)", required=True, autocomplete="given-name")
    middle = _text("Middle name", autocomplete="additional-name")
    suffix = _text("Suffix", autocomplete="honorific-suffix", max_length=20)
    preferred = _text("Preferred name", autocomplete="nickname", help_text="If they go by another")
    prev_family = _text("Previous family name")
    prev_given = _text("Previous given name")
    prev_until = _date("Previous name used until", help_text="Optional; for example 06/2010")

    birth_date = _date("Date of birth", required=True, autocomplete="bday")
    gender = _select(
        "Sex (administrative)", codes.ADMIN_GENDER, required=True, blank=[("", "Choose…")]
    )
    birth_sex = _select("Sex assigned at birth", codes.BIRTH_SEX)
    gender_identity = _select("Gender identity", [(c, d) for _, c, d in codes.GENDER_IDENTITY])
    pronouns = _select("Pronouns", codes.PRONOUNS)
    sexual_orientation = _select(
        "Sexual orientation", [(c, d) for _, c, d in codes.SEXUAL_ORIENTATION]
    )

    race = forms.MultipleChoiceField(
        label="Race (choose all that apply)",
        required=False,
        choices=codes.OMB_RACE + [codes.RACE_DECLINED, codes.RACE_UNKNOWN],
        widget=forms.CheckboxSelectMultiple,
    )
    race_detailed = forms.MultipleChoiceField(
        label="Detailed race",
        required=False,
        choices=codes.DETAILED_RACE,
        widget=forms.CheckboxSelectMultiple,
        help_text="Optional; the category above is added for you",
    )
    ethnicity = forms.ChoiceField(
        label="Ethnicity",
        required=False,
        choices=codes.OMB_ETHNICITY + [codes.RACE_DECLINED, codes.RACE_UNKNOWN],
        widget=forms.RadioSelect,
    )
    ethnicity_detailed = forms.MultipleChoiceField(
        label="Detailed ethnicity",
        required=False,
        choices=codes.DETAILED_ETHNICITY,
        widget=forms.CheckboxSelectMultiple,
    )

    language = _select("Preferred language", codes.LANGUAGES, blank=[("", "Not asked")])
    interpreter = forms.BooleanField(label="Needs an interpreter", required=False)
    contact_method = _select("Preferred way to contact", codes.CONTACT_METHODS)
    voicemail_ok = forms.BooleanField(label="May leave a voicemail", required=False)
    text_ok = forms.BooleanField(label="May send text messages", required=False)

    phone_mobile = _tel("Mobile phone", "tel")
    phone_home = _tel("Home phone", "off")
    phone_work = _tel("Work phone", "off")
    email = forms.EmailField(
        label="Email",
        required=False,
        max_length=200,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    addr1_line1 = _text("Street address", autocomplete="address-line1", max_length=200)
    addr1_line2 = _text("Apartment, suite (optional)", autocomplete="address-line2")
    addr1_city = _text("City", autocomplete="address-level2")
    addr1_state = _select("State", [(s, s) for s in codes.US_STATES], blank=[("", "Choose…")])
    addr1_postal = _text("ZIP code", autocomplete="postal-code", max_length=10)
    addr1_since = _date("Living here since", help_text="Optional")

    addr2_use = _select(
        "Kind of address",
        [("work", "Work"), ("temp", "Temporary"), ("old", "Previous"), ("billing", "Billing")],
        blank=[("", "No other address")],
    )
    addr2_line1 = _text("Street address", max_length=200)
    addr2_city = _text("City")
    addr2_state = _select("State", [(s, s) for s in codes.US_STATES], blank=[("", "Choose…")])
    addr2_postal = _text("ZIP code", max_length=10)
    addr2_start = _date("From", help_text="Optional")
    addr2_end = _date("Until", help_text="Optional")

    ec1_family = _text("Family name")
    ec1_given = _text("Given name")
    ec1_relationship = _relationship()
    ec1_phone = _tel("Phone", "off")
    ec2_family = _text("Family name")
    ec2_given = _text("Given name")
    ec2_relationship = _relationship()
    ec2_phone = _tel("Phone", "off")

    guarantor = forms.ChoiceField(
        label="Who pays the bills (guarantor)",
        choices=[("self", "The patient"), ("other", "Someone else")],
        initial="self",
        widget=forms.RadioSelect,
    )
    g_family = _text("Guarantor family name")
    g_given = _text("Guarantor given name")
    g_relationship = _relationship("Guarantor's relationship to patient")
    g_birth = _date("Guarantor date of birth", help_text="Optional")
    g_phone = _tel("Guarantor phone", "off")

    pcp = forms.ChoiceField(label="Primary care provider", required=False, choices=[])
    not_duplicate = forms.BooleanField(
        label="This is a different person from the possible duplicates shown",
        required=False,
    )

    FIELDSETS: list[tuple[str, list[str]]] = [
        ("Name", ["family", "given", "middle", "suffix", "preferred"]),
        ("Previous name", ["prev_family", "prev_given", "prev_until"]),
        (
            "Birth, sex and gender",
            [
                "birth_date",
                "gender",
                "birth_sex",
                "gender_identity",
                "pronouns",
                "sexual_orientation",
            ],
        ),  # fmt: skip
        ("Race and ethnicity", ["race", "race_detailed", "ethnicity", "ethnicity_detailed"]),
        ("Phone and email", ["phone_mobile", "phone_home", "phone_work", "email"]),
        (
            "Language and contact preferences",
            ["language", "interpreter", "contact_method", "voicemail_ok", "text_ok"],
        ),
        (
            "Home address",
            [
                "addr1_line1",
                "addr1_line2",
                "addr1_city",
                "addr1_state",
                "addr1_postal",
                "addr1_since",
            ],
        ),  # fmt: skip
        (
            "Other address",
            [
                "addr2_use",
                "addr2_line1",
                "addr2_city",
                "addr2_state",
                "addr2_postal",
                "addr2_start",
                "addr2_end",
            ],
        ),  # fmt: skip
        ("Emergency contact 1", ["ec1_family", "ec1_given", "ec1_relationship", "ec1_phone"]),
        ("Emergency contact 2", ["ec2_family", "ec2_given", "ec2_relationship", "ec2_phone"]),
        (
            "Guarantor",
            ["guarantor", "g_family", "g_given", "g_relationship", "g_birth", "g_phone"],
        ),
        ("Care team", ["pcp"]),
    ]
    # Fields the duplicate check sends while the form is filled in.
    MATCH_FIELDS = ["family", "given", "birth_date", "gender", "phone_mobile", "phone_home",
                    "addr1_line1", "addr1_postal"]  # fmt: skip

    def __init__(self, *args, practitioners: list[tuple[str, str]] | None = None, **kw):
        super().__init__(*args, **kw)
        self.fields["pcp"].choices = [("", "None chosen")] + list(practitioners or [])
        for name in self.MATCH_FIELDS:
            self.fields[name].widget.attrs.update(
                {
                    "hx-post": "/patients/duplicates",
                    "hx-trigger": "change delay:300ms",
                    "hx-target": "#duplicates",
                    "hx-include": "closest form",
                    "hx-sync": "closest form:replace",
                }
            )
        self.dates: dict[str, str] = {}  # field -> dd-Mmm-yyyy as read, shown beside it

    # -- field checks -------------------------------------------------------------------

    def _clean_date(self, name: str, *, past: bool = True) -> dt.date | None:
        text = (self.cleaned_data.get(name) or "").strip()
        if not text:
            return None
        month_year = re.fullmatch(r"(\d{1,2})[/-](\d{4})", text)
        if month_year and name != "birth_date":
            value = dt.date(int(month_year[2]), max(1, min(12, int(month_year[1]))), 1)
        else:
            value = parse_date(text)
        if value is None:
            raise forms.ValidationError(
                "Enter a real date, for example 07/14/1945 or 14 Jul 1945."
                if past
                else "Enter a real date, for example 07/14/2026."
            )
        from ehr.registration.banner import format_date

        self.dates[name] = format_date(value)
        return value

    def clean_birth_date(self):
        value = self._clean_date("birth_date")
        if value is not None and value.year < 1890:
            raise forms.ValidationError("The year of birth looks wrong; check it.")
        return value

    def clean_prev_until(self):
        return self._clean_date("prev_until")

    def clean_addr1_since(self):
        return self._clean_date("addr1_since")

    def clean_addr2_start(self):
        return self._clean_date("addr2_start")

    def clean_addr2_end(self):
        return self._clean_date("addr2_end", past=False)

    def clean_g_birth(self):
        return self._clean_date("g_birth")

    def _clean_phone(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if value and not phone_key(value):
            raise forms.ValidationError("Enter a 10-digit phone number, for example 614 555 0123.")
        return value

    def clean_phone_mobile(self):
        return self._clean_phone("phone_mobile")

    def clean_phone_home(self):
        return self._clean_phone("phone_home")

    def clean_phone_work(self):
        return self._clean_phone("phone_work")

    def clean_ec1_phone(self):
        return self._clean_phone("ec1_phone")

    def clean_ec2_phone(self):
        return self._clean_phone("ec2_phone")

    def clean_g_phone(self):
        return self._clean_phone("g_phone")

    def _clean_zip(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if value and not re.fullmatch(r"\d{5}(-?\d{4})?", value):
            raise forms.ValidationError("Enter a ZIP code of 5 digits (or ZIP+4).")
        return value

    def clean_addr1_postal(self):
        return self._clean_zip("addr1_postal")

    def clean_addr2_postal(self):
        return self._clean_zip("addr2_postal")

    def clean(self):
        data = super().clean()
        for n in ("ec1", "ec2"):
            filled = [data.get(f"{n}_{f}") for f in ("family", "given", "relationship", "phone")]
            if any(filled):
                if not data.get(f"{n}_family") and not data.get(f"{n}_given"):
                    self.add_error(f"{n}_given", "Enter the contact's name.")
                if not data.get(f"{n}_phone") and f"{n}_phone" not in self.errors:
                    self.add_error(f"{n}_phone", "Enter a phone number for the contact.")
                if not data.get(f"{n}_relationship"):
                    self.add_error(f"{n}_relationship", "Choose how they are related.")
        if data.get("guarantor") == "other":
            if not data.get("g_family"):
                self.add_error("g_family", "Enter the guarantor's family name.")
            if not data.get("g_given"):
                self.add_error("g_given", "Enter the guarantor's given name.")
            if not data.get("g_relationship"):
                self.add_error("g_relationship", "Choose how they are related.")
        if data.get("prev_until") and not (data.get("prev_family") or data.get("prev_given")):
            self.add_error("prev_family", "Enter the previous name, or clear the date.")
        if data.get("addr2_use") and not data.get("addr2_line1"):
            self.add_error("addr2_line1", "Enter the street address, or choose no other address.")
        if (
            data.get("addr1_line1")
            and not data.get("addr1_city")
            and "addr1_city" not in self.errors
        ):
            self.add_error("addr1_city", "Enter the city.")
        start, end = data.get("addr2_start"), data.get("addr2_end")
        if start and end and end < start:
            self.add_error("addr2_end", "The end date is before the start date.")
        if data.get("contact_method") in ("mobile", "sms") and not data.get("phone_mobile"):
            self.add_error("phone_mobile", "Enter the mobile number to contact them on it.")
        if (
            data.get("contact_method") == "email"
            and not data.get("email")
            and "email" not in self.errors
        ):
            self.add_error("email", "Enter the email address to contact them by email.")
        return data


class CoverageForm(AccessibleForm):
    order = forms.TypedChoiceField(
        label="Order of benefits", choices=codes.COVERAGE_ORDER, coerce=int, initial=1
    )
    payer = forms.ChoiceField(label="Payer", required=False, choices=[])
    new_payer_name = _text("New payer name", max_length=200, help_text="Only if not in the list")
    new_payer_id = _text(
        "New payer's payer ID", max_length=40, help_text="As on the card (for claims)"
    )
    kind = _select("Kind of coverage", codes.COVERAGE_KINDS, required=True, blank=[("", "Choose…")])
    plan_name = _text("Plan name", max_length=200)
    member_id = _text("Member ID", required=True, max_length=60)
    subscriber_id = _text(
        "Subscriber ID", max_length=60, help_text="If different from the member ID"
    )
    group_number = _text("Group number", max_length=60)
    relationship = _select(
        "Patient's relationship to subscriber",
        codes.SUBSCRIBER_RELATIONSHIPS,
        required=True,
        blank=None,
    )
    subscriber = forms.ChoiceField(label="Subscriber", required=False, choices=[])
    sub_family = _text("Subscriber family name", help_text="For a new subscriber")
    sub_given = _text("Subscriber given name")
    sub_birth = _date("Subscriber date of birth", help_text="Optional")
    start = _date("Effective from", required=True, help_text="For example 01/01/2026")
    end = _date("Effective until", help_text="Leave empty if it has not ended")

    def __init__(self, *args, payers=(), subscribers=(), **kw):
        super().__init__(*args, **kw)
        self.fields["payer"].choices = [("", "Choose…")] + list(payers)
        self.fields["subscriber"].choices = [("", "The patient, or a new person below")] + list(
            subscribers
        )
        self.dates: dict[str, str] = {}

    def _date_field(self, name: str, *, past: bool) -> dt.date | None:
        text = (self.cleaned_data.get(name) or "").strip()
        if not text:
            return None
        value = parse_date(text, today=dt.date.today() + dt.timedelta(days=3650))
        if value is None:
            raise forms.ValidationError("Enter a real date, for example 01/01/2026.")
        from ehr.registration.banner import format_date

        self.dates[name] = format_date(value)
        return value

    def clean_start(self):
        return self._date_field("start", past=True)

    def clean_end(self):
        return self._date_field("end", past=False)

    def clean_sub_birth(self):
        return self._date_field("sub_birth", past=True)

    def clean(self):
        data = super().clean()
        if not data.get("payer") and not data.get("new_payer_name"):
            self.add_error("payer", "Choose the payer, or enter a new payer's name.")
        if data.get("payer") and data.get("new_payer_name"):
            self.add_error("new_payer_name", "Either choose a payer or enter a new one, not both.")
        named = data.get("sub_family") and data.get("sub_given")
        if data.get("relationship") not in (None, "", "self") and not (
            data.get("subscriber") or named
        ):
            self.add_error(
                "subscriber", "Choose the subscriber, or enter their family and given names."
            )
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end date is before the start date.")
        return data


class DocumentForm(AccessibleForm):
    kind = _select("Kind of document", codes.DOCUMENT_KINDS, required=True, blank=[("", "Choose…")])
    description = _text("Description", max_length=200, help_text="Optional, e.g. the payer's name")
    file = forms.FileField(
        label="File (photo or PDF)",
        help_text="JPEG, PNG or PDF, up to 10 MB. On a tablet you can take a photo.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,application/pdf", "capture": "environment"}
        ),
    )


class MergeForm(AccessibleForm):
    source = _text("Duplicate record to retire (MRN or record id)", required=True)
    target = _text("Record to keep (MRN or record id)", required=True)
    confirm = forms.BooleanField(
        label="I have checked that both records are the same person", required=False
    )
