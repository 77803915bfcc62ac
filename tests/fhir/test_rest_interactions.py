"""The RESTful interactions of the FHIR API, through the full request path."""

from __future__ import annotations

import json

import pytest

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "http://example.org/mrn", "value": "MRN-1001"}],
    "name": [{"family": "Nguyen", "given": ["Linh"]}],
    "gender": "female",
    "birthDate": "1984-03-09",
}


def _create(fhir, body=None, **kw):
    resp = fhir.post("Patient", body or PATIENT, **kw)
    assert resp.status == 201, resp.body
    return resp


def test_create_assigns_id_version_and_location(fhir):
    resp = _create(fhir)
    body = resp.json()
    assert body["id"] and body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert resp.headers["etag"] == 'W/"1"'
    assert resp.headers["location"] == (f"http://testserver/fhir/Patient/{body['id']}/_history/1")
    assert "last-modified" in resp.headers
    assert resp.headers["content-type"].startswith("application/fhir+json")


def test_a_create_is_indexed_with_the_id_it_was_given(fhir):
    """A create's index rows are computed before it queues for the writer; they carry the id
    the resource is stored under, not the one in the body (a create ignores that one)."""
    from django.db import connection

    created = _create(fhir, {**PATIENT, "id": "ignored-by-create"}).json()
    assert created["id"] != "ignored-by-create"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT t.content FROM fhir_text t JOIN fhir_resource r ON r.id = t.resource_id "
            "WHERE r.resource_type = 'Patient' AND r.fhir_id = %s",
            [created["id"]],
        )
        (content,) = cur.fetchone()
    assert created["id"] in content and "ignored-by-create" not in content


def test_read_returns_the_stored_bytes(fhir):
    created = _create(fhir)
    read = fhir.get(f"Patient/{created.json()['id']}")
    assert read.status == 200
    assert read.body == created.body
    assert read.headers["etag"] == 'W/"1"'


def test_update_makes_a_new_version_and_every_version_stays_readable(fhir):
    pid = _create(fhir).json()["id"]
    changed = {**PATIENT, "id": pid, "gender": "other"}
    upd = fhir.put(f"Patient/{pid}", changed)
    assert upd.status == 200 and upd.json()["meta"]["versionId"] == "2"
    assert fhir.get(f"Patient/{pid}/_history/1").json()["gender"] == "female"
    assert fhir.get(f"Patient/{pid}/_history/2").json()["gender"] == "other"
    assert fhir.get(f"Patient/{pid}/_history/3").status == 404


def test_update_as_create_with_client_id(fhir):
    resp = fhir.put("Patient/client-chosen-1", {**PATIENT, "id": "client-chosen-1"})
    assert resp.status == 201
    assert fhir.get("Patient/client-chosen-1").status == 200


def test_update_rejects_mismatched_or_missing_id(fhir):
    assert fhir.put("Patient/a1", {**PATIENT, "id": "b2"}).status == 400
    assert fhir.put("Patient/a1", PATIENT).status == 400
    assert fhir.put("Patient/bad id!", {**PATIENT, "id": "bad id!"}).status == 400


def test_if_match_guards_against_stale_updates(fhir):
    pid = _create(fhir).json()["id"]
    body = {**PATIENT, "id": pid}
    ok = fhir.put(f"Patient/{pid}", body, headers={"If-Match": 'W/"1"'})
    assert ok.status == 200
    stale = fhir.put(f"Patient/{pid}", body, headers={"If-Match": 'W/"1"'})
    assert stale.status == 412
    assert stale.json()["resourceType"] == "OperationOutcome"


def test_conditional_reads_answer_304(fhir):
    pid = _create(fhir).json()["id"]
    assert fhir.get(f"Patient/{pid}", headers={"If-None-Match": 'W/"1"'}).status == 304
    assert fhir.get(f"Patient/{pid}", headers={"If-None-Match": 'W/"9"'}).status == 200
    future = "Wed, 01 Jan 2098 00:00:00 GMT"
    past = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert fhir.get(f"Patient/{pid}", headers={"If-Modified-Since": future}).status == 304
    assert fhir.get(f"Patient/{pid}", headers={"If-Modified-Since": past}).status == 200


