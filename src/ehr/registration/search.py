"""Global patient search: one box for a name, a date of birth, an MRN or a phone number.

``find_patients(text)`` reads what was typed (``family, given``, ``given family``, partial
names, a date of birth in the usual US forms, ``MRN1234...``, a phone number, or a mix),
asks the engine for a bounded set of candidates through indexed parameters, then ranks them
in Python by name similarity so that a typo (one edit, swapped letters) or names in the other
order still find the patient. Every engine query carries ``_count``; nothing scans all
patients.

Typo tolerance comes from the candidate queries: exact name prefixes first, then two-letter
prefixes of every name (and the same with the first two letters swapped, for typos there),
combined so that each query stays selective. A typo in the first letter of *both* names is
not found; one name right is enough.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from dateutil import parser as dateparser

from ehr.fhir.errors import FhirError
from ehr.fhir.search import engine
from ehr.fhir.storage.repository import Stored
from ehr.registration.banner import summary
from ehr.registration.codes import MRN_SYSTEM
from ehr.registration.matching import format_phone, name_key, name_similarity, phone_key

CANDIDATES = 60  # _count of each candidate query
MIN_NAME_SCORE = 0.86

_NUMERIC_DATE = re.compile(r"^\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}$")
_MONTH = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?$", re.IGNORECASE
)
_MRN = re.compile(r"^mrn[\s:#-]*(\d[\d\s-]*)$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


@dataclass
class Query:
    text: str
    names: list[str] = field(default_factory=list)
    family: str = ""  # the part before a comma, when one was typed
    birth: dt.date | None = None
    phone: str = ""
    mrn: str = ""

    @property
    def empty(self) -> bool:
        return not (self.names or self.birth or self.phone or self.mrn)


@dataclass
class Hit:
    id: str
    score: float
    why: str
    patient: dict
    row: dict  # display values (banner.summary)


def parse_date(text: str, today: dt.date | None = None) -> dt.date | None:
    """A date of birth typed as 7/14/1945, 07-14-45, 1945-07-14, 14 Jul 1945, Jul 14 1945..."""
    text = text.strip()
    if not text or not re.search(r"\d", text):
        return None
    today = today or dt.date.today()
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if iso:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        compact = re.fullmatch(r"(\d{2})(\d{2})(\d{4})", text)  # 07141945, as on many forms
        if compact:
            return dt.date(int(compact[3]), int(compact[1]), int(compact[2]))
        value = dateparser.parse(text, dayfirst=False, yearfirst=False, fuzzy=False).date()
    except (ValueError, OverflowError, dateparser.ParserError):
        return None
    two_digit_year = re.search(r"(^|\D)\d{2}$", text) is not None
    if two_digit_year and value > today:
        value = value.replace(year=value.year - 100)
    if value > today or value.year < 1880:
        return None
    return value


def parse_query(text: str, today: dt.date | None = None) -> Query:
    q = Query(text=text.strip())
    raw = q.text
    if not raw:
        return q
    m = _MRN.match(raw)
    if m:
        q.mrn = "MRN" + re.sub(r"\D", "", m[1])
        return q
    if _PHONE.match(raw) and not _NUMERIC_DATE.match(raw.strip()):
        d = re.sub(r"\D", "", raw)
        if len(d) in (10, 11) and (len(d) == 10 or d.startswith("1")):
            q.phone = d
            return q
        if len(d) == 8 and parse_date(raw, today) is None:  # bare MRN digits
            q.mrn = "MRN" + d
            return q
    whole_date = parse_date(raw, today) if not re.search(r"[a-z]{4,}", raw, re.I) else None
    if whole_date and (re.search(r"\d", raw) and len(raw.split()) <= 3):
        q.birth = whole_date
        return q
    # A mix: names, a date (numeric or with a month name), maybe a comma.
    if "," in raw:
        head, _, rest = raw.partition(",")
        raw = head + " " + rest
        q.family = name_key(head.split()[0]) if head.split() else ""
    tokens = raw.split()
    used: set[int] = set()
    for i, tok in enumerate(tokens):
        if _NUMERIC_DATE.match(tok) or re.fullmatch(r"\d{8}", tok):
            q.birth = q.birth or parse_date(tok, today)
            used.add(i)
        elif _MONTH.match(tok):
            window = [j for j in range(max(0, i - 1), min(len(tokens), i + 3))]
            window = [j for j in window if re.fullmatch(r"\d{1,4},?", tokens[j]) or j == i]
            q.birth = q.birth or parse_date(" ".join(tokens[j] for j in window), today)
            used.update(window)
    for i, tok in enumerate(tokens):
        if i in used:
            continue
        key = name_key(tok)
        if key:
            q.names.append(key)
    return q


def _search(rtype: str, params: list[tuple[str, str]]) -> list[Stored]:
    try:
        return engine.run(engine.parse(rtype, params)).rows
    except FhirError:
        return []


def _name_parts(patient: dict) -> list[tuple[str, str]]:
    """(kind, folded part) for every name part: family, given, preferred, previous."""
    out = []
    for name in patient.get("name") or []:
        use = name.get("use") or "official"
        for part in re.split(r"[\s-]+", name.get("family") or ""):
            if part:
                out.append(("family" if use != "old" else "old", name_key(part)))
        for given in name.get("given") or []:
            out.append(("given" if use != "old" else "old", name_key(given)))
    return out


def name_score(q: Query, patient: dict) -> float:
    """Mean over the typed names of their best match; prefixes of 2+ letters count as matches."""
    parts = _name_parts(patient)
    if not q.names or not parts:
        return 0.0
    total = 0.0
    for token in q.names:
        best = 0.0
        for kind, part in parts:
            if part == token:
                s = 1.0
            elif len(token) >= 2 and part.startswith(token):
                s = 0.97
            else:
                s = name_similarity(token, part)
                if len(token) >= 4 and len(part) > len(token):
                    s = max(s, name_similarity(token, part[: len(token)]) - 0.03)
            if kind == "old":
                s -= 0.05
            if q.family and token == q.family and kind != "family":
                s -= 0.04  # "family, given" typed: a family-name match ranks first
            best = max(best, s)
        total += best
    return total / len(q.names)


def _prefixes(token: str) -> list[str]:
    out = [token[:2]]
    if len(token) >= 2 and token[1] != token[0]:
        out.append(token[1] + token[0])
    return out


def candidates(q: Query) -> dict[str, Stored]:
    """Bounded, indexed candidate queries for ``q`` (ids -> stored Patient)."""
    found: dict[str, Stored] = {}

    def add(params: list[tuple[str, str]]) -> None:
        for row in _search("Patient", [*params, ("_count", str(CANDIDATES))]):
            found.setdefault(row.id, row)

    birth = [("birthdate", q.birth.isoformat())] if q.birth else []
    if q.mrn:
        add([("identifier", f"{MRN_SYSTEM}|{q.mrn}")])
        add([("identifier", q.mrn)])
    if q.phone:
        key = phone_key(q.phone)
        values = {format_phone(key), key, q.phone}
        add([("phone", ",".join(v.replace(",", "\\,") for v in sorted(values)))])
    if q.names:
        add([("name", t) for t in q.names] + birth)
        if len(found) < 10:
            add([("name", ",".join(_prefixes(t))) for t in q.names if len(t) >= 2] + birth)
        if len(found) < 10:
            for t in q.names:
                if len(t) >= 2:
                    add([("name", ",".join(_prefixes(t)))] + birth)
    elif q.birth:
        add(birth)
    return found


def find_patients(text: str, limit: int = 20, today: dt.date | None = None) -> list[Hit]:
    """Ranked patients for what was typed in the search box (best first)."""
    q = parse_query(text, today)
    if q.empty:
        return []
    hits: list[Hit] = []
    for pid, stored in candidates(q).items():
        patient = stored.resource()
        score = 1.0
        why = []
        if q.names:
            score = name_score(q, patient)
            if score < MIN_NAME_SCORE:
                continue
            why.append("name" if score >= 0.97 else "similar name")
        if q.birth:
            if patient.get("birthDate") != q.birth.isoformat():
                continue
            why.append("date of birth")
        if q.mrn:
            why.append("MRN")
        if q.phone:
            why.append("phone")
        if patient.get("active") is False:
            score -= 0.1
        hits.append(Hit(pid, round(score, 3), ", ".join(why), patient, summary(patient, pid)))
    hits.sort(key=lambda h: (-h.score, h.row["name"]))
    return hits[:limit]
