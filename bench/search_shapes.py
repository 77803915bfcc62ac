"""The 30 query shapes of the search benchmark and the sampling of their parameter values.

Values are drawn (seeded) from the loaded database, not from the generator: patients are
sampled among the stored Patient rows, and each shape takes its codes, dates, names and
numbers from the sampled patient's own stored resources, so every query asks about data that
exists. ``kind`` says which target applies: ``selective`` (patient-scoped, identifier, date
ranges with ``_count=50``: p50 < 5 ms, p99 < 25 ms on SQLite) or ``broad`` (reported only).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.9999.1"
LOINC = "http://loinc.org"


@dataclass
class PatientSample:
    """What the shapes need to know about one sampled patient, from the stored resources."""

    pid: str
    mrn: str
    family: str
    given: str
    gender: str
    birthdate: str
    by_type: dict[str, list[dict]] = field(default_factory=dict)

    def of(self, rtype: str) -> list[dict]:
        return self.by_type.get(rtype, [])


def _q(value: str) -> str:
    return quote(value, safe="|:/,")


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _obs_date(o: dict) -> str | None:
    return o.get("effectiveDateTime") or (o.get("effectivePeriod") or {}).get("start")


def _code(res: dict, element: str = "code") -> tuple[str, str] | None:
    for c in (res.get(element) or {}).get("coding") or []:
        if c.get("system") and c.get("code"):
            return c["system"], c["code"]
    return None


def _categories(res: dict) -> set[str]:
    return {c.get("code") for cat in res.get("category") or [] for c in cat.get("coding") or []}


# A shape picks a path for one sampled patient (or None when that patient has nothing to ask
# about; the next patient is tried).
Picker = Callable[[PatientSample, random.Random], "str | None"]


@dataclass
class Shape:
    name: str
    kind: str  # "selective" or "broad"
    example: str
    pick: Picker


def _choice(rng: random.Random, items: list):
    return rng.choice(items) if items else None


def obs_vitals(p, rng):
    return f"Observation?patient={p.pid}&category=vital-signs"


def obs_code_date(p, rng):
    obs = [o for o in p.of("Observation") if _code(o) and _obs_date(o)]
    o = _choice(rng, obs)
    if o is None:
        return None
    system, code = _code(o)
    since = _day(_obs_date(o)) - dt.timedelta(days=rng.randrange(0, 720))
    return f"Observation?patient={p.pid}&code={_q(system + '|' + code)}&date=ge{since}"


def obs_lab_sorted(p, rng):
    if not any("laboratory" in _categories(o) for o in p.of("Observation")):
        return None
    return f"Observation?patient={p.pid}&category=laboratory&_sort=-date&_count=10"


def cond_patient(p, rng):
    return f"Condition?patient={p.pid}"


def cond_problems(p, rng):
    return f"Condition?patient={p.pid}&category=problem-list-item&clinical-status=active"


def medreq_active(p, rng):
    return f"MedicationRequest?patient={p.pid}&status=active"


def medreq_include(p, rng):
    return f"MedicationRequest?patient={p.pid}&intent=order&_include=MedicationRequest:requester"


def enc_date(p, rng):
    encs = [e for e in p.of("Encounter") if (e.get("period") or {}).get("start")]
    e = _choice(rng, encs)
    if e is None:
        return None
    start = _day(e["period"]["start"])
    lo = start - dt.timedelta(days=rng.randrange(0, 365))
    hi = start + dt.timedelta(days=rng.randrange(1, 365))
    return f"Encounter?patient={p.pid}&date=ge{lo}&date=lt{hi}"


def dr_include_results(p, rng):
    if not p.of("DiagnosticReport"):
        return None
    return f"DiagnosticReport?patient={p.pid}&category=LAB&_include=DiagnosticReport:result"


def allergy(p, rng):
    return f"AllergyIntolerance?patient={p.pid}&clinical-status=active"


def immunization(p, rng):
    imms = [i for i in p.of("Immunization") if i.get("occurrenceDateTime")]
    i = _choice(rng, imms)
    if i is None:
        return None
    return f"Immunization?patient={p.pid}&date=ge{_day(i['occurrenceDateTime']).year}"


def coverage(p, rng):
    return f"Coverage?beneficiary=Patient/{p.pid}"


def compartment_obs(p, rng):
    obs = [o for o in p.of("Observation") if _code(o)]
    o = _choice(rng, obs)
    if o is None:
        return None
    return f"Patient/{p.pid}/Observation?code={_code(o)[1]}"


def everything(p, rng):
    return f"Patient/{p.pid}/$everything"


def revinclude(p, rng):
    return (
        f"Patient?_id={p.pid}&_revinclude=Condition:patient&_revinclude=AllergyIntolerance:patient"
    )


def system_patient(p, rng):
    return f"?_type=Condition,AllergyIntolerance,MedicationRequest&patient={p.pid}"


def patient_mrn(p, rng):
    return f"Patient?identifier={_q(MRN_SYSTEM + '|' + p.mrn)}"


def patient_mrn_code(p, rng):
    return f"Patient?identifier={p.mrn}"


def patient_name_prefix(p, rng):
    return f"Patient?name={_q(p.family[: rng.choice((3, 4))])}"


def patient_birthdate(p, rng):
    return f"Patient?birthdate={p.birthdate}"


def patient_family_given(p, rng):
    return f"Patient?family={_q(p.family)}&given={_q(p.given)}"


def patient_gender_year(p, rng):
    year = int(p.birthdate[:4])
    return f"Patient?gender={p.gender}&birthdate=ge{year}-01-01&birthdate=lt{year + 1}-01-01"


def obs_day_count50(p, rng):
    o = _choice(rng, [o for o in p.of("Observation") if _obs_date(o)])
    if o is None:
        return None
    day = _day(_obs_date(o))
    return f"Observation?date=ge{day}&date=lt{day + dt.timedelta(days=1)}&_count=50"


def enc_week_count50(p, rng):
    e = _choice(rng, [e for e in p.of("Encounter") if (e.get("period") or {}).get("start")])
    if e is None:
        return None
    day = _day(e["period"]["start"])
    return f"Encounter?date=ge{day}&date=lt{day + dt.timedelta(days=7)}&_count=50"


def medreq_week_count50(p, rng):
    m = _choice(rng, [m for m in p.of("MedicationRequest") if m.get("authoredOn")])
    if m is None:
        return None
    day = _day(m["authoredOn"])
    return (
        f"MedicationRequest?authoredon=ge{day}&authoredon=lt{day + dt.timedelta(days=7)}&_count=50"
    )


def obs_code_value(p, rng):
    obs = [o for o in p.of("Observation") if _code(o) and "value" in (o.get("valueQuantity") or {})]
    o = _choice(rng, obs)
    if o is None:
        return None
    system, code = _code(o)
    value = o["valueQuantity"]["value"]
    return f"Observation?code={_q(system + '|' + code)}&value-quantity=gt{value}"


def chain_name(p, rng):
    obs = [o for o in p.of("Observation") if _code(o)]
    o = _choice(rng, obs)
    if o is None:
        return None
    return f"Observation?subject:Patient.name={_q(p.family)}&code={_code(o)[1]}"


def has_condition(p, rng):
    c = _choice(rng, [c for c in p.of("Condition") if _code(c)])
    if c is None:
        return None
    return f"Patient?_has:Condition:patient:code={_code(c)[1]}"


def total_accurate(p, rng):
    cat = rng.choice(("laboratory", "vital-signs"))
    return f"Observation?category={cat}&_total=accurate&_count=10"


def sort_broad(p, rng):
    obs = [o for o in p.of("Observation") if _code(o)]
    o = _choice(rng, obs)
    if o is None:
        return None
    system, code = _code(o)
    return f"Observation?code={_q(system + '|' + code)}&_sort=-date&_count=10"


SHAPES: list[Shape] = [
    # patient-scoped (US Core and the screens of the EHR)
    Shape("obs-vitals", "selective", "Observation?patient=X&category=vital-signs", obs_vitals),
    Shape("obs-code-date", "selective", "Observation?patient=X&code=S|C&date=geD", obs_code_date),
    Shape("obs-lab-sort", "selective",
          "Observation?patient=X&category=laboratory&_sort=-date&_count=10", obs_lab_sorted),
    Shape("cond", "selective", "Condition?patient=X", cond_patient),
    Shape("cond-problems", "selective",
          "Condition?patient=X&category=problem-list-item&clinical-status=active", cond_problems),
    Shape("medreq-active", "selective", "MedicationRequest?patient=X&status=active",
          medreq_active),
    Shape("medreq-include", "selective",
          "MedicationRequest?patient=X&intent=order&_include=MedicationRequest:requester",
          medreq_include),
    Shape("enc-date", "selective", "Encounter?patient=X&date=geD1&date=ltD2", enc_date),
    Shape("dr-include", "selective",
          "DiagnosticReport?patient=X&category=LAB&_include=DiagnosticReport:result",
          dr_include_results),
    Shape("allergy", "selective", "AllergyIntolerance?patient=X&clinical-status=active", allergy),
    Shape("imm-date", "selective", "Immunization?patient=X&date=geYYYY", immunization),
    Shape("coverage", "selective", "Coverage?beneficiary=Patient/X", coverage),
    Shape("compartment-obs", "selective", "Patient/X/Observation?code=C", compartment_obs),
    Shape("everything", "selective", "Patient/X/$everything", everything),
    Shape("revinclude", "selective",
          "Patient?_id=X&_revinclude=Condition:patient&_revinclude=AllergyIntolerance:patient",
          revinclude),
    Shape("system-patient", "selective",
          "?_type=Condition,AllergyIntolerance,MedicationRequest&patient=X", system_patient),
    # identifiers and demographics
    Shape("pat-mrn", "selective", "Patient?identifier=SYSTEM|MRN", patient_mrn),
    Shape("pat-mrn-code", "selective", "Patient?identifier=MRN", patient_mrn_code),
    Shape("pat-name", "broad", "Patient?name=Bai (3-4 letter prefix)", patient_name_prefix),
    Shape("pat-birthdate", "broad", "Patient?birthdate=YYYY-MM-DD", patient_birthdate),
    Shape("pat-family-given", "broad", "Patient?family=F&given=G", patient_family_given),
    Shape("pat-gender-year", "broad", "Patient?gender=G&birthdate=geY&birthdate=ltY+1",
          patient_gender_year),
    # date ranges with _count=50
    Shape("obs-day-50", "selective", "Observation?date=geD&date=ltD+1&_count=50",
          obs_day_count50),
    Shape("enc-week-50", "selective", "Encounter?date=geD&date=ltD+7&_count=50",
          enc_week_count50),
    Shape("medreq-week-50", "selective",
          "MedicationRequest?authoredon=geD&authoredon=ltD+7&_count=50", medreq_week_count50),
    # broad
    Shape("obs-code-value", "broad", "Observation?code=S|C&value-quantity=gtV", obs_code_value),
    Shape("chain-name", "broad", "Observation?subject:Patient.name=F&code=C", chain_name),
    Shape("has-condition", "broad", "Patient?_has:Condition:patient:code=C", has_condition),
    Shape("total-accurate", "broad", "Observation?category=laboratory&_total=accurate&_count=10",
          total_accurate),
    Shape("sort-broad", "broad", "Observation?code=S|C&_sort=-date&_count=10", sort_broad),
]  # fmt: skip


# ---------------------------------------------------------------------------- sampling


def _rows(url: str, statement: str, args: tuple = ()) -> list[tuple]:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url) as conn:
            return conn.execute(statement.replace("?", "%s"), args).fetchall()
    import sqlite3

    conn = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
    try:
        return conn.execute(statement, args).fetchall()
    finally:
        conn.close()


def sample_patients(url: str, n: int, seed: int) -> list[PatientSample]:
    """``n`` patients drawn (seeded) from the stored ones, with their stored resources."""
    ids = [
        r[0]
        for r in _rows(
            url,
            "SELECT fhir_id FROM fhir_resource WHERE resource_type = 'Patient' AND deleted = ? "
            "ORDER BY id",
            (False,),
        )
    ]
    rng = random.Random(seed)
    chosen = rng.sample(ids, min(n, len(ids)))
    out = []
    for pid in chosen:
        patient = orjson.loads(
            _rows(
                url,
                "SELECT content FROM fhir_resource WHERE resource_type = 'Patient' AND fhir_id = ?",
                (pid,),
            )[0][0]
        )
        name = (patient.get("name") or [{}])[0]
        mrn = next(
            (i["value"] for i in patient.get("identifier") or [] if i.get("system") == MRN_SYSTEM),
            "",
        )
        sample = PatientSample(
            pid=pid,
            mrn=mrn,
            family=name.get("family", ""),
            given=(name.get("given") or [""])[0],
            gender=patient.get("gender", "unknown"),
            birthdate=patient.get("birthDate", "1970-01-01"),
        )
        for rtype, content in _rows(
            url,
            "SELECT resource_type, content FROM fhir_resource WHERE patient_key = ? AND "
            "deleted = ?",
            (pid, False),
        ):
            sample.by_type.setdefault(rtype, []).append(orjson.loads(content))
        out.append(sample)
    return out


def plan(
    shapes: list[Shape], patients: list[PatientSample], per_shape: int, seed: int
) -> dict[str, list[str]]:
    """``per_shape`` request paths for every shape, drawn from the sampled patients in turn."""
    out: dict[str, list[str]] = {}
    for s in shapes:
        rng = random.Random(f"{seed}:{s.name}")
        paths: list[str] = []
        tries = 0
        i = 0
        while len(paths) < per_shape and tries < per_shape * 20 and patients:
            p = patients[i % len(patients)]
            i += 1
            tries += 1
            path = s.pick(p, rng)
            if path:
                paths.append(path)
        out[s.name] = paths
    return out