def test_json_patch(fhir):
    pid = _create(fhir).json()["id"]
    ops = [
        {"op": "replace", "path": "/gender", "value": "male"},
        {"op": "add", "path": "/active", "value": True},
    ]
    resp = fhir(
        "PATCH", f"Patient/{pid}", json.dumps(ops), content_type="application/json-patch+json"
    )
    assert resp.status == 200, resp.body
    body = resp.json()
    assert body["gender"] == "male" and body["active"] is True and body["meta"]["versionId"] == "2"
    bad = fhir(
        "PATCH",
        f"Patient/{pid}",
        json.dumps([{"op": "replace", "path": "/nothere/x", "value": 1}]),
        content_type="application/json-patch+json",
    )
    assert bad.status == 422
    stale = fhir(
        "PATCH",
        f"Patient/{pid}",
        json.dumps(ops),
        content_type="application/json-patch+json",
        headers={"If-Match": 'W/"1"'},
    )
    assert stale.status == 412


def test_delete_is_logical_and_reads_answer_gone(fhir):
    pid = _create(fhir).json()["id"]
    assert fhir.delete(f"Patient/{pid}").status == 204
    gone = fhir.get(f"Patient/{pid}")
    assert gone.status == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    assert fhir.get(f"Patient/{pid}/_history/1").status == 200
    assert fhir.delete(f"Patient/{pid}").status == 204  # idempotent
    hist = fhir.get(f"Patient/{pid}/_history").json()
    assert [e["request"]["method"] for e in hist["entry"]] == ["DELETE", "POST"]
    # An update after deletion brings the resource back as a new version.
    back = fhir.put(f"Patient/{pid}", {**PATIENT, "id": pid})
    assert back.status == 201 and back.json()["meta"]["versionId"] == "3"


