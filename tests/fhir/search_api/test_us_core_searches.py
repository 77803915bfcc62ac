"""The US Core searches, as a new user would run them: a real server process, a real client.

The server gets a fresh database loaded with ``ehr import`` (the Synthea bundles and the US Core
examples); the client is fhirpy's ``SyncFHIRClient``. Each search must return something, and
exactly what the oracle (``oracle.py``: FHIRPath through fhirpathpy, FHIR matching rules in
plain Python) computes over the resources read straight from the database.

US Core 6.1.0 lists, per resource, the searches a server SHALL support (and those it SHOULD);
both are exercised where the data allows.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from fhirpy import SyncFHIRClient

from tests.conftest import SYNTHEA, US_CORE
from tests.fhir.search_api import oracle as O
from tests.fhir.search_api.corpus import Corpus
from tests.live import ehr, fresh_database, running_server, system_token

pytestmark = pytest.mark.live


def _rows(url: str) -> list[tuple[str, str, str]]:
    query = "SELECT resource_type, fhir_id, content FROM fhir_resource WHERE deleted = "
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return list(conn.execute(query + "0"))
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(query + "false"))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uscore")
    with fresh_database(tmp) as url:
        ehr(url, "migrate")
        out = ehr(url, "import", "-q", str(SYNTHEA), str(US_CORE), check=False)
        summary = out.stdout + out.stderr
        # One US Core example (a contained DiagnosticReport without narrative) is invalid.
        assert "diagnosticreport-cbc.json" in summary, summary[-2000:]
        assert "1 failed" in summary or out.returncode == 0, summary[-2000:]
        rows = _rows(url)
        assert len(rows) > 5500
        token = system_token(url, "system/*.rs")
        with running_server(url) as base:
            yield (
                SyncFHIRClient(base, authorization=f"Bearer {token}"),
                Corpus(rows, {}),
                base,
                token,
            )


@pytest.fixture(scope="module")
def client(live):
    return live[0]


@pytest.fixture(scope="module")
def corpus(live):
    return live[1]


def _patients(corpus: Corpus) -> list[str]:
    """Patients ordered by name and birth date (ids are assigned by the server)."""

    def key(pid):
        p = corpus.res["Patient"][pid]
        name = (p.get("name") or [{}])[0]
        return (name.get("family", ""), " ".join(name.get("given", [])), p.get("birthDate", ""))

    return sorted(corpus.ids("Patient"), key=key)


def _run(client, corpus, rtype: str, params: list[tuple[str, str]]) -> set[str]:
    """Runs the search with fhirpy (all pages) and checks it against the oracle."""
    query: dict[str, list[str]] = {}
    for k, v in params:
        query.setdefault(k, []).append(v)
    found = client.resources(rtype).search(**query).limit(50).fetch_all()
    ids = [r["id"] for r in found]
    expected = corpus.expected(rtype, params)
    assert expected, f"{rtype}?{params}: the oracle expects nothing; pick other values"
    assert len(ids) == len(set(ids)), f"{rtype}?{params}: duplicates"
    assert set(ids) == expected, (
        f"{rtype}?{params}: missing {sorted(expected - set(ids))[:5]}, "
        f"extra {sorted(set(ids) - expected)[:5]}"
    )
    return expected


def _with(corpus, rtype, param, pred=lambda items: True) -> list[str]:
    """Patients (in name order) with a resource of ``rtype`` whose ``param`` passes ``pred``."""
    out = []
    for pid in _patients(corpus):
        for rid in corpus.match(rtype, "patient", f"Patient/{pid}"):
            items = corpus.values(rtype, param).get(rid, []) if param else [True]
            if items and pred(items):
                out.append(pid)
                break
    assert out, f"no patient with {rtype}.{param}"
    return out


def _common(corpus, rtype, pid, param, form="sys|code") -> str:
    """The most frequent token value of ``param`` among the patient's ``rtype`` resources."""
    counts: Counter = Counter()
    for rid in corpus.match(rtype, "patient", f"Patient/{pid}"):
        for kind, data in corpus.values(rtype, param).get(rid, []):
            for t in O.token_items(kind, data):
                if t.code:
                    v = f"{t.system}|{t.code}" if form == "sys|code" and t.system else t.code
                    counts[v] += 1
    assert counts, (rtype, pid, param)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def _year(corpus, rtype, pid, param) -> str:
    """A year in the middle of the patient's values of a date parameter."""
    lows = sorted(
        r[0]
        for rid in corpus.match(rtype, "patient", f"Patient/{pid}")
        for k, d in corpus.values(rtype, param).get(rid, [])
        for r in O.date_ranges(k, d)
        if r[0] != O.NEG_INF
    )
    from tests.fhir.search_api.samples import fmt_date

    return fmt_date(int(lows[len(lows) // 2]), "year")


# ------------------------------------------------------------------ Patient


def test_patient_searches(client, corpus):
    pats = [p for p in _patients(corpus) if corpus.res["Patient"][p].get("birthDate")][:4]
    for pid in pats:
        p = corpus.res["Patient"][pid]
        name = p["name"][0]
        family, given = name["family"], name.get("given", [""])[0]
        assert pid in _run(client, corpus, "Patient", [("_id", pid)])
        assert pid in _run(client, corpus, "Patient", [("name", family)])
        assert pid in _run(client, corpus, "Patient", [("name", given[:3].lower())])
        assert pid in _run(client, corpus, "Patient", [("family", family.upper())])
        assert pid in _run(client, corpus, "Patient", [("given", given)])
        assert pid in _run(
            client, corpus, "Patient", [("name", family), ("birthdate", p["birthDate"])]
        )
        assert pid in _run(client, corpus, "Patient", [("name", family), ("gender", p["gender"])])
        assert pid in _run(client, corpus, "Patient", [("family", family), ("gender", p["gender"])])
        assert pid in _run(
            client, corpus, "Patient", [("birthdate", p["birthDate"]), ("family", family)]
        )
        for ident in p.get("identifier", [])[:3]:
            value = f"{ident['system']}|{ident['value']}" if ident.get("system") else ident["value"]
            assert pid in _run(client, corpus, "Patient", [("identifier", value)])
        assert pid in _run(client, corpus, "Patient", [("identifier", p["identifier"][0]["value"])])
    _run(client, corpus, "Patient", [("gender", "female")])
    _run(client, corpus, "Patient", [("birthdate", "ge1980"), ("birthdate", "lt2000")])


# ------------------------------------------------------------------ Observation


@pytest.mark.parametrize("category", ["vital-signs", "laboratory", "social-history", "survey"])
def test_observation_by_patient_and_category(client, corpus, category):
    cat = f"http://terminology.hl7.org/CodeSystem/observation-category|{category}"
    toks = lambda items: [t for k, d in items for t in O.token_items(k, d)]  # noqa: E731
    pids = _with(
        corpus, "Observation", "category", lambda items: O.token_match(toks(items), cat, None)
    )
    for pid in pids[:2]:
        _run(client, corpus, "Observation", [("patient", f"Patient/{pid}"), ("category", cat)])
        _run(client, corpus, "Observation", [("patient", pid), ("category", category)])
        year = _year(corpus, "Observation", pid, "date")
        _run(
            client,
            corpus,
            "Observation",
            [("patient", f"Patient/{pid}"), ("category", category), ("date", f"ge{year}")],
        )
        _run(
            client,
            corpus,
            "Observation",
            [
                ("patient", f"Patient/{pid}"),
                ("category", category),
                ("date", f"ge{year}"),
                ("date", f"lt{int(year) + 2}"),
            ],
        )
        _run(
            client,
            corpus,
            "Observation",
            [("patient", f"Patient/{pid}"), ("category", category), ("status", "final")],
        )


def test_observation_by_patient_and_code(client, corpus):
    for pid in _with(corpus, "Observation", "code")[:3]:
        code = _common(corpus, "Observation", pid, "code")
        _run(client, corpus, "Observation", [("patient", f"Patient/{pid}"), ("code", code)])
        year = _year(corpus, "Observation", pid, "date")
        _run(
            client,
            corpus,
            "Observation",
            [("patient", f"Patient/{pid}"), ("code", code), ("date", f"le{year}")],
        )
    # US Core's own examples: the two codes Patient/example has most, ORed, and one alone
    _run(client, corpus, "Observation", [("patient", "example"), ("code", "11341-5")])
    _run(
        client,
        corpus,
        "Observation",
        [
            ("patient", "Patient/example"),
            ("code", "http://loinc.org|11341-5,http://loinc.org|2708-6"),
        ],
    )


# ------------------------------------------------------------------ clinical resources


def test_condition(client, corpus):
    for pid in _with(corpus, "Condition", "code")[:3]:
        ref = f"Patient/{pid}"
        _run(client, corpus, "Condition", [("patient", ref)])
        _run(
            client, corpus, "Condition", [("patient", ref), ("clinical-status", "active,resolved")]
        )
        _run(
            client,
            corpus,
            "Condition",
            [("patient", ref), ("code", _common(corpus, "Condition", pid, "code"))],
        )
        _run(
            client,
            corpus,
            "Condition",
            [
                ("patient", ref),
                ("onset-date", f"ge{_year(corpus, 'Condition', pid, 'onset-date')}"),
            ],
        )
    for pid in _with(corpus, "Condition", "category"):
        _run(
            client,
            corpus,
            "Condition",
            [("patient", pid), ("category", _common(corpus, "Condition", pid, "category"))],
        )


def test_medication_request(client, corpus):
    for pid in _with(corpus, "MedicationRequest", "intent")[:3]:
        ref = f"Patient/{pid}"
        intent = _common(corpus, "MedicationRequest", pid, "intent", "code")
        status = _common(corpus, "MedicationRequest", pid, "status", "code")
        _run(client, corpus, "MedicationRequest", [("patient", ref), ("intent", intent)])
        _run(
            client,
            corpus,
            "MedicationRequest",
            [("patient", ref), ("intent", intent), ("status", status)],
        )
        _run(
            client,
            corpus,
            "MedicationRequest",
            [("patient", ref), ("intent", "order,plan"), ("status", "active,completed,stopped")],
        )
    # _include of the Medication (US Core: SHALL support _include=MedicationRequest:medication)
    pid = _with(corpus, "MedicationRequest", "medication")[0]
    raw = (
        client.resources("MedicationRequest")
        .search(patient=pid, intent="order")
        .include("MedicationRequest", "medication")
        .fetch_raw()
    )
    included = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in raw["entry"]
        if e["search"]["mode"] == "include"
    }
    wanted = {
        (r.type, r.id)
        for rid in corpus.expected("MedicationRequest", [("patient", pid), ("intent", "order")])
        for r in corpus.refs("MedicationRequest", "medication", rid)
        if r.type and r.id in corpus.res.get(r.type, {})
    }
    assert wanted and included == wanted


def test_encounter(client, corpus):
    for pid in _with(corpus, "Encounter", "date")[:3]:
        ref = f"Patient/{pid}"
        encs = _run(client, corpus, "Encounter", [("patient", ref)])
        year = _year(corpus, "Encounter", pid, "date")
        _run(client, corpus, "Encounter", [("patient", ref), ("date", f"ge{year}")])
        _run(
            client,
            corpus,
            "Encounter",
            [("patient", ref), ("date", f"ge{year}"), ("date", f"lt{int(year) + 3}")],
        )
        _run(
            client,
            corpus,
            "Encounter",
            [("patient", ref), ("class", _common(corpus, "Encounter", pid, "class"))],
        )
        _run(
            client,
            corpus,
            "Encounter",
            [("patient", ref), ("type", _common(corpus, "Encounter", pid, "type"))],
        )
        _run(client, corpus, "Encounter", [("patient", ref), ("status", "finished")])
        eid = sorted(encs)[0]
        _run(client, corpus, "Encounter", [("_id", eid)])


def test_allergy_immunization_procedure_goal(client, corpus):
    for pid in _with(corpus, "AllergyIntolerance", None)[:3]:
        _run(client, corpus, "AllergyIntolerance", [("patient", f"Patient/{pid}")])
        _run(
            client, corpus, "AllergyIntolerance", [("patient", pid), ("clinical-status", "active")]
        )
    for pid in _with(corpus, "Immunization", None)[:3]:
        _run(client, corpus, "Immunization", [("patient", f"Patient/{pid}")])
        _run(
            client, corpus, "Immunization", [("patient", f"Patient/{pid}"), ("status", "completed")]
        )
        year = _year(corpus, "Immunization", pid, "date")
        _run(client, corpus, "Immunization", [("patient", f"Patient/{pid}"), ("date", f"ge{year}")])
    for pid in _with(corpus, "Procedure", None)[:3]:
        _run(client, corpus, "Procedure", [("patient", f"Patient/{pid}")])
        year = _year(corpus, "Procedure", pid, "date")
        _run(client, corpus, "Procedure", [("patient", f"Patient/{pid}"), ("date", f"ge{year}")])
        code = _common(corpus, "Procedure", pid, "code")
        _run(
            client,
            corpus,
            "Procedure",
            [("patient", f"Patient/{pid}"), ("code", code), ("date", "ge1900")],
        )
        _run(client, corpus, "Procedure", [("patient", f"Patient/{pid}"), ("status", "completed")])
    for pid in _with(corpus, "Goal", None)[:2]:
        _run(client, corpus, "Goal", [("patient", f"Patient/{pid}")])
        _run(
            client,
            corpus,
            "Goal",
            [
                ("patient", f"Patient/{pid}"),
                ("lifecycle-status", _common(corpus, "Goal", pid, "lifecycle-status", "code")),
            ],
        )


def test_diagnostic_report(client, corpus):
    for pid in _with(corpus, "DiagnosticReport", "category")[:3]:
        ref = f"Patient/{pid}"
        cat = _common(corpus, "DiagnosticReport", pid, "category")
        _run(client, corpus, "DiagnosticReport", [("patient", ref)])
        _run(client, corpus, "DiagnosticReport", [("patient", ref), ("category", cat)])
        _run(
            client,
            corpus,
            "DiagnosticReport",
            [("patient", ref), ("code", _common(corpus, "DiagnosticReport", pid, "code"))],
        )
        year = _year(corpus, "DiagnosticReport", pid, "date")
        _run(
            client,
            corpus,
            "DiagnosticReport",
            [("patient", ref), ("category", cat), ("date", f"ge{year}")],
        )
        _run(client, corpus, "DiagnosticReport", [("patient", ref), ("status", "final")])
    _run(client, corpus, "DiagnosticReport", [("patient", "example"), ("category", "LAB")])


def test_care_plan_and_care_team(client, corpus):
    for pid in _with(corpus, "CarePlan", "category")[:3]:
        cat = _common(corpus, "CarePlan", pid, "category")
        _run(client, corpus, "CarePlan", [("patient", f"Patient/{pid}"), ("category", cat)])
        _run(
            client,
            corpus,
            "CarePlan",
            [("patient", f"Patient/{pid}"), ("category", cat), ("status", "active,completed")],
        )
        _run(
            client,
            corpus,
            "CarePlan",
            [("patient", f"Patient/{pid}"), ("category", cat), ("date", "ge1900")],
        )
    _run(client, corpus, "CareTeam", [("patient", "Patient/example"), ("status", "active")])


def test_document_reference(client, corpus):
    docs = _run(client, corpus, "DocumentReference", [("patient", "example")])
    _run(client, corpus, "DocumentReference", [("_id", sorted(docs)[0])])
    cat = _common(corpus, "DocumentReference", "example", "category")
    typ = _common(corpus, "DocumentReference", "example", "type")
    _run(client, corpus, "DocumentReference", [("patient", "example"), ("category", cat)])
    _run(client, corpus, "DocumentReference", [("patient", "example"), ("type", typ)])
    _run(
        client,
        corpus,
        "DocumentReference",
        [("patient", "example"), ("category", cat), ("date", "ge2000")],
    )
    _run(client, corpus, "DocumentReference", [("patient", "example"), ("status", "current")])


def test_other_us_core_resources(client, corpus):
    _run(client, corpus, "Coverage", [("patient", "example")])
    _run(client, corpus, "Device", [("patient", "example")])
    _run(
        client,
        corpus,
        "Device",
        [("patient", "example"), ("type", _common(corpus, "Device", "example", "type"))],
    )
    _run(client, corpus, "MedicationDispense", [("patient", "example")])
    _run(client, corpus, "MedicationDispense", [("patient", "example"), ("status", "completed")])
    _run(client, corpus, "RelatedPerson", [("patient", "example")])
    _run(client, corpus, "ServiceRequest", [("patient", "example")])
    _run(
        client,
        corpus,
        "ServiceRequest",
        [
            ("patient", "example"),
            ("category", _common(corpus, "ServiceRequest", "example", "category")),
        ],
    )
    _run(
        client,
        corpus,
        "ServiceRequest",
        [("patient", "example"), ("code", _common(corpus, "ServiceRequest", "example", "code"))],
    )
    _run(client, corpus, "Specimen", [("patient", "example")])
    _run(client, corpus, "QuestionnaireResponse", [("patient", "example")])


def test_directory_searches(client, corpus):
    loc = sorted(corpus.res["Location"].values(), key=lambda r: r["id"])[0]
    _run(client, corpus, "Location", [("name", loc["name"][:5])])
    _run(client, corpus, "Location", [("address", loc["address"]["city"])])
    _run(client, corpus, "Location", [("address-city", loc["address"]["city"])])
    _run(client, corpus, "Location", [("address-state", loc["address"]["state"])])
    _run(client, corpus, "Location", [("address-postalcode", loc["address"]["postalCode"])])
    org = sorted(corpus.res["Organization"].values(), key=lambda r: r["name"])[0]
    _run(client, corpus, "Organization", [("name", org["name"])])
    _run(client, corpus, "Organization", [("address", org["address"][0]["city"])])
    prac = sorted(corpus.res["Practitioner"].values(), key=lambda r: r["name"][0]["family"])[0]
    _run(client, corpus, "Practitioner", [("name", prac["name"][0]["family"])])
    ident = prac["identifier"][0]
    _run(client, corpus, "Practitioner", [("identifier", f"{ident['system']}|{ident['value']}")])
    role = next(iter(corpus.res["PractitionerRole"].values()))
    spec = role["specialty"][0]["coding"][0]
    _run(client, corpus, "PractitionerRole", [("specialty", f"{spec['system']}|{spec['code']}")])
    prac_ref = role["practitioner"]["reference"]
    _run(client, corpus, "PractitionerRole", [("practitioner", prac_ref)])
    raw = (
        client.resources("PractitionerRole")
        .search(practitioner=prac_ref)
        .include("PractitionerRole", "practitioner")
        .fetch_raw()
    )
    assert {e["resource"]["resourceType"] for e in raw["entry"]} == {
        "PractitionerRole",
        "Practitioner",
    }


def test_provenance_revinclude(client, corpus):
    prov = next(iter(corpus.res["Provenance"].values()))
    targets = [t["reference"] for t in prov["target"] if "/" in t.get("reference", "")]
    rtype, rid = targets[0].split("/_history")[0].split("/")[-2:]
    raw = client.resources(rtype).search(_id=rid).revinclude("Provenance", "target").fetch_raw()
    got = {
        (e["resource"]["resourceType"], e["resource"]["id"], e.get("search", {}).get("mode"))
        for e in raw["entry"]
    }
    assert got == {(rtype, rid, "match"), ("Provenance", prov["id"], "include")}, json.dumps(raw)[
        :500
    ]


# ------------------------------------------------------------------ the other client


def test_us_core_searches_with_fhirclient(live):
    """The SMART Python client (``fhirclient``) runs the required searches too: its models
    parse every resource and Bundle it gets, and it follows the next links to the end."""
    import warnings

    from fhirclient.client import FHIRClient
    from fhirclient.models.condition import Condition
    from fhirclient.models.encounter import Encounter
    from fhirclient.models.medicationrequest import MedicationRequest
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    _client, corpus, base, token = live
    smart = FHIRClient(settings={"app_id": "ehr-tests", "api_base": base})
    smart.server.session.headers["Authorization"] = f"Bearer {token}"

    def run(model, struct: dict, params: list[tuple[str, str]]) -> set[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            search = model.where(struct={**struct, "_count": "7"})
            found = [r.id for r in search.perform_resources_iter(smart.server)]
        expected = corpus.expected(model.resource_type, params)
        assert expected, (model.resource_type, params)
        assert len(found) == len(set(found)), (model.resource_type, params, "duplicates")
        assert set(found) == expected, (model.resource_type, params)
        return expected

    pid = _with(corpus, "Observation", "category")[0]
    p = corpus.res["Patient"][pid]
    family = p["name"][0]["family"]
    assert pid in run(Patient, {"family": family}, [("family", family)])
    assert pid in run(
        Patient,
        {"name": family, "birthdate": p["birthDate"]},
        [("name", family), ("birthdate", p["birthDate"])],
    )
    ident = p["identifier"][0]
    assert pid in run(
        Patient,
        {"identifier": f"{ident['system']}|{ident['value']}"},
        [("identifier", f"{ident['system']}|{ident['value']}")],
    )
    assert pid in run(Patient, {"gender": p["gender"], "name": family},
                      [("gender", p["gender"]), ("name", family)])  # fmt: skip
    labs = run(
        Observation,
        {"patient": pid, "category": "laboratory"},
        [("patient", pid), ("category", "laboratory")],
    )
    assert len(labs) > 7  # several pages of seven, followed by the client
    year = _year(corpus, "Observation", pid, "date")
    run(
        Observation,
        {"patient": pid, "category": "vital-signs", "date": f"ge{year}"},
        [("patient", pid), ("category", "vital-signs"), ("date", f"ge{year}")],
    )
    run(Condition, {"patient": pid}, [("patient", pid)])
    mpid = _with(corpus, "MedicationRequest", None)[0]
    intent = "order"
    statuses = {
        corpus.res["MedicationRequest"][rid].get("status")
        for rid in corpus.match("MedicationRequest", "patient", f"Patient/{mpid}")
    }
    status = sorted(s for s in statuses if s)[0]
    run(
        MedicationRequest,
        {"patient": mpid, "intent": intent, "status": status},
        [("patient", mpid), ("intent", intent), ("status", status)],
    )
    run(Encounter, {"patient": pid}, [("patient", pid)])
    run(
        Encounter,
        {"patient": pid, "date": f"ge{year}"},
        [("patient", pid), ("date", f"ge{year}")],
    )
