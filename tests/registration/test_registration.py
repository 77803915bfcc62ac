"""Registration round trip, field errors that keep what was typed, duplicates, permissions."""

from __future__ import annotations

import datetime as dt

import pytest

from ehr.audit.models import AuditRecord
from ehr.fhir.search import engine
from ehr.fhir.storage import repository
from ehr.fhir.validation.profiles import known_profile
from ehr.fhir.validation.validator import validate
from ehr.registration import codes
from ehr.registration.matching import Person, score

FORM = {
    "family": "Okonkwo", "given": "Adaeze", "middle": "Ngozi", "preferred": "Ada",
    "prev_family": "Eze", "prev_given": "Adaeze", "prev_until": "06/2015",
    "birth_date": "3/9/1982", "gender": "female", "birth_sex": "F",
    "gender_identity": "446141000124107", "pronouns": "LA29519-8",
    "sexual_orientation": "20430005",
    "race": ["2054-5"], "race_detailed": ["2060-2"], "ethnicity": "2186-5",
    "language": "en-US", "contact_method": "sms", "text_ok": "on",
    "phone_mobile": "614 555 0177", "email": "ada@example.org",
    "addr1_line1": "12 Maple Street", "addr1_city": "Columbus", "addr1_state": "OH",
    "addr1_postal": "43215",
    "addr2_use": "work", "addr2_line1": "1 Capitol Sq", "addr2_city": "Columbus",
    "addr2_state": "OH", "addr2_postal": "43215",
    "ec1_family": "Okonkwo", "ec1_given": "Chidi", "ec1_relationship": "SPS",
    "ec1_phone": "(614) 555-0178",
    "guarantor": "other", "g_family": "Okonkwo", "g_given": "Chidi", "g_relationship": "SPS",
    "g_birth": "1/2/1980",
}  # fmt: skip


def register(client, **changes):
    data = {**FORM, **changes}
    return client.post("/patients/new", {k: v for k, v in data.items() if v is not None})