def test_history_instance_type_and_system_with_paging(fhir):
    pid = _create(fhir).json()["id"]
    for gender in ("male", "other", "unknown"):
        fhir.put(f"Patient/{pid}", {**PATIENT, "id": pid, "gender": gender})
    inst = fhir.get(f"Patient/{pid}/_history?_count=2").json()
    assert inst["type"] == "history"
    assert [e["resource"]["meta"]["versionId"] for e in inst["entry"]] == ["4", "3"]
    nxt = next(link["url"] for link in inst["link"] if link["relation"] == "next")
    page2 = fhir.get(nxt.split("/fhir/", 1)[1]).json()
    assert [e["resource"]["meta"]["versionId"] for e in page2["entry"]] == ["2", "1"]
    assert not any(link["relation"] == "next" for link in page2["link"])
    fhir.post(
        "Observation", {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    )
    typ = fhir.get("Patient/_history").json()
    assert {e["resource"]["resourceType"] for e in typ["entry"]} == {"Patient"}
    system = fhir.get("_history").json()
    assert {e["resource"]["resourceType"] for e in system["entry"]} == {"Patient", "Observation"}
    since = inst["entry"][0]["resource"]["meta"]["lastUpdated"]
    recent = fhir.get(f"_history?_since={since}").json()
    assert len(recent["entry"]) == 2  # the last Patient version and the Observation


def test_conditional_create(fhir):
    headers = {"If-None-Exist": "identifier=http://example.org/mrn|MRN-1001"}
    first = fhir.post("Patient", PATIENT, headers=headers)
    second = fhir.post("Patient", PATIENT, headers=headers)
    assert first.status == 201 and second.status == 200
    assert first.json()["id"] == second.json()["id"]
    _create(fhir)  # now two match
    assert fhir.post("Patient", PATIENT, headers=headers).status == 412


def test_conditional_update_and_delete(fhir):
    crit = "identifier=http://example.org/mrn|MRN-2002"
    body = {**PATIENT, "identifier": [{"system": "http://example.org/mrn", "value": "MRN-2002"}]}
    created = fhir.put(f"Patient?{crit}", body)
    assert created.status == 201
    pid = created.json()["id"]
    updated = fhir.put(f"Patient?{crit}", {**body, "gender": "male"})
    assert updated.status == 200 and updated.json()["id"] == pid
    assert fhir.get(f"Patient/{pid}").json()["gender"] == "male"
    assert fhir.put("Patient?_id=" + pid, {**body, "id": "other"}).status == 400
    assert fhir.delete(f"Patient?{crit}").status == 204
    assert fhir.get(f"Patient/{pid}").status == 410
    assert fhir.delete("Patient?identifier=nothing-matches").status == 204
    _create(fhir)
    _create(fhir)
    assert fhir.delete("Patient?identifier=MRN-1001").status == 412


def test_search_by_identifier_and_id(fhir):
    a = _create(fhir).json()["id"]
    other = {**PATIENT, "identifier": [{"system": "urn:other", "value": "X-9"}]}
    b = _create(fhir, other).json()["id"]
    by_sys = fhir.get("Patient?identifier=http://example.org/mrn|MRN-1001").json()
    assert [e["resource"]["id"] for e in by_sys["entry"]] == [a] and by_sys["total"] == 1
    by_code = fhir.get("Patient?identifier=X-9").json()
    assert [e["resource"]["id"] for e in by_code["entry"]] == [b]
    both = fhir.get(f"Patient?_id={a},{b}").json()
    assert both["total"] == 2
    warn = fhir.get("Patient?identifier=X-9&nonsense=1").json()
    assert warn["entry"][-1]["search"]["mode"] == "outcome"
    strict = fhir.get("Patient?nonsense=1", headers={"Prefer": "handling=strict"})
    assert strict.status == 400


def test_prefer_return(fhir):
    minimal = fhir.post("Patient", PATIENT, headers={"Prefer": "return=minimal"})
    assert minimal.status == 201 and minimal.body == b"" and "location" in minimal.headers
    oo = fhir.post("Patient", PATIENT, headers={"Prefer": "return=OperationOutcome"})
    assert oo.json()["resourceType"] == "OperationOutcome"
    rep = fhir.post("Patient", PATIENT, headers={"Prefer": "return=representation"})
    assert rep.json()["resourceType"] == "Patient"


def test_summary_elements_and_pretty(fhir):
    body = {
        **PATIENT,
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
        "maritalStatus": {"text": "Married"},
    }
    pid = _create(fhir, body).json()["id"]
    summary = fhir.get(f"Patient/{pid}?_summary=true").json()
    assert "name" in summary and "maritalStatus" not in summary and "text" not in summary
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    data = fhir.get(f"Patient/{pid}?_summary=data").json()
    assert "text" not in data and "maritalStatus" in data
    text = fhir.get(f"Patient/{pid}?_summary=text").json()
    assert "text" in text and "name" not in text
    elements = fhir.get(f"Patient/{pid}?_elements=birthDate").json()
    assert set(elements) == {"resourceType", "id", "meta", "birthDate"}
    pretty = fhir.get(f"Patient/{pid}?_pretty=true")
    assert b'\n  "resourceType"' in pretty.body
    assert fhir.get(f"Patient/{pid}?_summary=bogus").status == 400


@pytest.mark.parametrize(
    "method,path,body,status",
    [
        ("POST", "Patient", b'{"resourceType": "Patient", "name": [', 400),
        ("GET", "Unicorn/1", None, 404),
        ("GET", "Patient/does-not-exist", None, 404),
        ("POST", "Patient/123", PATIENT, 405),
        ("DELETE", "Patient", None, 405),
        ("POST", "Patient", {**PATIENT, "resourceType": "Observation"}, 400),
        ("POST", "Patient", [1, 2], 400),
        ("POST", "Patient", {"name": "no type"}, 400),
        ("GET", "Patient/1/_history/abc", None, 404),
    ],
)
def test_errors_are_operation_outcomes(fhir, method, path, body, status):
    resp = fhir(method, path, body)
    assert resp.status == status, resp.body
    outcome = resp.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    assert "Traceback" not in resp.body.decode()


def test_malformed_json_says_where_it_broke(fhir):
    resp = fhir.post("Patient", b'{"resourceType": "Patient",\n "name": [}')
    assert resp.status == 400
    assert "line 2" in resp.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "body",
    [b'{"resourceType": "Patient", "x": NaN}', b'{"resourceType": "Patient", "text": "\xff"}'],
)
def test_what_json_does_not_allow_is_a_400(fhir, body):
    resp = fhir.post("Patient", body)
    assert resp.status == 400, resp.body
    assert resp.json()["issue"][0]["diagnostics"].startswith("Malformed JSON")


