"""Who may do what through the FHIR API: the role matrix, patient isolation, and the audit
record each request leaves. Everything goes through the full Django request path with real
access tokens."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ehr.fhir.definitions.paths import package_dir
from tests.conftest import SYNTHEA, Fhir, mint_token
from tests.fhir.examples import example_names
from tests.fhir.known_invalid import KNOWN_INVALID

STAFF_ROLES = ("admin", "provider", "nurse", "front_desk", "biller")


def _one_example_per_type() -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in example_names():
        if name in KNOWN_INVALID:
            continue
        res = json.loads((package_dir() / name).read_bytes())
        rtype = res["resourceType"]
        if rtype in ("Bundle", "AuditEvent") or rtype in out:
            continue
        out[rtype] = res
    return out


def _user_token(username: str, role: str, scope: str = "user/*.cruds", **kw) -> str:
    from ehr.identity.accounts import create_user

    user = create_user(username, role, check_policy=False, fhir_user=kw.pop("fhir_user", ""))
    return mint_token(scope, user=user, **kw)


def _audit_rows(since: int = 0) -> list[dict]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT seq, action, outcome, status, username, role, resource_type, resource_id, "
            "version, query, patient FROM audit_record WHERE seq > %s ORDER BY seq",
            [since],
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _last_seq() -> int:
    rows = _audit_rows()
    return rows[-1]["seq"] if rows else 0


# ---------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_every_role_on_every_resource_type(client, db, role):
    from ehr.identity.permissions import role_allows

    examples = _one_example_per_type()
    assert len(examples) > 120
    admin = Fhir(client, mint_token())
    for rtype, res in examples.items():
        assert admin.put(f"{rtype}/{res['id']}", res).status in (200, 201), rtype
    api = Fhir(client, _user_token(f"u-{role}", role))
    seen: Counter = Counter()
    for rtype, res in examples.items():
        rid = res["id"]
        checks = [
            ("s", api.get(f"{rtype}?_count=1"), 200),
            ("r", api.get(f"{rtype}/{rid}"), 200),
            ("u", api.put(f"{rtype}/{rid}", res), 200),
            ("c", api.post(rtype, {k: v for k, v in res.items() if k != "id"}), 201),
            ("d", api.delete(f"{rtype}/{rid}"), 204),
        ]
        for letter, answer, ok in checks:
            allowed = role_allows(role, rtype, letter)
            expected = ok if allowed else 403
            assert answer.status == expected, (role, rtype, letter, answer.body[:300])
            if expected == 403:
                assert answer.json()["issue"][0]["code"] == "forbidden"
            seen[allowed] += 1
    assert seen[True] and (role == "admin" or seen[False])


def test_default_roles_keep_clinical_data_from_desk_and_billing(db):
    from ehr.identity.permissions import role_allows

    # (front desk keeps DocumentReference: scanned insurance cards and IDs are documents)
    for rtype in ("Observation", "DiagnosticReport", "MedicationRequest", "Condition"):
        assert not role_allows("front_desk", rtype, "r"), rtype
    for rtype in ("Observation", "DocumentReference", "Composition"):
        assert not role_allows("biller", rtype, "r"), rtype
    assert role_allows("biller", "Claim", "c") and role_allows("front_desk", "Appointment", "c")
    assert not role_allows("nurse", "Observation", "d") and role_allows("nurse", "Observation", "c")
    assert role_allows("provider", "Observation", "d")


def test_a_token_never_grants_more_than_the_role(client, db):
    """A front-desk user's token with every scope still cannot read results."""
    api = Fhir(client, _user_token("desk", "front_desk", "user/*.cruds"))
    assert api.get("Observation").status == 403
    assert api.get("Patient").status == 200
    narrow = Fhir(client, _user_token("prov", "provider", "user/Patient.rs"))
    assert narrow.get("Patient").status == 200
    assert narrow.get("Observation").status == 403  # the role would allow it; the scope not
    assert narrow.post("Patient", {"resourceType": "Patient"}).status == 403