def test_registration_round_trip_us_core(signed_in):
    desk = signed_in("front_desk")
    assert desk.get("/patients/new").status_code == 200
    resp = register(desk)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    pid = resp["Location"].split("/")[2]
    p = repository.read("Patient", pid).resource()
    assert codes.US_CORE_PATIENT in p["meta"]["profile"]
    profiles = [codes.US_CORE_PATIENT] if known_profile(codes.US_CORE_PATIENT) else []
    assert not [i for i in validate(p, profiles) if i.severity == "error"]
    mrn = p["identifier"][0]
    assert mrn["system"] == codes.MRN_SYSTEM and mrn["value"].startswith("MRN9")
    assert {n["use"] for n in p["name"]} == {"official", "usual", "old"}
    old = next(n for n in p["name"] if n["use"] == "old")
    assert old["family"] == "Eze" and old["period"]["end"] == "2015-06-01"
    assert p["birthDate"] == "1982-03-09" and p["gender"] == "female"
    ext = {e["url"]: e for e in p["extension"]}
    race = ext[codes.RACE_URL]["extension"]
    assert {"url": "ombCategory", "valueCoding": {"system": codes.CDC_RACE, "code": "2054-5",
            "display": "Black or African American"}} in race  # fmt: skip
    assert any(e["url"] == "detailed" and e["valueCoding"]["code"] == "2060-2" for e in race)
    assert any(e["url"] == "text" for e in race)
    eth = ext[codes.ETHNICITY_URL]["extension"]
    assert eth[0]["valueCoding"]["code"] == "2186-5"
    assert ext[codes.BIRTHSEX_URL]["valueCode"] == "F"
    gi = ext[codes.GENDER_IDENTITY_URL]["valueCodeableConcept"]["coding"][0]
    assert gi["system"] == codes.SNOMED and gi["code"] == "446141000124107"
    pron = ext[codes.PRONOUNS_URL]["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert pron["system"] == codes.LOINC and pron["code"] == "LA29519-8"
    mobile = next(t for t in p["telecom"] if t.get("use") == "mobile")
    assert mobile["value"] == "(614) 555-0177" and mobile["rank"] == 1
    assert p["communication"][0]["language"]["coding"][0]["code"] == "en-US"
    assert [a["use"] for a in p["address"]] == ["home", "work"]
    assert p["contact"][0]["relationship"][0]["coding"][0]["code"] == "C"
    # guarantor and sexual orientation written in the same transaction
    rps = engine.run(engine.parse("RelatedPerson", [("patient", pid)])).rows
    assert len(rps) == 1
    rp = rps[0].resource()
    assert rp["relationship"][0]["coding"][0]["code"] == "GUAR"
    obs = engine.run(engine.parse("Observation", [("subject", f"Patient/{pid}")])).rows
    assert len(obs) == 1
    o = obs[0].resource()
    assert o["code"]["coding"][0]["code"] == "76690-7"
    assert o["valueCodeableConcept"]["coding"][0]["code"] == "20430005"
    # audited: one create per written resource, with the patient
    creates = AuditRecord.objects.filter(action="create", patient=pid)
    assert {r.resource_type for r in creates} == {"Patient", "RelatedPerson", "Observation"}
    # the chart shows it, audited as a read
    chart = desk.get(f"/patients/{pid}/")
    body = chart.content.decode()
    assert chart.status_code == 200
    assert "OKONKWO, Adaeze Ngozi" in body and "Preferred name" in body and "Ada" in body
    assert "Born 09-Mar-1982" not in body  # label and value are separate elements
    assert "09-Mar-1982" in body and ">9000 0001<" in body
    assert "Allergies not recorded" in body  # the front desk reads allergies for the banner
    assert AuditRecord.objects.filter(action="read", patient=pid).exists()


def test_mrns_follow_a_sequence(signed_in):
    desk = signed_in("front_desk")
    a = register(desk)["Location"].split("/")[2]
    second = register(desk, family="Adeyemi", given="Tunde", birth_date="5/5/1990",
                      gender="male", phone_mobile="614 555 0900", ec1_phone="614 555 0901",
                      addr1_line1="99 Oak Ave", g_family="", guarantor="self")  # fmt: skip
    b = second["Location"].split("/")[2]
    mrns = [repository.read("Patient", x).resource()["identifier"][0]["value"] for x in (a, b)]
    assert int(mrns[1][3:]) == int(mrns[0][3:]) + 1


def test_errors_beside_fields_and_typed_values_kept(signed_in):
    desk = signed_in("front_desk")
    resp = register(desk, birth_date="31/31/1982", phone_mobile="555", addr1_postal="4321",
                    g_family="")  # fmt: skip
    assert resp.status_code == 400
    body = resp.content.decode()
    assert 'class="error-summary"' in body and 'href="#id_birth_date"' in body
    assert 'id="id_birth_date_error"' in body and "Enter a real date" in body
    assert 'aria-invalid="true"' in body and 'aria-describedby="id_birth_date_error' in body
    assert "Enter a 10-digit phone number" in body
    assert "Enter a ZIP code" in body
    assert "Enter the guarantor" in body
    # nothing typed is lost
    assert 'value="31/31/1982"' in body and 'value="Okonkwo"' in body
    assert 'value="12 Maple Street"' in body and 'value="ada@example.org"' in body
    assert 'value="2054-5" id="id_race_2" checked' in body or 'value="2054-5"' in body
    assert "checked" in body


def test_duplicate_score_weights():
    base = Person("Smith", "John", dt.date(1945, 7, 14), "male", ["(614) 555-0123"],
                  "12 Elm St", "43215")  # fmt: skip
    same = score(base, base)
    assert same.level == "probable" and "same date of birth" in same.reasons
    typo = score(Person("Smtih", "Jon", dt.date(1945, 7, 14), "male"), base)
    assert typo.level == "probable" and "similar family name" in typo.reasons
    swapped = score(Person("John", "Smith", dt.date(1945, 7, 14), "male"), base)
    assert "family and given names swapped" in swapped.reasons and swapped.level == "probable"
    swapped_dm = score(Person("Smith", "John", dt.date(1945, 12, 7)),
                       Person("Smith", "John", dt.date(1945, 7, 12)))  # fmt: skip
    assert "date of birth with day and month swapped" in swapped_dm.reasons
    other = score(Person("Smith", "Jane", dt.date(1990, 1, 1), "female"), base)
    assert other.level == "unlikely"
    by_phone = score(Person("Smith", "Johnny", None, "", ["614.555.0123"]), base)
    assert "same phone number" in by_phone.reasons


def test_duplicate_check_while_typing_and_required_confirmation(signed_in, people):
    desk = signed_in("front_desk")
    frag = desk.post("/patients/duplicates", {"family": "Smtih", "given": "John",
                     "birth_date": "07/14/1945", "gender": "male"})  # fmt: skip
    assert frag.status_code == 200
    body = frag.content.decode()
    assert "Possible duplicates" in body and "SMITH, John" in body and "Probable match" in body
    assert "similar family name" in body and "same date of birth" in body
    assert "SMYTH" not in body  # different given name, DOB and sex
    # saving the probable duplicate needs the confirmation, checked on the server
    data = {**FORM, "family": "Smith", "given": "John", "birth_date": "7/14/1945",
            "gender": "male", "phone_mobile": "614 555 0123"}  # fmt: skip
    resp = desk.post("/patients/new", data)
    assert resp.status_code == 400
    assert "This looks like a patient we already have" in resp.content.decode()
    assert "SMITH, John" in resp.content.decode()
    resp = desk.post("/patients/new", {**data, "not_duplicate": "on"})
    assert resp.status_code == 302


def test_edit_demographics_keeps_what_the_form_does_not_show(signed_in):
    desk = signed_in("front_desk")
    pid = register(desk)["Location"].split("/")[2]
    p = repository.read("Patient", pid).resource()
    p["photo"] = [{"contentType": "image/png", "data": "iVBORw0KGgo="}]
    p["telecom"].append({"system": "fax", "value": "614 555 0000"})
    repository.update("Patient", pid, p)
    page = desk.get(f"/patients/{pid}/edit")
    body = page.content.decode()
    assert page.status_code == 200 and 'value="Okonkwo"' in body and 'value="09-Mar-1982"' in body
    data = {**FORM, "birth_date": "09-Mar-1982", "addr1_line1": "14 Maple Street",
            "guarantor": "self", "g_family": ""}  # fmt: skip
    resp = desk.post(f"/patients/{pid}/edit", data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    after = repository.read("Patient", pid).resource()
    assert after["address"][0]["line"] == ["14 Maple Street"]
    assert after["photo"] and any(t["system"] == "fax" for t in after["telecom"])
    assert after["identifier"] == p["identifier"]
    rp = engine.run(engine.parse("RelatedPerson", [("patient", pid)])).rows[0].resource()
    assert rp["active"] is False  # the patient is now their own guarantor
    assert AuditRecord.objects.filter(action="update", patient=pid, resource_type="Patient")


@pytest.mark.parametrize("role,status", [("biller", 403), ("patient", 403), ("nurse", 200)])
def test_who_may_register(signed_in, role, status):
    client = signed_in(role)
    assert client.get("/patients/new").status_code == status
    if status == 403:
        assert register(client).status_code == 403


def test_anonymous_goes_to_sign_in(client):
    resp = client.get("/patients/new")
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")
