"""Deterministic synthetic patient records for an ambulatory US practice (FHIR R4, US Core 6.1.0).

``generate(patients, seed, today=...)`` yields transaction Bundles: first the practice (PUT with
fixed ids), then one Bundle per patient whose entries are POSTed with ``urn:uuid:`` full URLs.
Everything is drawn from ``random.Random(seed)``; the wall clock is read only when ``today`` is
not given, and then only to anchor the timeline. Each patient has a private generator seeded
from the main one, so the first N patients of a run do not depend on how many follow.

The story of a patient is simulated in two passes: first a plan (demographics, the problems
they have or will develop and when, the visits they make), then the visits in date order, each
producing the resources a clinician would record that day (encounter, vital signs, diagnoses,
prescriptions and renewals, lab panels, immunizations, smoking status).
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from ehr.demo import people
from ehr.demo.practice import (
    CLINICIANS,
    LOCATIONS,
    PAYERS,
    PRACTICE_NAME,
    PRACTICE_REF,
    US_CORE,
    Clinician,
    Payer,
    practice_bundle,
)
from ehr.demo.vocab import (
    ACUTE,
    ALLERGENS,
    ANALYTES,
    CHILD_SCHEDULE,
    CHRONIC,
    CHRONIC_BY_KEY,
    CPT,
    CPT_CODES,
    CVX,
    DIASTOLIC,
    ICD10CM,
    LOINC,
    MEDS,
    NO_KNOWN_ALLERGY,
    NSAIDS,
    O2_SAT,
    PANELS,
    PENICILLINS,
    REACTIONS,
    ROUTE_DISPLAY,
    ROUTES,
    RXNORM,
    SEX_RANGES,
    SMOKING,
    SNOMED,
    SYSTOLIC,
    THO,
    UCUM,
    VACCINE_ROUTE,
    VACCINES,
    VISIT_TYPES,
    VITALS,
    Acute,
    Chronic,
    Med,
)

__all__ = ["MRN_SYSTEM", "generate"]

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"
OMB = "urn:oid:2.16.840.1.113883.6.238"
SOPT = "https://nahdo.org/sopt"
NULL_FLAVOR = THO + "v3-NullFlavor"
DAY = dt.timedelta(days=1)
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)
YEAR_DAYS = 365.25


def generate(patients: int, seed: int, *, today: dt.date | None = None) -> Iterator[dict]:
    """Yield FHIR R4 transaction Bundles (dicts). The first bundle holds the practice: Organization(s)
    (the practice, 3-4 payers), Location(s), Practitioner(s) (6-10 with NPI identifiers
    system http://hl7.org/fhir/sid/us-npi) and PractitionerRole(s), written with request method PUT and
    fixed deterministic ids (e.g. "Practitioner/demo-pract-1") so loading twice does not duplicate them.
    Then one transaction bundle per patient: entries with request method POST, fullUrl "urn:uuid:<uuid>",
    references between entries by those urn:uuid fullUrls, references to practice resources as
    "Practitioner/demo-pract-1" style literal references."""  # noqa: E501
    anchor = today if today is not None else dt.date.today()
    yield practice_bundle()
    main = random.Random(seed)
    mrns: set[str] = set()
    for _ in range(patients):
        patient_seed = main.getrandbits(64)
        mrn = f"MRN{main.randrange(10**7, 10**8)}"
        while mrn in mrns:
            mrn = f"MRN{main.randrange(10**7, 10**8)}"
        mrns.add(mrn)
        story = _PatientStory(random.Random(patient_seed), anchor, mrn)
        # A record is a tree of fresh dicts and lists, freed by reference counting; pausing the
        # cyclic collector while one is built spares it rescanning them (15% faster when the
        # caller streams the bundles, 27% when it keeps them all).
        collecting = gc.isenabled()
        gc.disable()
        try:
            bundle = story.bundle()
        finally:
            if collecting:
                gc.enable()
        yield bundle


# ----------------------------------------------------------------------------- time helpers

_OFFSETS: dict[int, tuple[dt.date, dt.date]] = {}


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def _last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year + (month == 12), month % 12 + 1, 1) - DAY
    return last - dt.timedelta(days=(last.weekday() + 1) % 7)


def _offset(day: dt.date) -> str:
    """UTC offset of US Eastern time on that day (the practice is in Ohio)."""
    span = _OFFSETS.get(day.year)
    if span is None:
        if day.year >= 2007:
            span = (_nth_sunday(day.year, 3, 2), _nth_sunday(day.year, 11, 1))
        elif day.year >= 1987:
            span = (_nth_sunday(day.year, 4, 1), _last_sunday(day.year, 10))
        else:
            span = (_last_sunday(day.year, 4), _last_sunday(day.year, 10))
        _OFFSETS[day.year] = span
    return "-04:00" if span[0] <= day < span[1] else "-05:00"


def _stamp(day: dt.date, minute: int, second: int = 0) -> str:
    """A dateTime with seconds and time zone; ``minute`` counts from midnight."""
    return f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:{second:02d}{_offset(day)}"


def _years(birth: dt.date, day: dt.date) -> float:
    return (day - birth).days / YEAR_DAYS


def _plus_years(day: dt.date, years: float) -> dt.date:
    return day + dt.timedelta(days=round(years * YEAR_DAYS))


def _interp(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear curve; zero before its first point, flat after its last."""
    if not points or x < points[0][0]:
        return 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


# Median length/height (cm) and weight (kg) by age in years, from growth-chart shapes.
_HEIGHT = {
    "male": ((0, 50.5), (0.25, 61), (0.5, 67.5), (1, 76), (1.5, 82.5), (2, 87), (3, 96),
             (4, 103), (5, 110), (6, 116), (8, 128), (10, 138.5), (12, 149.5), (14, 163.5),
             (16, 173.5), (18, 176.5)),
    "female": ((0, 49.5), (0.25, 59.5), (0.5, 65.5), (1, 74), (1.5, 80.5), (2, 86), (3, 95),
               (4, 102), (5, 109), (6, 115), (8, 127.5), (10, 138.5), (12, 151.5), (14, 160),
               (16, 162.5), (18, 163)),
}  # fmt: skip
_WEIGHT = {
    "male": ((0, 3.5), (0.25, 6.2), (0.5, 8), (1, 10.2), (1.5, 11.5), (2, 12.7), (3, 14.3),
             (4, 16.3), (5, 18.4), (6, 20.7), (8, 25.6), (10, 31.4), (12, 40), (14, 50.8),
             (16, 61), (18, 68)),
    "female": ((0, 3.4), (0.25, 5.7), (0.5, 7.3), (1, 9.5), (1.5, 10.8), (2, 12), (3, 14),
               (4, 15.9), (5, 17.9), (6, 20.2), (8, 25.5), (10, 32.3), (12, 41.5), (14, 49.4),
               (16, 53.5), (18, 56.5)),
}  # fmt: skip

# Age bands of the practice's panel: (from, to, share).
_AGE_BANDS = ((0.03, 5, 0.07), (5, 18, 0.13), (18, 35, 0.18), (35, 50, 0.18), (50, 65, 0.22),
              (65, 80, 0.16), (80, 95, 0.06))  # fmt: skip
_INFANT_DAYS = (31, 61, 122, 183, 274, 365, 456, 548, 730, 913, 1095)
_EMPLOYERS = ("Scioto Valley Logistics", "Central Ohio Schools", "Buckeye Components",
              "Olentangy Medical Supply", "Franklin County Services", "Riverside Credit Union",
              "Hocking Hills Foods", "Mid-Ohio Builders")  # fmt: skip
_VIETNAMESE = {"Nguyen", "Tran", "Pham", "Le"}
_CHINESE = {"Chen", "Wang", "Li", "Zhang", "Liu", "Huang", "Lin", "Wu"}
_SOMALI = {"Hussein", "Ali", "Mohamed", "Abdi"}
_LOT_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_CHILD_CVX = {"hepb": "08", "dtap": "20", "ipv": "10", "hib": "49", "rv": "116", "mmr": "03",
              "var": "21", "hepa": "83", "tdap": "115", "menacwy": "114"}  # fmt: skip


def _coding(system: str, code: str, display: str) -> dict:
    return {"system": system, "code": code, "display": display}


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict:
    out: dict = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def _quantity(value: float, unit: str, code: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _weighted(rng: random.Random, items: list, weights: list[float]):
    return rng.choices(items, weights=weights, k=1)[0]


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _sick_visits_a_year(age: float) -> float:
    """How often people of that age come in with an acute illness or injury."""
    for upto, rate in ((2, 3.0), (6, 2.2), (12, 1.3), (18, 0.9), (65, 0.7)):
        if age < upto:
            return rate
    return 0.9


def _preventive_band(age: float) -> int:
    """Last digit of the CPT preventive-visit code (9938x new, 9939x established) for an age."""
    for band, upto in enumerate((1, 5, 12, 18, 40, 65), start=1):
        if age < upto:
            return band
    return 7


_OBSERVATION_CATEGORY = THO + "observation-category"


def _category(code: str, display: str) -> dict:
    """An Observation.category CodeableConcept (a fresh one each time)."""
    return {
        "coding": [{"system": _OBSERVATION_CATEGORY, "code": code, "display": display}],
        "text": display,
    }


# ----------------------------------------------------------------------------- simulation state


@dataclass
class _Problem:
    """A chronic condition: when it starts and ends, and what has been recorded about it."""

    spec: Chronic
    onset: dt.date
    end: dt.date | None = None
    end_status: str = "resolved"
    ref: str = ""  # urn:uuid of the Condition once recorded
    resource: dict | None = None
    recorded: dt.date | None = None
    closed: bool = False
    courses: list[_Course] = field(default_factory=list)

    def active(self, day: dt.date) -> bool:
        return self.onset <= day and (self.end is None or day < self.end)

    def known(self, day: dt.date) -> bool:
        """Recorded by the practice and still active on that day."""
        return self.recorded is not None and self.recorded <= day and self.active(day)

    def treated(self, day: dt.date) -> bool:
        """On treatment since before that day."""
        return self.recorded is not None and self.recorded < day and self.active(day)


@dataclass
class _Course:
    """A long-term medicine and its latest prescription."""

    med: Med
    request: dict
    authored: dt.date
    reason: str


@dataclass
class _Visit:
    day: dt.date
    kind: str  # well | followup | problem | acute | vaccine
    detail: str = ""  # chronic key of a problem visit, acute key of a sick visit
    flu: bool = False
    covid: str = ""


_KIND_ORDER = {"well": 0, "problem": 1, "followup": 2, "acute": 3, "vaccine": 4}


class _PatientStory:
    """One synthetic patient: plans a life at the practice, then writes it as FHIR resources."""

    def __init__(self, rng: random.Random, today: dt.date, mrn: str) -> None:
        self.rng = rng
        self.today = today
        self.mrn = mrn
        self.entries: list[dict] = []
        self.problems: list[_Problem] = []
        self.active_meds: dict[str, _Course] = {}
        self.avoid: set[str] = set()
        self.doses: dict[str, int] = {}
        self.last_dose: dict[str, dt.date] = {}
        self.a1c_cache: dict[dt.date, float] = {}
        self.last_td: dt.date | None = None
        self.zoster_second: dt.date | None = None  # when the second recombinant dose is due

    # ------------------------------------------------------------------ bundle plumbing

    def _add(self, resource: dict) -> str:
        bits = self.rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET  # version 4, RFC 4122 variant
        h = f"{bits:032x}"
        full_url = f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        return full_url

    def bundle(self) -> dict:
        self._demographics()
        self._plan_problems()
        visits = self._plan_visits()
        self.patient_ref = self._add(self._patient())
        self.subject = {"reference": self.patient_ref, "display": self.display_name}
        self._coverage()
        for n, visit in enumerate(visits):
            self._visit(n, visit)
        for problem in self.problems:
            ended = problem.end is not None and problem.end <= self.today
            if ended and problem.recorded and not problem.closed:
                self._close(problem)
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}

    # ------------------------------------------------------------------ demographics

    def _demographics(self) -> None:
        r = self.rng
        lo, hi, _ = _weighted(r, list(_AGE_BANDS), [b[2] for b in _AGE_BANDS])
        age = r.uniform(lo, hi)
        self.birth = self.today - dt.timedelta(days=max(10, int(age * YEAR_DAYS)))
        self.age_now = _years(self.birth, self.today)
        self.sex = "female" if r.random() < 0.52 else "male"
        roll = r.random()
        self.gender = "other" if roll < 0.004 else "unknown" if roll < 0.006 else self.sex
        female = self.sex == "female"

        race = _weighted(r, list(people.RACES), [x[2] for x in people.RACES])
        if race[0] == "multi":
            single = list(people.RACES[:5])
            shares = [x[2] for x in single]
            first = second = _weighted(r, single, shares)
            while second == first:
                second = _weighted(r, single, shares)
            self.races = [first[:2], second[:2]]
            self.race_text = f"{first[1]} and {second[1]}"
        else:
            self.races = [race[:2]]
            self.race_text = race[1]
        roll = r.random()
        self.hispanic: bool | None = True if roll < 0.08 else None if roll < 0.1 else False
        asian = any(code == "2028-9" for code, _ in self.races)

        if self.hispanic and r.random() < 0.85:
            family = r.choice(people.HISPANIC_SURNAMES)
        elif asian and r.random() < 0.85:
            family = r.choice(people.ASIAN_SURNAMES)
        else:
            family = r.choice(people.SURNAMES)
        general = people.FEMALE_GIVEN if female else people.MALE_GIVEN
        if self.hispanic and r.random() < 0.7:
            pool = people.HISPANIC_FEMALE_GIVEN if female else people.HISPANIC_MALE_GIVEN
        elif asian and r.random() < 0.6:
            pool = people.ASIAN_FEMALE_GIVEN if female else people.ASIAN_MALE_GIVEN
        else:
            pool = general
        given = r.choice(pool)
        self.family, self.given = family, given
        self.display_name = f"{given} {family}"
        official: dict = {"use": "official", "family": family, "given": [given]}
        if r.random() < 0.6:
            middle = r.choice(general)
            if middle != given:
                official["given"].append(middle)
        if not female and self.age_now > 16 and r.random() < 0.03:
            official["suffix"] = ["Jr."]
        self.names = [official]
        nick = people.NICKNAMES.get(given)
        if nick and r.random() < 0.35:
            self.names.append({"use": "usual", "given": [nick]})

        if self.hispanic and r.random() < (0.45 if self.age_now >= 18 else 0.15):
            self.language = "es"
        elif family in _VIETNAMESE and r.random() < 0.35:
            self.language = "vi"
        elif family in _CHINESE and r.random() < 0.3:
            self.language = "zh"
        elif family in _SOMALI and r.random() < 0.4:
            self.language = "so"
        else:
            self.language = "en-US"

        self.marital = ""
        if self.age_now >= 18:
            if self.age_now < 30:
                weights = (0.28, 0.7, 0.02, 0.0)
            elif self.age_now < 65:
                weights = (0.55, 0.25, 0.18, 0.02)
            else:
                weights = (0.55, 0.08, 0.12, 0.25)
            self.marital = _weighted(r, ["M", "S", "D", "W"], list(weights))
            if female and self.marital != "S" and r.random() < 0.4:
                self.names.append(
                    {"use": "maiden", "family": r.choice(people.SURNAMES), "given": [given]}
                )

        city, postal = r.choice(people.CITIES)
        street = f"{r.choice(people.STREETS)} {r.choice(people.STREET_KINDS)}"
        line = [f"{r.randint(100, 9899)} {street}"]
        if r.random() < 0.2:
            line.append(f"Apt {r.randint(1, 24)}{r.choice('ABCD')}")
        self.address = {
            "use": "home",
            "type": "both",
            "line": line,
            "city": city,
            "state": "OH",
            "postalCode": postal,
            "country": "US",
        }
        self.phone = f"({r.choice(people.AREA_CODES)}) 555-01{r.randint(0, 99):02d}"
        handle = "".join(c for c in f"{given}.{family}".lower() if c.isalnum() or c == ".")
        self.email = f"{handle}{r.randint(1, 99)}@example.com"

        # Body and habits.
        self.height_z = r.gauss(0, 1)
        self.weight_z = r.gauss(0.3, 1)
        self.bp_z = r.gauss(0, 1)
        self.bmi_base = 21.5 * math.exp(0.22 * self.weight_z)
        self.smoke_start: float | None = None
        self.smoke_quit: float | None = None
        if self.age_now >= 15:
            roll = r.random()
            if roll < 0.38:
                self.smoke_start = r.uniform(14, min(24, self.age_now))
                if roll < 0.22 and self.age_now - self.smoke_start > 2:
                    self.smoke_quit = r.uniform(self.smoke_start + 1, self.age_now - 0.5)
        self.flu_keen = _weighted(r, [0.2, 1.0, 1.6], [0.3, 0.45, 0.25])
        self.vaccinated_child = r.random() > 0.05

        # Clinician and history at the practice.
        child = self.age_now < 18
        pool = [c for c in CLINICIANS if (c.sees_children if child else c.sees_adults)]
        weights = [2.0 if c.suffix in ("MD", "DO") else 1.0 for c in pool]
        if child:
            weights = [
                w * (1.5 if c.taxonomy == "208000000X" else 1.0)
                for c, w in zip(pool, weights, strict=True)
            ]
        self.pcp: Clinician = _weighted(r, pool, weights)
        self.adult_pool = [c for c in CLINICIANS if c.sees_adults]
        # Who saw them as a child, if they were one while at the practice.
        kids = [c for c in CLINICIANS if c.sees_children]
        self.child_pcp = self.pcp if self.pcp.sees_children else r.choice(kids)

        roll = r.random()
        if self.age_now >= 12 and roll < 0.36:
            years = r.uniform(11.2, min(24.0, self.age_now - 0.5))
        elif self.age_now < 12 and roll < 0.6:
            years = self.age_now  # born into the practice
        else:
            years = r.uniform(0.2, min(9.5, self.age_now))
        history = dt.timedelta(days=int(years * YEAR_DAYS))
        self.start = max(self.birth + 4 * DAY, self.today - history)  # birth is 10+ days ago

    # ------------------------------------------------------------------ body

    def _height(self, age: float) -> float:
        if age < 18:
            return _interp(_HEIGHT[self.sex], age) * (1 + 0.04 * self.height_z)
        adult = _HEIGHT[self.sex][-1][1] * (1 + 0.04 * self.height_z)
        return adult - 0.12 * max(0.0, age - 60)

    def _adult_bmi(self, age: float) -> float:
        return self.bmi_base + 0.11 * (min(age, 55) - 18) - 0.08 * max(0.0, age - 75)

    def _weight(self, age: float, height: float) -> float:
        child = _interp(_WEIGHT[self.sex], min(age, 18)) * math.exp(0.15 * self.weight_z)
        if age < 17:
            return child
        adult = self._adult_bmi(max(age, 18)) * (height / 100) ** 2
        if age > 19:
            return adult
        t = (age - 17) / 2
        return child * (1 - t) + adult * t

    def _smoking(self, age: float) -> str:
        if self.smoke_start is None or age < self.smoke_start:
            return "never"
        if self.smoke_quit is not None and age >= self.smoke_quit:
            return "former"
        return "current"

    # ------------------------------------------------------------------ problems

    def _plan_problems(self) -> None:
        r = self.rng
        female = self.sex == "female"
        bmi_now = self._adult_bmi(self.age_now) if self.age_now >= 18 else 22.0
        smoker = self.smoke_start is not None
        by_key: dict[str, _Problem] = {}
        for spec in CHRONIC:
            if spec.key in ("obesity", "prediabetes"):
                continue
            p = _interp(spec.prevalence, self.age_now) * (spec.female if female else spec.male)
            if spec.key in ("diabetes", "gout"):
                p *= _clamp(1 + 0.12 * (bmi_now - 27), 0.3, 2.5)
            elif spec.key == "hypertension":
                p *= _clamp(1 + 0.05 * (bmi_now - 27), 0.5, 1.8)
            elif spec.key == "copd":
                p *= 2.5 if smoker else 0.2
            elif spec.key == "cad":
                p *= 1.5 if smoker else 0.9
            if p <= 0 or r.random() >= p:
                continue
            onset_age = self._onset_age(spec)
            if onset_age is None:
                continue
            problem = _Problem(spec, _plus_years(self.birth, onset_age))
            if problem.onset >= self.today:
                continue
            self._plan_end(problem, onset_age)
            by_key[spec.key] = problem
        prediabetes = CHRONIC_BY_KEY["prediabetes"]
        diabetes = by_key.get("diabetes")
        if diabetes is not None:
            dm_age = _years(self.birth, diabetes.onset)
            if dm_age > 23 and r.random() < 0.7:
                pre_age = r.uniform(max(20.0, dm_age - 6), dm_age - 1)
                by_key["prediabetes"] = _Problem(
                    prediabetes,
                    _plus_years(self.birth, pre_age),
                    end=diabetes.onset,
                    end_status="inactive",
                )
        elif self.age_now >= 20:
            p = _interp(prediabetes.prevalence, self.age_now)
            if r.random() < p * _clamp(1 + 0.1 * (bmi_now - 27), 0.4, 2.0):
                onset_age = self._onset_age(prediabetes)
                if onset_age is not None:
                    problem = _Problem(prediabetes, _plus_years(self.birth, onset_age))
                    if r.random() < 0.2:
                        problem.end = _plus_years(problem.onset, r.uniform(2, 5))
                        problem.end_status = "resolved"
                    by_key["prediabetes"] = problem
        if self.age_now >= 18 and bmi_now >= 30:
            onset_age = 18.0
            while self._adult_bmi(onset_age) < 30 and onset_age < self.age_now:
                onset_age += 0.25
            by_key["obesity"] = _Problem(
                CHRONIC_BY_KEY["obesity"], _plus_years(self.birth, onset_age)
            )
        self.problems = [p for p in by_key.values() if p.onset < self.today]
        self.by_key = {p.spec.key: p for p in self.problems}

    def _onset_age(self, spec: Chronic) -> float | None:
        r = self.rng
        if spec.onset:
            lo, hi = spec.onset[0], min(spec.onset[1], self.age_now - 0.05)
            return r.uniform(lo, hi) if hi > lo else None
        lo = spec.prevalence[0][0]
        if self.age_now <= lo:
            return None
        top = _interp(spec.prevalence, self.age_now) or 1.0
        age = r.uniform(lo, self.age_now)
        for _ in range(12):  # incidence follows the prevalence curve
            if r.random() * top <= _interp(spec.prevalence, age):
                break
            age = r.uniform(lo, self.age_now)
        return age

    def _plan_end(self, problem: _Problem, onset_age: float) -> None:
        r = self.rng
        key = problem.spec.key
        end_age = None
        if key == "atopic_dermatitis" and r.random() < 0.7:
            end_age, problem.end_status = r.uniform(max(onset_age + 1, 4), 12), "resolved"
        elif key == "depression" and r.random() < 0.4:
            end_age, problem.end_status = onset_age + r.uniform(1, 5), "remission"
        elif key == "anemia" and r.random() < 0.35:
            end_age, problem.end_status = onset_age + r.uniform(0.5, 2), "resolved"
        elif key == "asthma" and onset_age < 12 and r.random() < 0.4:
            end_age, problem.end_status = r.uniform(14, 20), "inactive"
        if end_age is not None and end_age < self.age_now:
            problem.end = _plus_years(self.birth, end_age)

    # ------------------------------------------------------------------ visit plan

    def _plan_visits(self) -> list[_Visit]:
        r = self.rng
        start, today, birth = self.start, self.today, self.birth
        visits = [_Visit(start, "well")]
        for d in _INFANT_DAYS:
            day = birth + dt.timedelta(days=d + r.randint(-3, 7))
            if start + 14 * DAY < day <= today:
                visits.append(_Visit(day, "well"))
        chronic_patient = any(p.spec.visits for p in self.problems)
        for k in range(3, int(self.age_now) + 1):
            day = _plus_years(birth, k) + dt.timedelta(days=r.randint(-20, 60))
            if not start + 90 * DAY < day <= today:
                continue
            p = 0.85 if k < 18 else 0.6 if k < 50 else 0.75 if k < 65 else 0.85
            if r.random() < p + (0.1 if chronic_patient else 0.0):
                visits.append(_Visit(day, "well"))
        for problem in self.problems:
            if problem.spec.dedicated and start < problem.onset <= today:
                day = min(today, problem.onset + dt.timedelta(days=r.randint(0, 10)))
                visits.append(_Visit(day, "problem", problem.spec.key))
        for year in range(start.year, today.year + 1):
            jan, dec = dt.date(year, 1, 1), dt.date(year, 12, 31)
            managed = [
                p
                for p in self.problems
                if p.spec.visits and p.onset < dec and (p.end is None or p.end > jan)
            ]
            if managed:
                n = max(p.spec.visits for p in managed)
                for i in range(n):
                    day = jan + dt.timedelta(days=int((i + r.uniform(0.15, 0.85)) * 365 / n))
                    if not start + 20 * DAY < day <= today:
                        continue
                    if any(p.active(day) and p.onset + 30 * DAY <= day for p in managed):
                        visits.append(_Visit(day, "followup"))
            lo, hi = max(start, jan), min(today, dec)
            if lo <= hi:
                rate = _sick_visits_a_year(_years(birth, lo))
                for _ in range(_poisson(r, rate * ((hi - lo).days + 1) / 365)):
                    day = lo + dt.timedelta(days=r.randint(0, (hi - lo).days))
                    spec = self._pick_acute(day)
                    if spec is not None:
                        visits.append(_Visit(day, "acute", spec.key))
            self._plan_flu(visits, year)
        self._plan_covid(visits)
        visits = self._settle(visits)
        if visits[-1].day < today - 365 * DAY:
            day = today - dt.timedelta(days=r.randint(7, 300))
            visits = self._settle([*visits, _Visit(max(day, start + DAY), "well")])
        return visits

    def _pick_acute(self, day: dt.date) -> Acute | None:
        age = _years(self.birth, day)
        iso = day.isoformat()
        options: list[Acute] = []
        weights: list[float] = []
        for spec in ACUTE:
            if not spec.ages[0] <= age <= spec.ages[1] or (spec.since and iso < spec.since):
                continue
            w = spec.weight_child if age < 18 else spec.weight_adult
            w *= spec.female if self.sex == "female" else spec.male
            if spec.months:
                w *= 2.5 if day.month in spec.months else 0.15 if spec.key == "influenza" else 0.5
            if w > 0:
                options.append(spec)
                weights.append(w)
        return _weighted(self.rng, options, weights) if options else None

    def _plan_flu(self, visits: list[_Visit], year: int) -> None:
        r = self.rng
        lo, hi = max(self.start, dt.date(year, 9, 1)), min(self.today, dt.date(year, 12, 31))
        if lo > hi:
            return
        age = _years(self.birth, lo)
        if age < 0.5:
            return
        p = 0.6 if age < 2 else 0.5 if age < 18 else 0.35 if age < 50 else 0.5 if age < 65 else 0.7
        if r.random() >= min(0.95, p * self.flu_keen):
            return
        for v in visits:
            if lo <= v.day <= hi and v.kind in ("well", "followup", "problem"):
                v.flu = True
                return
        first = max(lo, dt.date(year, 9, 20))
        last = min(hi, dt.date(year, 11, 30))
        if first <= last:
            day = first + dt.timedelta(days=r.randint(0, (last - first).days))
            visits.append(_Visit(day, "vaccine", flu=True))

    def _plan_covid(self, visits: list[_Visit]) -> None:
        r = self.rng
        spring = dt.date(2021, 3, 1)
        if self.today < spring or _years(self.birth, spring) < 12:
            return
        old = _years(self.birth, spring) >= 65
        if r.random() >= (0.8 if old else 0.55):
            return
        cvx = "208" if r.random() < 0.6 else "207"
        first = spring + dt.timedelta(days=r.randint(0, 30) if old else r.randint(30, 110))
        doses = [first, first + dt.timedelta(days=21 if cvx == "208" else 28)]
        if r.random() < 0.55:
            doses.append(dt.date(2021, 10, 15) + dt.timedelta(days=r.randint(0, 120)))
        for day in doses:
            if self.start < day <= self.today:
                visits.append(_Visit(day, "vaccine", covid=cvx))

    def _settle(self, visits: list[_Visit]) -> list[_Visit]:
        """Move visits off weekends and apart (one a day); drop any pushed past today."""
        visits.sort(key=lambda v: (v.day, _KIND_ORDER[v.kind]))
        used: set[dt.date] = set()
        out: list[_Visit] = []
        for v in visits:
            day = v.day
            while day.weekday() >= 5 or day in used:
                day += DAY
            if day > self.today and out:
                continue
            v.day = day
            used.add(day)
            out.append(v)
        return out

    # ------------------------------------------------------------------ patient and coverage

    def _patient(self) -> dict:
        race_ext = [
            {"url": "ombCategory", "valueCoding": _coding(OMB, code, display)}
            if code != "ASKU"
            else {"url": "ombCategory", "valueCoding": _coding(NULL_FLAVOR, code, display)}
            for code, display in self.races
        ]
        race_ext.append({"url": "text", "valueString": self.race_text})
        if self.hispanic is None:
            eth = _coding(NULL_FLAVOR, "ASKU", "Asked but no answer")
        else:
            eth = _coding(OMB, *(people.HISPANIC if self.hispanic else people.NOT_HISPANIC))
        telecom = [
            {
                "system": "phone",
                "value": self.phone,
                "use": "mobile" if self.age_now >= 13 else "home",
            }
        ]
        if self.age_now >= 13 and self.rng.random() < 0.9:
            telecom.append({"system": "email", "value": self.email, "use": "home"})
        language = people.LANGUAGES[self.language]
        patient: dict = {
            "resourceType": "Patient",
            "meta": {"profile": [US_CORE + "us-core-patient"]},
            "extension": [
                {"url": US_CORE + "us-core-race", "extension": race_ext},
                {
                    "url": US_CORE + "us-core-ethnicity",
                    "extension": [
                        {"url": "ombCategory", "valueCoding": eth},
                        {"url": "text", "valueString": eth["display"]},
                    ],
                },
                {
                    "url": US_CORE + "us-core-birthsex",
                    "valueCode": "F" if self.sex == "female" else "M",
                },
            ],
            "identifier": [
                {
                    "use": "usual",
                    "type": _cc(THO + "v2-0203", "MR", "Medical record number", "MRN"),
                    "system": MRN_SYSTEM,
                    "value": self.mrn,
                }
            ],
            "active": True,
            "name": self.names,
            "telecom": telecom,
            "gender": self.gender,
            "birthDate": self.birth.isoformat(),
            "address": [self.address],
        }
        if self.marital:
            patient["maritalStatus"] = _cc(
                THO + "v3-MaritalStatus", self.marital, people.MARITAL[self.marital]
            )
        contact = self._contact()
        if contact:
            patient["contact"] = [contact]
        patient["communication"] = [
            {
                "language": {
                    "coding": [_coding("urn:ietf:bcp:47", self.language, language)],
                    "text": language,
                },
                "preferred": True,
            }
        ]
        patient["generalPractitioner"] = [{"reference": self.pcp.ref, "display": self.pcp.display}]
        patient["managingOrganization"] = {"reference": PRACTICE_REF, "display": PRACTICE_NAME}
        return patient

    def _contact(self) -> dict | None:
        r = self.rng
        if self.age_now < 18:
            mother = r.random() < 0.7
            role = ("MTH", "mother") if mother else ("FTH", "father")
            pool = people.FEMALE_GIVEN if mother else people.MALE_GIVEN
            parent = r.choice(pool)
            email = f"{parent.lower()}.{self.email.split('.', 1)[1]}"
            return {
                "relationship": [
                    _cc(THO + "v2-0131", "N", "Next-of-Kin"),
                    _cc(THO + "v3-RoleCode", *role),
                ],
                "name": {"family": self.family, "given": [parent]},
                "telecom": [
                    {"system": "phone", "value": self.phone, "use": "mobile"},
                    {"system": "email", "value": email, "use": "home"},
                ],
            }
        if r.random() < 0.5:
            if self.marital == "M":
                role = ("SPS", "spouse")
            else:
                role = _weighted(
                    r,
                    [("FRND", "unrelated friend"), ("SIB", "sibling"), ("CHILD", "child")],
                    [1, 1, 1],
                )
            female = r.random() < 0.5
            given = r.choice(people.FEMALE_GIVEN if female else people.MALE_GIVEN)
            family = self.family if role[0] != "FRND" else r.choice(people.SURNAMES)
            return {
                "relationship": [
                    _cc(THO + "v2-0131", "C", "Emergency Contact"),
                    _cc(THO + "v3-RoleCode", *role),
                ],
                "name": {"family": family, "given": [given]},
                "telecom": [
                    {
                        "system": "phone",
                        "value": f"({r.choice(people.AREA_CODES)}) 555-01{r.randint(0, 99):02d}",
                        "use": "mobile",
                    }
                ],
            }
        return None

    def _coverage(self) -> None:
        r = self.rng
        medicare, medicaid = PAYERS[0], PAYERS[1]
        private = [p for p in PAYERS if p.kind == "private"]
        turned_65 = _plus_years(self.birth, 65)
        if self.age_now >= 65 and r.random() < 0.88:
            if turned_65 > self.start and r.random() < 0.8:
                self._add(self._coverage_resource(r.choice(private), self.start, turned_65 - DAY))
            self._add(self._coverage_resource(medicare, max(self.start, turned_65), None))
            return
        if self.age_now < 18:
            payer = medicaid if r.random() < 0.4 else r.choice(private)
        else:
            payer = medicaid if r.random() < 0.18 else r.choice(private)
        self._add(self._coverage_resource(payer, self.start, None))

    def _coverage_resource(self, payer: Payer, start: dt.date, end: dt.date | None) -> dict:
        r = self.rng
        relationship = ("self", "Self")
        if payer.kind == "medicare":
            letters = "ACDEFGHJKMNPQRTUVWXY"
            alnum = letters + "0123456789"
            member = (
                f"{r.randint(1, 9)}{r.choice(letters)}{r.choice(alnum)}{r.randint(0, 9)}"
                f"{r.choice(letters)}{r.choice(alnum)}{r.randint(0, 9)}{r.choice(letters)}"
                f"{r.choice(letters)}{r.randint(0, 9)}{r.randint(0, 9)}"
            )
            subscriber = member
        elif payer.kind == "medicaid":
            member = subscriber = f"{r.randrange(10**11, 10**12)}"
        else:
            prefix = "ACM" if payer.id.endswith("3") else "BKM"
            subscriber = f"{prefix}{r.randrange(10**8, 10**9)}"
            member = subscriber
            if self.age_now < 18:
                relationship = ("child", "Child")
            elif self.marital == "M" and r.random() < 0.3:
                relationship = ("spouse", "Spouse")
            if relationship[0] != "self":
                member = f"{subscriber}-0{r.randint(2, 5)}"
        period: dict = {"start": start.isoformat()}
        if end is not None:
            period["end"] = end.isoformat()
        classes = []
        if payer.kind == "private":
            employer = r.choice(_EMPLOYERS)
            classes.append(
                {
                    "type": _cc(THO + "coverage-class", "group", "Group"),
                    "value": f"GRP{r.randrange(10000, 99999)}",
                    "name": f"{employer} employee group",
                }
            )
        classes.append(
            {
                "type": _cc(THO + "coverage-class", "plan", "Plan"),
                "value": f"{payer.id.rsplit('-', 1)[1]}-{r.randrange(100, 999)}",
                "name": payer.plan,
            }
        )
        return {
            "resourceType": "Coverage",
            "meta": {"profile": [US_CORE + "us-core-coverage"]},
            "identifier": [
                {
                    "type": _cc(THO + "v2-0203", "MB", "Member Number"),
                    "system": payer.member_system,
                    "value": member,
                }
            ],
            "status": "active",
            "type": _cc(SOPT, payer.sopt, payer.sopt_display),
            "subscriberId": subscriber,
            "beneficiary": dict(self.subject),
            "relationship": _cc(THO + "subscriber-relationship", *relationship),
            "period": period,
            "payor": [{"reference": payer.ref, "display": payer.name}],
            "class": classes,
        }

    # ------------------------------------------------------------------ one visit

    def _visit(self, n: int, v: _Visit) -> None:
        r = self.rng
        day = v.day
        age = _years(self.birth, day)
        first = n == 0
        usual = self.child_pcp if age < 18 else self.pcp
        if first or r.random() < 0.72:
            doc = usual
        else:
            doc = r.choice(
                [c for c in CLINICIANS if c.sees_children] if age < 18 else self.adult_pool
            )
        minute = 480 + 15 * r.randint(0, 34)
        length = r.choice((30, 40, 45)) if v.kind == "well" else r.choice((15, 20, 25, 30))
        begin, finish = _stamp(day, minute), _stamp(day, minute + length)
        acute = next((a for a in ACUTE if a.key == v.detail), None) if v.kind == "acute" else None

        # What gets recorded today, decided before the encounter so it can state its reasons.
        new_problems = [
            p
            for p in self.problems
            if p.recorded is None
            and not p.closed
            and p.active(day)
            and (
                first
                or (v.kind == "problem" and p.spec.key == v.detail)
                or (not p.spec.dedicated and v.kind in ("well", "followup"))
            )
        ]
        if first:  # anything that ended before the patient came to us is not on record
            for p in self.problems:
                if p.end is not None and p.end <= day:
                    p.closed = True
        reasons: list[tuple[str, str]] = []
        if acute is not None:
            reasons.append((acute.snomed, acute.snomed_display))
        elif v.kind == "problem":
            reasons.extend((p.spec.snomed, p.spec.snomed_display) for p in new_problems)
        elif v.kind == "followup":
            reasons.extend(
                (p.spec.snomed, p.spec.snomed_display)
                for p in self.problems
                if p.spec.visits and p.known(day)
            )
        enc_ref = self._add(self._encounter(v, first, age, doc, begin, finish, reasons[:3]))
        self.enc = {"reference": enc_ref}
        self.doc = {"reference": doc.ref, "display": doc.display}

        if v.kind != "vaccine":
            self._vitals(day, minute + 5, age, acute, full=v.kind == "well")
        if first:
            self._allergies(begin, age)
            self._historical_immunizations(day, begin)

        panels: list[str] = []
        for p in new_problems:
            self._record(p, day, begin, age)
            panels.extend(x for x in p.spec.confirm if x not in panels)
        for p in self.problems:
            if p.recorded and not p.closed and p.end is not None and p.end <= day:
                self._close(p)
        if acute is not None:
            self._acute(acute, day, begin, age)
        if v.kind in ("well", "followup", "problem"):
            self._renew(day, begin)
        for panel in self._lab_orders(v, day, age):
            if panel not in panels:
                panels.append(panel)
        if panels:
            self._labs(panels, day, minute + length - 5)
        self._immunize(v, day, minute + length - 10, age)
        if v.kind == "well" and age >= 13:
            self._smoking_status(day, begin, age)

    def _encounter(
        self,
        v: _Visit,
        first: bool,
        age: float,
        doc: Clinician,
        begin: str,
        finish: str,
        reasons: list[tuple[str, str]],
    ) -> dict:
        r = self.rng
        if v.kind == "well":
            band = _preventive_band(age)
            cpt = f"99{38 if first else 39}{band}"
            kind = "well_child" if age < 18 else "wellness"
        elif v.kind == "vaccine":
            cpt, kind = "", "vaccine"
        elif v.kind == "acute":
            cpt, kind = ("99203" if first else r.choice(("99212", "99213", "99213"))), "acute"
        elif v.kind == "problem":
            cpt, kind = ("99204" if first else "99214"), "problem"
        else:
            cpt, kind = ("99214" if len(reasons) > 1 else "99213"), "followup"
        sct, sct_display, text = VISIT_TYPES[kind]
        codings = [_coding(CPT, cpt, CPT_CODES[cpt])] if cpt else []
        codings.append(_coding(SNOMED, sct, sct_display))
        enc: dict = {
            "resourceType": "Encounter",
            "meta": {"profile": [US_CORE + "us-core-encounter"]},
            "status": "finished",
            "class": _coding(THO + "v3-ActCode", "AMB", "ambulatory"),
            "type": [{"coding": codings, "text": text}],
            "subject": dict(self.subject),
            "participant": [
                {
                    "type": [_cc(THO + "v3-ParticipationType", "PPRF", "primary performer")],
                    "period": {"start": begin, "end": finish},
                    "individual": {"reference": doc.ref, "display": doc.display},
                }
            ],
            "period": {"start": begin, "end": finish},
        }
        if reasons:
            enc["reasonCode"] = [_cc(SNOMED, code, display) for code, display in reasons]
        place = LOCATIONS[doc.location - 1]
        enc["location"] = [{"location": {"reference": place.ref, "display": place.name}}]
        enc["serviceProvider"] = {"reference": PRACTICE_REF, "display": PRACTICE_NAME}
        return enc

    # ------------------------------------------------------------------ vital signs

    def _vitals(
        self, day: dt.date, minute: int, age: float, acute: Acute | None, full: bool
    ) -> None:
        r = self.rng
        when = _stamp(day, minute)
        height = self._height(age)
        weight = self._weight(age, height) * (1 + r.gauss(0, 0.012))
        bmi = weight / (height / 100) ** 2
        fever = acute is not None and r.random() < acute.fever
        htn = self.by_key.get("hypertension")
        copd = self.by_key.get("copd")
        afib = self.by_key.get("afib")
        beta_blocked = "metoprolol100" in self.active_meds
        if age >= 3:
            if age >= 18:
                sys = 108 + 0.45 * (age - 18) + (5 if self.sex == "male" else 0) + 6 * self.bp_z
                sys += 0.5 * (bmi - 25)
                if htn is not None and htn.active(day):
                    sys += 6 if htn.treated(day) else 22
                sys += r.gauss(0, 7)
                dia = 0.5 * sys + 13 + r.gauss(0, 5) - 0.1 * max(0.0, age - 60)
            else:
                sys = 92 + 1.5 * age + r.gauss(0, 6)
                dia = 52 + 1.0 * age + r.gauss(0, 5)
            sys = round(_clamp(sys, 82, 210))
            dia = round(_clamp(dia, 45, min(125, sys - 18)))
            self._vital_bp(when, sys, dia)
        if age < 1:
            hr, rr = r.gauss(130, 10), r.gauss(36, 4)
        elif age < 3:
            hr, rr = r.gauss(115, 9), r.gauss(28, 3)
        elif age < 6:
            hr, rr = r.gauss(100, 8), r.gauss(24, 2)
        elif age < 12:
            hr, rr = r.gauss(88, 8), r.gauss(20, 2)
        elif age < 18:
            hr, rr = r.gauss(78, 8), r.gauss(17, 2)
        else:
            hr, rr = r.gauss(72, 9), r.gauss(16, 1.5)
        if afib is not None and afib.active(day):
            hr += 6 if afib.treated(day) else 22
        if beta_blocked:
            hr -= 8
        temp = r.gauss(36.8, 0.22)
        spo2 = r.gauss(97.8, 0.8)
        if fever:
            temp, hr, rr = r.uniform(38.0, 39.4), hr + 12, rr + 2
        if copd is not None and copd.active(day):
            spo2, rr = r.gauss(93.5, 1.4), rr + 3
        if acute is not None and acute.respiratory:
            spo2 -= 1
        self._vital("heart_rate", when, round(_clamp(hr, 45, 190)))
        self._vital("respiratory_rate", when, round(_clamp(rr, 10, 60)))
        self._vital("temperature", when, round(_clamp(temp, 35.8, 40.5), 1))
        if age >= 1 or (acute is not None and acute.respiratory):
            self._vital("spo2", when, round(_clamp(spo2, 86, 100)))
        self._vital("weight", when, round(weight, 2 if age < 2 else 1))
        if full or age < 2:
            self._vital("height", when, round(height, 1))
            if age >= 2:
                self._vital("bmi", when, round(bmi, 1))

    def _vital(self, key: str, when: str, value: float) -> None:
        spec = VITALS[key]
        codings = [_coding(LOINC, spec.loinc, spec.display)]
        if key == "spo2":
            codings.insert(0, _coding(LOINC, *O2_SAT))
        self._add(
            {
                "resourceType": "Observation",
                "meta": {"profile": [US_CORE + spec.profile]},
                "status": "final",
                "category": [_category("vital-signs", "Vital Signs")],
                "code": {"coding": codings, "text": spec.text},
                "subject": dict(self.subject),
                "encounter": dict(self.enc),
                "effectiveDateTime": when,
                "valueQuantity": _quantity(value, spec.unit, spec.ucum),
            }
        )

    def _vital_bp(self, when: str, sys: int, dia: int) -> None:
        spec = VITALS["bp"]
        self._add(
            {
                "resourceType": "Observation",
                "meta": {"profile": [US_CORE + spec.profile]},
                "status": "final",
                "category": [_category("vital-signs", "Vital Signs")],
                "code": {"coding": [_coding(LOINC, spec.loinc, spec.display)], "text": spec.text},
                "subject": dict(self.subject),
                "encounter": dict(self.enc),
                "effectiveDateTime": when,
                "component": [
                    {
                        "code": {"coding": [_coding(LOINC, *SYSTOLIC)], "text": "Systolic"},
                        "valueQuantity": _quantity(sys, spec.unit, spec.ucum),
                    },
                    {
                        "code": {"coding": [_coding(LOINC, *DIASTOLIC)], "text": "Diastolic"},
                        "valueQuantity": _quantity(dia, spec.unit, spec.ucum),
                    },
                ],
            }
        )

    def _smoking_status(self, day: dt.date, when: str, age: float) -> None:
        code, display = SMOKING[self._smoking(age)]
        self._add(
            {
                "resourceType": "Observation",
                "meta": {"profile": [US_CORE + "us-core-smokingstatus"]},
                "status": "final",
                "category": [_category("social-history", "Social History")],
                "code": _cc(LOINC, "72166-2", "Tobacco smoking status", "Tobacco smoking status"),
                "subject": dict(self.subject),
                "encounter": dict(self.enc),
                "effectiveDateTime": when,
                "valueCodeableConcept": _cc(SNOMED, code, display),
            }
        )

    # ------------------------------------------------------------------ problems and medicines

    def _record(self, p: _Problem, day: dt.date, when: str, age: float) -> None:
        spec = p.spec
        p.recorded = day
        p.resource = {
            "resourceType": "Condition",
            "meta": {"profile": [US_CORE + "us-core-condition-problems-health-concerns"]},
            "clinicalStatus": _cc(THO + "condition-clinical", "active", "Active"),
            "verificationStatus": _cc(THO + "condition-ver-status", "confirmed", "Confirmed"),
            "category": [_cc(THO + "condition-category", "problem-list-item", "Problem List Item")],
            "code": {
                "coding": [
                    _coding(ICD10CM, spec.icd10, spec.icd10_display),
                    _coding(SNOMED, spec.snomed, spec.snomed_display),
                ],
                "text": spec.text,
            },
            "subject": dict(self.subject),
            "encounter": dict(self.enc),
            "onsetDateTime": p.onset.isoformat(),
            "recordedDate": when,
            "recorder": dict(self.doc),
        }
        p.ref = self._add(p.resource)
        if not spec.meds:
            return
        for key in self.rng.choice(spec.meds):
            key = self._substitute(key, age)
            if key and key not in self.active_meds:
                course = _Course(MEDS[key], {}, day, p.ref)
                course.request = self._prescribe(course.med, day, when, p.ref, chronic=True)
                p.courses.append(course)
                self.active_meds[key] = course

    def _substitute(self, key: str, age: float) -> str:
        """The medicine actually prescribed, given age and allergies ('' for none)."""
        if key == "loratadine" and age < 6:
            key = "loratadine_chewable" if age >= 2 else ""
        if key == "penicillin_v500" and age < 12:
            key = "amoxicillin250"
        if key == "naproxen500" and age < 12:
            key = "ibuprofen200"
        if key in PENICILLINS and PENICILLINS & self.avoid:
            key = "cefuroxime250"
        if key in NSAIDS and NSAIDS & self.avoid:
            key = "" if key == "aspirin81" else "acetaminophen325"
        return "" if key in self.avoid else key

    def _prescribe(self, med: Med, day: dt.date, when: str, reason: str, chronic: bool) -> dict:
        route_code, route_display = ROUTES[med.route]
        dose: dict = {
            "sequence": 1,
            "text": med.sig,
            "timing": {
                "repeat": {
                    "frequency": med.frequency,
                    "period": med.period,
                    "periodUnit": med.period_unit,
                }
            },
        }
        if med.prn:
            dose["asNeededCodeableConcept"] = {"text": med.prn_reason}
        dose["route"] = _cc(SNOMED, route_code, route_display)
        dose["doseAndRate"] = [
            {
                "type": _cc(THO + "dose-rate-type", "ordered", "Ordered"),
                "doseQuantity": _quantity(med.dose, med.form_display, med.form),
            }
        ]
        finished = day + dt.timedelta(days=med.days)
        status = "active" if chronic or finished > self.today else "completed"
        request = {
            "resourceType": "MedicationRequest",
            "meta": {"profile": [US_CORE + "us-core-medicationrequest"]},
            "status": status,
            "intent": "order",
            "category": [_cc(THO + "medicationrequest-category", "community", "Community")],
            "reportedBoolean": False,
            "medicationCodeableConcept": {
                "coding": [_coding(RXNORM, med.rxnorm, med.display)],
                "text": med.display,
            },
            "subject": dict(self.subject),
            "encounter": dict(self.enc),
            "authoredOn": when,
            "requester": dict(self.doc),
            "reasonReference": [{"reference": reason}],
            "dosageInstruction": [dose],
            "dispenseRequest": {
                "validityPeriod": {
                    "start": day.isoformat(),
                    "end": (day + dt.timedelta(days=365 if chronic else 30)).isoformat(),
                },
                "numberOfRepeatsAllowed": 3 if chronic else 0,
                "quantity": _quantity(med.supply, med.supply_unit_display, med.supply_unit),
                "expectedSupplyDuration": _quantity(med.days, "days", "d"),
            },
        }
        self._add(request)
        return request

    def _renew(self, day: dt.date, when: str) -> None:
        for key, course in list(self.active_meds.items()):
            if (day - course.authored).days < 330:
                continue
            course.request["status"] = "completed"
            course.request = self._prescribe(course.med, day, when, course.reason, chronic=True)
            course.authored = day
            self.active_meds[key] = course

    def _close(self, p: _Problem) -> None:
        """The problem has ended: update its Condition and stop its medicines."""
        assert p.resource is not None and p.end is not None
        p.closed = True
        labels = {"resolved": "Resolved", "inactive": "Inactive", "remission": "Remission"}
        p.resource["clinicalStatus"] = _cc(
            THO + "condition-clinical", p.end_status, labels[p.end_status]
        )
        p.resource["abatementDateTime"] = p.end.isoformat()
        for course in p.courses:
            course.request["status"] = "completed"
            if self.active_meds.get(course.med.key) is course:
                del self.active_meds[course.med.key]

    def _acute(self, spec: Acute, day: dt.date, when: str, age: float) -> None:
        r = self.rng
        onset = day - dt.timedelta(days=r.randint(1, 4))
        end = day + dt.timedelta(days=r.randint(*spec.days))
        over = end <= self.today
        status = ("resolved", "Resolved") if over else ("active", "Active")
        condition: dict = {
            "resourceType": "Condition",
            "meta": {"profile": [US_CORE + "us-core-condition-encounter-diagnosis"]},
            "clinicalStatus": _cc(THO + "condition-clinical", *status),
            "verificationStatus": _cc(THO + "condition-ver-status", "confirmed", "Confirmed"),
            "category": [
                _cc(THO + "condition-category", "encounter-diagnosis", "Encounter Diagnosis")
            ],
            "code": {
                "coding": [
                    _coding(ICD10CM, spec.icd10, spec.icd10_display),
                    _coding(SNOMED, spec.snomed, spec.snomed_display),
                ],
                "text": spec.text,
            },
            "subject": dict(self.subject),
            "encounter": dict(self.enc),
            "onsetDateTime": onset.isoformat(),
        }
        if over:
            condition["abatementDateTime"] = end.isoformat()
        condition["recordedDate"] = when
        condition["recorder"] = dict(self.doc)
        ref = self._add(condition)
        for key, chance in spec.meds:
            if r.random() < chance:
                key = self._substitute(key, age)
                if key:
                    self._prescribe(MEDS[key], day, when, ref, chronic=False)
                break

    def _allergies(self, when: str, age: float) -> None:
        r = self.rng
        roll = r.random()
        if roll < 0.08:
            return  # not asked yet
        count = 0 if roll < 0.62 or age < 1 else _weighted(r, [1, 2, 3], [0.7, 0.22, 0.08])
        if count == 0:
            code, display = NO_KNOWN_ALLERGY
            self._add(
                {
                    "resourceType": "AllergyIntolerance",
                    "meta": {"profile": [US_CORE + "us-core-allergyintolerance"]},
                    "clinicalStatus": _cc(THO + "allergyintolerance-clinical", "active", "Active"),
                    "verificationStatus": _cc(
                        THO + "allergyintolerance-verification", "confirmed", "Confirmed"
                    ),
                    "code": _cc(SNOMED, code, display, "No known allergies"),
                    "patient": dict(self.subject),
                    "encounter": dict(self.enc),
                    "recordedDate": when,
                    "recorder": dict(self.doc),
                }
            )
            return
        weights = [a.child_weight if age < 18 else a.weight for a in ALLERGENS]
        chosen: list = []
        while len(chosen) < count:
            allergen = _weighted(r, list(ALLERGENS), weights)
            if allergen not in chosen:
                chosen.append(allergen)
        for allergen in chosen:
            self.avoid |= allergen.avoids
            confirmed = r.random() < 0.8
            severe = "anaphylaxis" in allergen.reactions and r.random() < 0.3
            shown = (
                ["anaphylaxis"]
                if severe
                else [x for x in allergen.reactions if x != "anaphylaxis"][: r.randint(1, 2)]
            )
            reactions = []
            for key in shown:
                code, display, text = REACTIONS[key]
                reactions.append(_cc(SNOMED, code, display, text))
            onset_years = r.uniform(0.5, max(1.0, age - 0.2))
            resource: dict = {
                "resourceType": "AllergyIntolerance",
                "meta": {"profile": [US_CORE + "us-core-allergyintolerance"]},
                "clinicalStatus": _cc(THO + "allergyintolerance-clinical", "active", "Active"),
                "verificationStatus": _cc(
                    THO + "allergyintolerance-verification",
                    *(("confirmed", "Confirmed") if confirmed else ("unconfirmed", "Unconfirmed")),
                ),
                "type": allergen.kind,
                "category": [allergen.category],
                "criticality": "high" if severe else "low",
                "code": _cc(allergen.system, allergen.code, allergen.display),
                "patient": dict(self.subject),
                "encounter": dict(self.enc),
                "onsetDateTime": _plus_years(self.birth, min(onset_years, age)).isoformat(),
                "recordedDate": when,
                "recorder": dict(self.doc),
                "reaction": [
                    {
                        "manifestation": reactions,
                        "severity": "severe" if severe else r.choice(("mild", "moderate")),
                    }
                ],
            }
            if resource["onsetDateTime"] > when[:10]:
                del resource["onsetDateTime"]
            self._add(resource)

    # ------------------------------------------------------------------ laboratory

    def _lab_orders(self, v: _Visit, day: dt.date, age: float) -> list[str]:
        r = self.rng
        known = {p.spec.key for p in self.problems if p.known(day)}
        out: list[str] = []
        if v.kind == "well" and age >= 18:
            statin = "atorvastatin20" in self.active_meds or "simvastatin20" in self.active_meds
            cardio = known & {"hypertension", "diabetes", "hyperlipidemia", "cad", "heart_failure"}
            if known & {"hyperlipidemia", "cad", "diabetes"}:
                lipid = 0.9
            else:
                lipid = 0.35 if age >= 40 else 0.1 if age >= 20 else 0.0
            if r.random() < lipid:
                out.append("lipid")
            if cardio:
                if r.random() < 0.85:
                    out.append("cmp" if age >= 50 or statin else "bmp")
            elif r.random() < (0.35 if age >= 40 else 0.1):
                out.append(r.choice(("bmp", "cmp")))
            if "anemia" in known or r.random() < (0.35 if age >= 40 else 0.25):
                out.append("cbc")
            screen = age >= 35 and self._adult_bmi(age) >= 25 and r.random() < 0.35
            if screen or known & {"diabetes", "prediabetes"}:
                out.append("a1c")
            if ("hypothyroidism" in known and r.random() < 0.9) or r.random() < 0.06:
                out.append("tsh")
        elif v.kind == "followup":
            if "diabetes" in known:
                out.append("a1c")
            if known & {"diabetes", "hypertension", "heart_failure"} and r.random() < 0.3:
                out.append("bmp")
            if "anemia" in known and r.random() < 0.5:
                out.append("cbc")
            if "hypothyroidism" in known and r.random() < 0.3:
                out.append("tsh")
            if "warfarin5" in self.active_meds:
                out.append("inr")
        return out

    def _labs(self, panels: list[str], day: dt.date, minute: int) -> None:
        r = self.rng
        collected = _stamp(day, minute)
        if day < self.today:
            issued = _stamp(day + DAY, r.randint(6 * 60, 14 * 60), r.randint(0, 59))
        else:
            issued = _stamp(day, min(minute + 90, 23 * 60), r.randint(0, 59))
        for key in panels:
            panel = PANELS[key]
            values = self._lab_values(key, day)
            results = []
            for name in panel.analytes:
                ref = self._add(self._lab_observation(name, values[name], collected, issued))
                results.append({"reference": ref, "display": ANALYTES[name].text})
            self._add(
                {
                    "resourceType": "DiagnosticReport",
                    "meta": {"profile": [US_CORE + "us-core-diagnosticreport-lab"]},
                    "status": "final",
                    "category": [_cc(THO + "v2-0074", "LAB", "Laboratory")],
                    "code": {
                        "coding": [_coding(LOINC, panel.loinc, panel.display)],
                        "text": panel.text,
                    },
                    "subject": dict(self.subject),
                    "encounter": dict(self.enc),
                    "effectiveDateTime": collected,
                    "issued": issued,
                    "performer": [{"reference": PRACTICE_REF, "display": PRACTICE_NAME}],
                    "resultsInterpreter": [dict(self.doc)],
                    "result": results,
                }
            )

    def _lab_observation(self, name: str, value: float, collected: str, issued: str) -> dict:
        a = ANALYTES[name]
        low, high = a.low, a.high
        if name in SEX_RANGES:
            low, high = SEX_RANGES[name][self.sex == "male"]
        value = round(value, a.decimals) if a.decimals else round(value)
        if high is not None and value > high:
            flag = ("H", "High")
        elif low is not None and value < low:
            flag = ("L", "Low")
        else:
            flag = ("N", "Normal")
        band: dict = {}
        if low is not None:
            band["low"] = _quantity(low, a.unit, a.ucum)
        if high is not None:
            band["high"] = _quantity(high, a.unit, a.ucum)
        band["type"] = _cc(THO + "referencerange-meaning", "normal", "Normal Range")
        return {
            "resourceType": "Observation",
            "meta": {"profile": [US_CORE + "us-core-observation-lab"]},
            "status": "final",
            "category": [_category("laboratory", "Laboratory")],
            "code": {"coding": [_coding(LOINC, a.loinc, a.display)], "text": a.text},
            "subject": dict(self.subject),
            "encounter": dict(self.enc),
            "effectiveDateTime": collected,
            "issued": issued,
            "valueQuantity": _quantity(value, a.unit, a.ucum),
            "interpretation": [_cc(THO + "v3-ObservationInterpretation", *flag)],
            "referenceRange": [band],
        }

    def _a1c(self, day: dt.date) -> float:
        if day in self.a1c_cache:
            return self.a1c_cache[day]
        r = self.rng
        dm, pre = self.by_key.get("diabetes"), self.by_key.get("prediabetes")
        if dm is not None and dm.active(day):
            value = (
                _clamp(r.gauss(7.0, 0.45), 6.0, 9.5)
                if dm.treated(day)
                else _clamp(r.gauss(8.4, 0.8), 6.7, 12.5)
            )
        elif pre is not None and pre.active(day):
            value = r.uniform(5.7, 6.4)
        else:
            value = _clamp(r.gauss(5.2, 0.18), 4.4, 5.6)
        self.a1c_cache[day] = value
        return value

    def _lab_values(self, panel: str, day: dt.date) -> dict[str, float]:
        r = self.rng
        age = _years(self.birth, day)
        male = self.sex == "male"
        active = {p.spec.key for p in self.problems if p.active(day)}
        treated = {p.spec.key for p in self.problems if p.treated(day)}
        obese = "obesity" in active
        meds = self.active_meds
        v: dict[str, float] = {}
        if panel in ("bmp", "cmp"):
            a1c = self._a1c(day)
            v["glucose"] = _clamp((28.7 * a1c - 46.7) * 0.86 + r.gauss(0, 7), 62, 420)
            v["bun"] = _clamp(r.gauss(14, 3.5) + 0.08 * max(0.0, age - 50), 5, 60) + (
                5 if "heart_failure" in active else 0
            )
            creat = (0.95 if male else 0.75) + 0.004 * max(0.0, age - 50)
            creat += 0.2 if "heart_failure" in active else 0.0
            v["creatinine"] = _clamp(creat + r.gauss(0, 0.1), 0.4, 4.0)
            v["sodium"] = r.gauss(140, 1.8) - (1.5 if "hctz25" in meds else 0)
            potassium = r.gauss(4.2, 0.3) + (0.2 if "lisinopril10" in meds else 0)
            v["potassium"] = potassium - (0.3 if "hctz25" in meds else 0)
            v["chloride"] = r.gauss(102, 2)
            v["co2"] = r.gauss(25.5, 1.8)
            v["calcium"] = r.gauss(9.5, 0.3)
            if panel == "cmp":
                v["protein"] = r.gauss(7.1, 0.4)
                v["albumin"] = r.gauss(4.3, 0.3) - 0.004 * max(0.0, age - 60)
                v["bilirubin"] = _clamp(r.gauss(0.6, 0.2), 0.2, 2.5)
                v["alp"] = _clamp(r.gauss(75, 18), 30, 250)
                v["ast"] = _clamp(r.gauss(23, 6) + (5 if obese else 0), 9, 150)
                v["alt"] = _clamp(r.gauss(24, 9) + (10 if obese else 0), 6, 180)
        elif panel == "lipid":
            hdl = r.gauss(56 if not male else 46, 10) - (4 if obese else 0)
            hdl -= 3 if "diabetes" in active else 0
            tg = r.gauss(115, 40) + (45 if "diabetes" in active else 0) + (25 if obese else 0)
            if "cad" in treated:
                ldl = r.gauss(72, 12)
            elif "hyperlipidemia" in treated:
                ldl = r.gauss(98, 15)
            elif "hyperlipidemia" in active or "cad" in active:
                ldl = r.gauss(168, 18)
            else:
                ldl = _clamp(r.gauss(94 + 0.3 * max(0.0, age - 30), 22), 50, 158)
            v["hdl"] = round(_clamp(hdl, 24, 110))
            v["triglycerides"] = round(_clamp(tg, 40, 390))
            v["ldl"] = round(_clamp(ldl, 35, 260))
            v["cholesterol"] = v["ldl"] + v["hdl"] + round(v["triglycerides"] / 5)
        elif panel == "cbc":
            if "anemia" in active:
                hgb = r.gauss(11.5 if male else 10.4, 0.6)
                hgb += 1.5 if "anemia" in treated else 0
                mcv = r.gauss(84 if "anemia" in treated else 77, 3)
            else:
                hgb = r.gauss(15.1 if male else 13.6, 0.85)
                mcv = r.gauss(89, 4)
            hct = hgb / 0.335 + r.gauss(0, 0.8)  # mean corpuscular Hb concentration ~33.5
            v["wbc"] = _clamp(r.gauss(6.8, 1.4), 3.0, 15)
            v["hemoglobin"] = hgb
            v["mcv"] = mcv
            v["rbc"] = hct * 10 / mcv
            v["hematocrit"] = hct
            v["platelets"] = _clamp(r.gauss(250, 50), 110, 480)
        elif panel == "a1c":
            v["a1c"] = self._a1c(day)
        elif panel == "tsh":
            if "hypothyroidism" in active and "hypothyroidism" not in treated:
                v["tsh"] = _clamp(r.gauss(9.5, 2.5), 5.0, 30)
            elif "hypothyroidism" in treated:
                v["tsh"] = _clamp(r.gauss(2.4, 1.0), 0.3, 6.5)
            else:
                v["tsh"] = _clamp(math.exp(r.gauss(0.55, 0.35)), 0.35, 5.5)
        elif panel == "inr":
            warfarin = "warfarin5" in meds
            v["inr"] = _clamp(r.gauss(2.5, 0.35), 1.5, 4.2) if warfarin else r.gauss(1.0, 0.06)
        return v

    # ------------------------------------------------------------------ immunizations

    def _historical_immunizations(self, day: dt.date, when: str) -> None:
        """Childhood doses given elsewhere before the first visit, from the family's record."""
        r = self.rng
        age_days = (day - self.birth).days
        if age_days < 30 or _years(self.birth, day) >= 19 or not self.vaccinated_child:
            return
        for dose in CHILD_SCHEDULE:
            if dose.end >= age_days or self.doses.get(dose.series, 0) != dose.number - 1:
                continue
            given = self.birth + dt.timedelta(days=r.randint(dose.start, dose.end))
            self.doses[dose.series] = dose.number
            self.last_dose[dose.series] = given
            if r.random() > 0.95:
                continue  # given, but missing from the family's record
            cvx = self._child_cvx(dose.series, given)
            self._add(
                {
                    "resourceType": "Immunization",
                    "meta": {"profile": [US_CORE + "us-core-immunization"]},
                    "status": "completed",
                    "vaccineCode": {
                        "coding": [_coding(CVX, cvx, VACCINES[cvx])],
                        "text": VACCINES[cvx],
                    },
                    "patient": dict(self.subject),
                    "occurrenceDateTime": given.isoformat(),
                    "recorded": when,
                    "primarySource": False,
                    "reportOrigin": _cc(THO + "immunization-origin", "record", "Written Record"),
                }
            )
        if "tdap" in self.last_dose:
            self.last_td = self.last_dose["tdap"]

    @staticmethod
    def _child_cvx(series: str, day: dt.date) -> str:
        if series == "pcv":
            return "133" if day >= dt.date(2010, 3, 1) else "100"
        if series == "hpv":
            return "165" if day >= dt.date(2015, 1, 1) else "62"
        return _CHILD_CVX[series]

    def _immunize(self, v: _Visit, day: dt.date, minute: int, age: float) -> None:
        r = self.rng
        age_days = (day - self.birth).days
        due: list[str] = []
        if v.kind == "well" and age < 19 and self.vaccinated_child:
            for dose in CHILD_SCHEDULE:
                if self.doses.get(dose.series, 0) != dose.number - 1:
                    continue
                if not dose.start <= age_days <= dose.end:
                    continue
                last = self.last_dose.get(dose.series)
                if last is not None and (day - last).days < 24:
                    continue
                self.doses[dose.series] = dose.number
                self.last_dose[dose.series] = day
                if r.random() < 0.97:  # else declined that day; the series moves on
                    due.append(self._child_cvx(dose.series, day))
                    if dose.series == "tdap":
                        self.last_td = day
        if v.kind == "well" and age >= 19:
            due.extend(self._adult_vaccines(day, age))
        if self.zoster_second is not None and day >= self.zoster_second and v.kind != "acute":
            due.append("187")
            self.zoster_second = None
        if v.flu:
            season = day.year if day.month >= 7 else day.year - 1
            if age >= 65 and season >= 2020:
                due.append("197")
            elif age >= 65 and season >= 2010:
                due.append("135")
            else:
                due.append("150" if season >= 2013 else "141")
        if v.covid:
            due.append(v.covid)
        for n, cvx in enumerate(due):
            self._immunization(cvx, day, minute, age, n)

    def _adult_vaccines(self, day: dt.date, age: float) -> list[str]:
        r = self.rng
        out: list[str] = []
        last_td = self.last_td
        if last_td is None:
            years_back = r.uniform(0, min(15.0, max(0.0, _years(self.birth, self.start) - 11)))
            last_td = _plus_years(self.start, -years_back)
            self.last_td = last_td
        if (day - last_td).days > 3652 and r.random() < 0.6:
            out.append("113" if self.doses.get("adult_tdap") else "115")
            self.doses["adult_tdap"] = 1
            self.last_td = day
        if age >= 50 and day >= dt.date(2018, 1, 1) and "zoster" not in self.doses:
            if r.random() < 0.45:
                self.doses["zoster"] = 1
                out.append("187")
                self.zoster_second = day + dt.timedelta(days=r.randint(60, 180))
        elif (
            age >= 60
            and dt.date(2007, 1, 1) <= day < dt.date(2018, 1, 1)
            and "zoster" not in self.doses
            and r.random() < 0.25
        ):
            self.doses["zoster"] = 1
            out.append("121")
        if age >= 65 and r.random() < 0.75:
            # One PPSV23 before September 2014, then PCV13 followed a year later by PPSV23,
            # then (from 2022) a single PCV20.
            pneumo = self.doses.get("pneumo", 0)
            if pneumo == 0 and dt.date(2014, 9, 1) <= day < dt.date(2022, 1, 1):
                out.append("133")
                self.doses["pneumo"] = 1
                self.last_dose["pneumo"] = day
            elif pneumo == 0:
                out.append("216" if day >= dt.date(2022, 1, 1) else "33")
                self.doses["pneumo"] = 2
            elif pneumo == 1 and (day - self.last_dose["pneumo"]).days >= 330:
                out.append("33")
                self.doses["pneumo"] = 2
        return out

    def _immunization(self, cvx: str, day: dt.date, minute: int, age: float, n: int) -> None:
        r = self.rng
        route, volume = VACCINE_ROUTE.get(cvx, ("IM", 0.5))
        resource: dict = {
            "resourceType": "Immunization",
            "meta": {"profile": [US_CORE + "us-core-immunization"]},
            "status": "completed",
            "vaccineCode": {"coding": [_coding(CVX, cvx, VACCINES[cvx])], "text": VACCINES[cvx]},
            "patient": dict(self.subject),
            "encounter": dict(self.enc),
            "occurrenceDateTime": _stamp(day, minute + n),
            "primarySource": True,
            "lotNumber": f"{r.choice(_LOT_LETTERS)}{r.choice(_LOT_LETTERS)}{r.randint(1000, 9999)}",
            "expirationDate": (day + dt.timedelta(days=r.randint(120, 540))).isoformat(),
        }
        if route != "PO":
            if age < 3:
                site = ("LT", "left thigh") if n % 2 == 0 else ("RT", "right thigh")
            else:
                site = ("LA", "left arm") if n % 2 == 0 else ("RA", "right arm")
            resource["site"] = _cc(THO + "v3-ActSite", *site)
        resource["route"] = _cc(THO + "v3-RouteOfAdministration", route, ROUTE_DISPLAY[route])
        resource["doseQuantity"] = _quantity(volume, "mL", "mL")
        resource["performer"] = [
            {
                "function": _cc(THO + "v2-0443", "AP", "Administering Provider"),
                "actor": dict(self.doc),
            }
        ]
        self._add(resource)