def test_requests_without_a_valid_token_are_refused(client, db):
    anonymous = Fhir(client)
    resp = anonymous.get("Patient")
    assert resp.status == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert resp.json()["resourceType"] == "OperationOutcome"
    bad = Fhir(client, "not-a-token")
    assert bad.get("Patient/1").status == 401
    assert "invalid_token" in bad.get("Patient/1").headers["www-authenticate"]
    meta = anonymous.get("metadata")
    assert meta.status == 200
    assert meta.json()["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


def test_granular_scope_limits_reads_and_searches(client, db):
    admin = Fhir(client, mint_token())
    pid = admin.post("Patient", {"resourceType": "Patient"}).json()["id"]
    ids = {}
    for cat in ("laboratory", "vital-signs"):
        obs = {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": cat,
                        }
                    ]
                }
            ],
            "code": {"text": cat},
            "subject": {"reference": f"Patient/{pid}"},
        }
        ids[cat] = admin.post("Observation", obs).json()["id"]
    scope = (
        "user/Observation.rs?category=http://terminology.hl7.org/CodeSystem/"
        "observation-category|laboratory user/Patient.rs"
    )
    api = Fhir(client, _user_token("labapp", "provider", scope))
    found = api.get("Observation").json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [ids["laboratory"]]
    assert api.get(f"Observation/{ids['laboratory']}").status == 200
    assert api.get(f"Observation/{ids['vital-signs']}").status == 403
    rev = api.get(f"Patient?_id={pid}&_revinclude=Observation:subject").json()
    assert {e["resource"]["id"] for e in rev["entry"]} == {pid, ids["laboratory"]}


# ---------------------------------------------------------------------------- isolation


@pytest.fixture
def two_patients(client, db):
    """Two Synthea patients' whole records, loaded by an administrator."""
    admin = Fhir(client, mint_token())
    files = sorted(SYNTHEA.glob("*.json"))[:2]
    owned: list[dict[str, set[str]]] = []
    for path in files:
        resp = admin.post("", path.read_bytes())
        assert resp.status == 200
        mine: dict[str, set[str]] = {}
        for entry in resp.json()["entry"]:
            rtype, rid = entry["response"]["location"].split("/fhir/")[-1].split("/")[:2]
            mine.setdefault(rtype, set()).add(rid)
        owned.append(mine)
    (a_pid,) = owned[0]["Patient"]
    (b_pid,) = owned[1]["Patient"]
    return admin, a_pid, b_pid, owned[0], owned[1]


def _ids(bundle: dict) -> set[tuple[str, str]]:
    return {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] != "OperationOutcome"
    }


SHARED = {"Practitioner", "Organization", "Location", "PractitionerRole", "Medication"}


def _assert_isolated(api: Fhir, a_pid: str, b_pid: str, mine: dict, theirs: dict) -> None:
    theirs_private = {(t, i) for t, ids in theirs.items() if t not in SHARED for i in ids} - {
        (t, i) for t, ids in mine.items() for i in ids
    }
    assert len(theirs_private) > 50
    # read, vread and instance history of every one of the other patient's resources
    for rtype, rid in sorted(theirs_private):
        assert api.get(f"{rtype}/{rid}").status == 403, (rtype, rid)
        assert api.get(f"{rtype}/{rid}/_history/1").status == 403, (rtype, rid)
        assert api.get(f"{rtype}/{rid}/_history").status == 403, (rtype, rid)
    # every type searched, with includes both ways, finds only this patient's record
    seen: set[tuple[str, str]] = set()
    for rtype in sorted(set(mine) | set(theirs)):
        resp = api.get(f"{rtype}?_count=500&_include=*&_revinclude=*")
        assert resp.status == 200, (rtype, resp.body[:300])
        seen |= _ids(resp.json())
    assert seen and not (seen & theirs_private)
    assert ("Patient", a_pid) in seen
    # system search, chains and reverse chains
    for query in (
        "?_type=Observation,Condition,Encounter&_count=500",
        f"Observation?subject:Patient._id={b_pid}",
        f"Patient?_has:Observation:subject:status=final&_id={b_pid}",
        f"Observation?patient={b_pid}",
        f"Patient/{b_pid}/Observation",
    ):
        resp = api.get(query)
        assert resp.status in (200, 403), query
        if resp.status == 200:
            assert not (_ids(resp.json()) & theirs_private), query
    # $everything and history across resources
    assert api.get(f"Patient/{b_pid}/$everything").status == 403
    everything = api.get(f"Patient/{a_pid}/$everything?_count=1000")
    assert everything.status == 200
    assert not (_ids(everything.json()) & theirs_private)
    assert api.get("Observation/_history").status == 403
    assert api.get("_history").status == 403
    # writes into the other patient's record
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "note"},
        "subject": {"reference": f"Patient/{b_pid}"},
    }
    assert api.post("Observation", obs).status == 403


