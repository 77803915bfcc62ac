"""Similarity of names, dates, phones and addresses; the probabilistic duplicate score.

Pure functions over plain values (no database): the search and the duplicate check fetch a
bounded set of candidates through the engine and rank them here.

The duplicate score is a Fellegi-Sunter style sum of agreement weights: each field adds its
weight when it agrees, part of it when it nearly agrees (a typo, transposed day and month,
swapped family and given names) and subtracts when it clearly disagrees. Weights follow how
rarely a chance agreement happens: a date of birth or a phone number says more than a sex.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from ehr.fhir.search.normalize import fold

PROBABLE = 11.0  # score at or above which saving needs "This is a different person"
POSSIBLE = 8.0  # shown as a possible duplicate


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity in [0, 1] (1 = equal)."""
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(la, lb) // 2 - 1
    a_hit = [False] * la
    b_hit = [False] * lb
    matches = 0
    for i, ch in enumerate(a):
        lo, hi = max(0, i - window), min(lb, i + window + 1)
        for j in range(lo, hi):
            if not b_hit[j] and b[j] == ch:
                a_hit[i] = b_hit[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    transpositions = 0
    j = 0
    for i in range(la):
        if a_hit[i]:
            while not b_hit[j]:
                j += 1
            if a[i] != b[j]:
                transpositions += 1
            j += 1
    m = float(matches)
    jaro = (m / la + m / lb + (m - transpositions / 2) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swap of neighbours costs 1."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def name_key(text: str) -> str:
    """Folded letters only: case, accents, hyphens, apostrophes and spaces ignored."""
    return re.sub(r"[^a-z]", "", fold(text or ""))


def name_similarity(a: str, b: str) -> float:
    """1.0 equal, about 0.9 for one typo, lower as names drift apart; 0 for empty."""
    a, b = name_key(a), name_key(b)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    score = jaro_winkler(a, b)
    if edit_distance(a, b) == 1 and min(len(a), len(b)) >= 3:
        score = max(score, 0.9)
    return score


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def phone_key(text: str | None) -> str:
    """The last ten digits of a US phone number ('' when too short to compare)."""
    d = digits(text)
    if len(d) == 11 and d.startswith("1"):
        d = d[1:]
    return d[-10:] if len(d) >= 10 else ""


def format_phone(text: str) -> str:
    """US numbers as the demo data and registration store them: ``(614) 555-0123``."""
    d = phone_key(text)
    if not d:
        return text.strip()
    return f"({d[:3]}) {d[3:6]}-{d[6:]}"


def address_key(line: str | None) -> str:
    text = fold(line or "")
    text = re.sub(r"[^a-z0-9 ]", " ", text)
    for long, short in (
        ("street", "st"),
        ("avenue", "ave"),
        ("road", "rd"),
        ("drive", "dr"),
        ("lane", "ln"),
        ("court", "ct"),
        ("boulevard", "blvd"),
        ("place", "pl"),
        ("circle", "cir"),
        ("apartment", "apt"),
    ):
        text = re.sub(rf"\b{long}\b", short, text)
    return " ".join(text.split())


@dataclass
class Person:
    """The fields the duplicate check compares (all optional)."""

    family: str = ""
    given: str = ""
    birth_date: dt.date | None = None
    sex: str = ""  # administrative gender: female, male, other, unknown
    phones: list[str] = field(default_factory=list)
    address_line: str = ""
    postal_code: str = ""


@dataclass
class Match:
    score: float
    reasons: list[str]

    @property
    def level(self) -> str:
        if self.score >= PROBABLE:
            return "probable"
        if self.score >= POSSIBLE:
            return "possible"
        return "unlikely"


def _date_score(a: dt.date | None, b: dt.date | None) -> tuple[float, str]:
    if a is None or b is None:
        return 0.0, ""
    if a == b:
        return 5.0, "same date of birth"
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return 3.5, "date of birth with day and month swapped"
    same = (a.year == b.year) + (a.month == b.month) + (a.day == b.day)
    if same == 2:
        return 2.5, "date of birth differs in one part"
    return -4.0, ""


def score(query: Person, candidate: Person) -> Match:
    """How likely ``candidate`` is the same person as ``query``."""
    total = 0.0
    reasons: list[str] = []
    fam = name_similarity(query.family, candidate.family)
    giv = name_similarity(query.given, candidate.given)
    swapped = min(
        name_similarity(query.family, candidate.given),
        name_similarity(query.given, candidate.family),
    )
    if swapped >= 0.9 and swapped > min(fam, giv):
        total += 6.0
        reasons.append("family and given names swapped")
    else:
        if fam == 1.0:
            total += 4.0
            reasons.append("same family name")
        elif fam >= 0.88:
            total += 3.0
            reasons.append("similar family name")
        elif query.family and candidate.family:
            total -= 2.0
        if giv == 1.0:
            total += 3.0
            reasons.append("same given name")
        elif giv >= 0.88:
            total += 2.0
            reasons.append("similar given name")
        elif (
            query.given
            and candidate.given
            and name_key(query.given)[:1] == name_key(candidate.given)[:1]
        ):
            total += 0.5
        elif query.given and candidate.given:
            total -= 1.0
    points, why = _date_score(query.birth_date, candidate.birth_date)
    total += points
    if why:
        reasons.append(why)
    if query.sex and candidate.sex and "unknown" not in (query.sex, candidate.sex):
        if query.sex == candidate.sex:
            total += 1.0
            reasons.append("same sex")
        else:
            total -= 1.0
    qp = {phone_key(p) for p in query.phones} - {""}
    cp = {phone_key(p) for p in candidate.phones} - {""}
    if qp & cp:
        total += 3.0
        reasons.append("same phone number")
    if query.address_line and address_key(query.address_line) == address_key(
        candidate.address_line
    ):
        total += 2.0
        reasons.append("same street address")
    if query.postal_code and query.postal_code[:5] == (candidate.postal_code or "")[:5]:
        total += 1.0
        reasons.append("same ZIP code")
    return Match(round(total, 1), reasons)


def person_of(patient: dict) -> Person:
    """The comparable fields of a FHIR Patient (its official or first name, home address)."""
    names = patient.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), None) or (
        names[0] if names else {}
    )
    birth = None
    text = patient.get("birthDate") or ""
    if len(text) == 10:
        try:
            birth = dt.date.fromisoformat(text)
        except ValueError:
            birth = None
    addresses = patient.get("address") or []
    address = next((a for a in addresses if a.get("use") in (None, "home")), None) or (
        addresses[0] if addresses else {}
    )
    return Person(
        family=name.get("family", ""),
        given=" ".join(name.get("given", [])[:1]),
        birth_date=birth,
        sex=patient.get("gender", ""),
        phones=[
            t.get("value", "") for t in patient.get("telecom", []) if t.get("system") == "phone"
        ],
        address_line=" ".join((address.get("line") or [])[:1]),
        postal_code=address.get("postalCode", ""),
    )