def test_xml_is_declined_and_unknown_media_type_refused(fhir):
    assert fhir.get("metadata", headers={"Accept": "application/fhir+xml"}).status == 406
    assert fhir.get("metadata?_format=xml").status == 406
    resp = fhir("POST", "Patient", "<Patient/>", content_type="application/fhir+xml")
    assert resp.status == 415


def test_body_too_large(fhir, settings):
    settings.EHR_MAX_BODY = 100
    resp = fhir.post("Patient", {**PATIENT, "text": {"status": "generated", "div": "x" * 200}})
    assert resp.status == 413


def test_capability_statement_describes_what_is_supported(fhir):
    cs = fhir.get("metadata").json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    assert len(rest["resource"]) == 146
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert {"read", "vread", "create", "update", "patch", "delete", "history-instance"} <= codes
    names = {p["name"] for p in patient["searchParam"]}
    from ehr.fhir import definitions

    official = {
        n
        for n, d in definitions.search_params("Patient").items()
        if d["type"] != "special" and n not in ("_query", "_filter")
    }
    assert official <= names and {"_id", "_lastUpdated", "_has", "_list"} <= names
    assert {"name", "birthdate", "identifier", "general-practitioner"} <= names
    assert {o["name"] for o in patient["operation"]} == {"validate", "everything"}
    assert {i["code"] for i in rest["interaction"]} == {
        "transaction",
        "batch",
        "history-system",
        "search-system",
    }


def test_the_current_version_is_stored_once_and_history_keeps_every_version(fhir):
    """The current JSON lives in the resource row only; a later write moves it to its version
    row, so vread and history still return every version as it was."""
    from django.db import connection

    def version_texts(pid):
        with connection.cursor() as cur:
            cur.execute(
                "SELECT v.version_id, v.content FROM fhir_resource_version v "
                "JOIN fhir_resource r ON r.id = v.resource_id "
                "WHERE r.resource_type = 'Patient' AND r.fhir_id = %s ORDER BY v.version_id",
                [pid],
            )
            return cur.fetchall()

    first = _create(fhir)
    pid = first.json()["id"]
    assert version_texts(pid) == [(1, None)]
    second = fhir.put(f"Patient/{pid}", {**PATIENT, "id": pid, "gender": "other"})
    assert second.status == 200
    assert version_texts(pid) == [(1, first.body.decode()), (2, None)]
    assert fhir.get(f"Patient/{pid}/_history/1").body == first.body
    assert fhir.get(f"Patient/{pid}/_history/2").body == second.body
    assert fhir.delete(f"Patient/{pid}").status in (200, 204)
    assert version_texts(pid)[1] == (2, second.body.decode())
    assert fhir.get(f"Patient/{pid}/_history/2").body == second.body
    history = fhir.get(f"Patient/{pid}/_history").json()
    assert [e.get("resource", {}).get("gender") for e in history["entry"]] == [
        None,
        "other",
        "female",
    ]
    again = fhir.put(f"Patient/{pid}", {**PATIENT, "id": pid, "gender": "unknown"})
    assert again.status == 201 and again.json()["meta"]["versionId"] == "4"
    assert fhir.get(f"Patient/{pid}/_history/4").body == again.body
    assert fhir.get(f"Patient/{pid}/_history/3").status == 410
    assert fhir.get("_history?_count=2").json()["entry"][0]["resource"]["gender"] == "unknown"