def test_a_patient_user_sees_only_their_own_record(client, two_patients):
    admin, a_pid, b_pid, mine, theirs = two_patients
    token = _user_token("pat-a", "patient", "patient/*.cruds", fhir_user=f"Patient/{a_pid}")
    _assert_isolated(Fhir(client, token), a_pid, b_pid, mine, theirs)


def test_a_staff_app_launched_for_one_patient_sees_only_that_patient(client, two_patients):
    admin, a_pid, b_pid, mine, theirs = two_patients
    token = _user_token("doc", "provider", "patient/*.rs", patient=a_pid)
    api = Fhir(client, token)
    _assert_isolated(api, a_pid, b_pid, mine, theirs)
    own = next(iter(mine["Observation"]))
    assert api.get(f"Observation/{own}").status == 200


# ---------------------------------------------------------------------------- audit


def test_every_request_leaves_exactly_its_audit_record(client, db):
    token = _user_token("auditee", "provider")
    api = Fhir(client, token)
    start = _last_seq()
    created = api.post("Patient", {"resourceType": "Patient", "name": [{"family": "Quinn"}]})
    pid = created.json()["id"]
    api.get(f"Patient/{pid}")
    api.get(f"Patient/{pid}/_history/1")
    api.get("Patient?family=quinn")
    api.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid, "active": True})
    api.post("Patient", {"resourceType": "Patient", "gender": "bogus"})  # invalid: 400
    api.get("AuditEvent")  # a provider may not read the trail
    api.delete(f"Patient/{pid}")
    Fhir(client).get(f"Patient/{pid}")  # no token
    rows = _audit_rows(start)
    got = [(r["action"], r["outcome"], r["status"], r["resource_type"]) for r in rows]
    assert got == [
        ("create", "success", 201, "Patient"),
        ("read", "success", 200, "Patient"),
        ("vread", "success", 200, "Patient"),
        ("search", "success", 200, "Patient"),
        ("update", "success", 200, "Patient"),
        ("create", "failed", 400, "Patient"),
        ("access-denied", "denied", 403, "AuditEvent"),
        ("delete", "success", 204, "Patient"),
        ("access-denied", "denied", 401, "Patient"),
    ]
    assert all(r["username"] == "auditee" and r["role"] == "provider" for r in rows[:-1])
    assert rows[0]["resource_id"] == pid and rows[0]["version"] == "1"
    assert rows[4]["version"] == "2" and rows[2]["version"] == "1"
    assert rows[1]["patient"] == pid
    assert rows[3]["query"] == "family=quinn"
    assert rows[-1]["username"] == "anonymous"


def test_the_audit_trail_reads_as_audit_events_for_administrators_only(client, db):
    admin_user_token = _user_token("boss", "admin")
    admin = Fhir(client, admin_user_token)
    pid = admin.post("Patient", {"resourceType": "Patient"}).json()["id"]
    admin.get(f"Patient/{pid}")
    found = admin.get(f"AuditEvent?patient={pid}&_sort=-date").json()
    events = [e["resource"] for e in found["entry"]]
    assert {e["subtype"][0]["code"] for e in events} >= {"create", "read"}
    assert admin.put(f"AuditEvent/{events[0]['id']}", events[0]).status == 405
    assert admin.delete(f"AuditEvent/{events[0]['id']}").status == 405
    nurse = Fhir(client, _user_token("nurse1", "nurse"))
    assert nurse.get("AuditEvent").status == 403


def test_a_write_and_its_audit_record_commit_together(client, db, monkeypatch):
    """If the audit record cannot be written, the write is not stored either."""
    api = Fhir(client, _user_token("w", "provider"))

    def broken(entries):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("ehr.audit.api_requests.append", broken)
    resp = api.post("Patient", {"resourceType": "Patient", "name": [{"family": "Lost"}]})
    assert resp.status == 500
    monkeypatch.undo()
    api2 = Fhir(client, mint_token())
    assert api2.get("Patient?family=Lost").json().get("total", 0) == 0
