"""Merge moving references, coverage in order of benefits, documents stored and served."""

from __future__ import annotations

import base64
import struct
import zlib

from ehr.audit.models import AuditRecord
from ehr.fhir.search import engine
from ehr.fhir.storage import repository
from ehr.registration import codes

from .conftest import make_patient


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\x80\x20\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def payer(name="Buckeye Health Plan") -> str:
    return repository.create({
        "resourceType": "Organization", "active": True, "name": name,
        "type": [{"coding": [{"system": codes.ORG_TYPE, "code": "pay"}]}],
    }).id  # fmt: skip


def test_merge_moves_every_reference_and_keeps_the_source_readable(signed_in, people):
    src = make_patient("Smith", "Jon", "1945-07-14", "male", mrn="MRN99990001")
    tgt = people["smith"]
    enc = repository.create({"resourceType": "Encounter", "status": "finished",
                             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "AMB"},
                             "subject": {"reference": f"Patient/{src}"}}).id  # fmt: skip
    obs = repository.create({"resourceType": "Observation", "status": "final",
                             "code": {"text": "weight"}, "subject": {"reference": f"Patient/{src}"},
                             "encounter": {"reference": f"Encounter/{enc}"}}).id  # fmt: skip
    cov = repository.create({"resourceType": "Coverage", "status": "active",
                             "beneficiary": {"reference": f"Patient/{src}"},
                             "subscriber": {"reference": f"Patient/{src}"},
                             "payor": [{"reference": f"Organization/{payer()}"}]}).id  # fmt: skip
    other_ref = {"reference": f"Patient/{people['smyth']}"}
    untouched = repository.create({"resourceType": "Observation", "status": "final",
                                   "code": {"text": "x"}, "subject": other_ref}).id  # fmt: skip

    desk = signed_in("front_desk")
    assert desk.get("/patients/merge").status_code == 403
    admin = signed_in("admin")
    review = admin.get("/patients/merge", {"source": "MRN99990001", "target": "MRN12345678"})
    body = review.content.decode()
    assert review.status_code == 200 and "SMITH, Jon" in body and "SMITH, John" in body
    assert "<strong>3</strong> linked records" in body
    # not without the confirmation
    resp = admin.post("/patients/merge", {"source": src, "target": tgt, "step": "confirm"})
    assert resp.status_code == 200 and "Tick this box" in resp.content.decode()
    assert repository.read("Patient", src).resource().get("active") is True
    resp = admin.post("/patients/merge", {"source": src, "target": tgt, "step": "confirm",
                                          "confirm": "on"})  # fmt: skip
    assert resp.status_code == 302 and resp["Location"] == f"/patients/{tgt}/"

    assert repository.read("Encounter", enc).resource()["subject"]["reference"] == f"Patient/{tgt}"
    o = repository.read("Observation", obs).resource()
    assert o["subject"]["reference"] == f"Patient/{tgt}"
    assert o["encounter"]["reference"] == f"Encounter/{enc}"
    c = repository.read("Coverage", cov).resource()
    assert c["beneficiary"]["reference"] == c["subscriber"]["reference"] == f"Patient/{tgt}"
    other = repository.read("Observation", untouched).resource()
    assert other["subject"]["reference"] == f"Patient/{people['smyth']}"
    # the search index follows: the target's compartment now holds them
    found = {r.id for r in engine.run(engine.parse("Observation", [("patient", tgt)])).rows}
    assert obs in found
    s = repository.read("Patient", src).resource()
    assert s["active"] is False
    assert s["link"] == [{"other": {"reference": f"Patient/{tgt}"}, "type": "replaced-by"}]
    t = repository.read("Patient", tgt).resource()
    assert {"other": {"reference": f"Patient/{src}"}, "type": "replaces"} in t["link"]
    # the retired record still opens, marked as replaced
    page = admin.get(f"/patients/{src}/").content.decode()
    assert "Inactive record" in page and f"/patients/{tgt}/" in page
    assert AuditRecord.objects.filter(action="merge", patient=tgt).count() == 1
    assert AuditRecord.objects.filter(action="update", resource_type="Encounter").count() == 1


def coverage_form(**kw):
    data = {"order": "1", "payer": "", "kind": "5", "plan_name": "Gold PPO",
            "member_id": "XGP123456789", "group_number": "GRP55501", "relationship": "self",
            "start": "1/1/2026"}  # fmt: skip
    data.update(kw)
    return data


def test_coverage_in_order_of_benefits(signed_in, people):
    pid = people["garcia"]
    p1, p2 = payer("Anthem Blue (demo)"), payer("Medicare Part B (demo)")
    desk = signed_in("front_desk")
    page = desk.get(f"/patients/{pid}/coverage")
    assert page.status_code == 200 and "No coverage recorded" in page.content.decode()
    # secondary first, then primary: the list still shows primary first
    resp = desk.post(f"/patients/{pid}/coverage", coverage_form(order="2", payer=p2, kind="1",
                     member_id="1EG4TE5MK73", group_number=""))  # fmt: skip
    assert resp.status_code == 302, resp.content.decode()[:3000]
    resp = desk.post(f"/patients/{pid}/coverage", coverage_form(
        payer=p1, relationship="spouse", sub_family="García", sub_given="Luis",
        sub_birth="4/4/1985"))  # fmt: skip
    assert resp.status_code == 302, resp.content.decode()[:3000]
    # a second primary is refused beside the order field, values kept
    resp = desk.post(f"/patients/{pid}/coverage", coverage_form(payer=p2, member_id="ZZ9"))
    body = resp.content.decode()
    assert resp.status_code == 400 and "is already primary" in body and 'value="ZZ9"' in body
    page = desk.get(f"/patients/{pid}/coverage").content.decode()
    assert page.index("Anthem Blue") < page.index("Medicare Part B")
    assert "/eligibility/coverage/" in page
    rows = engine.run(engine.parse("Coverage", [("beneficiary", f"Patient/{pid}")])).rows
    covs = sorted((r.resource() for r in rows), key=lambda c: c["order"])
    primary = covs[0]
    assert primary["relationship"]["coding"][0] == {
        "system": codes.SUBSCRIBER_REL, "code": "spouse", "display": "Spouse"}  # fmt: skip
    assert primary["subscriber"]["reference"].startswith("RelatedPerson/")
    assert primary["identifier"][0]["type"]["coding"][0]["code"] == "MB"
    assert primary["subscriberId"] == "XGP123456789"
    assert {"group": "GRP55501"}.items() <= {
        c["type"]["coding"][0]["code"]: c["value"] for c in primary["class"]}.items()  # fmt: skip
    assert primary["period"] == {"start": "2026-01-01"}
    assert AuditRecord.objects.filter(action="create", resource_type="Coverage").count() == 2


def test_coverage_with_a_new_payer_inline(signed_in, people):
    desk = signed_in("front_desk")
    pid = people["nguyen"]
    resp = desk.post(f"/patients/{pid}/coverage", coverage_form(
        new_payer_name="Prairie Mutual", new_payer_id="PM123"))  # fmt: skip
    assert resp.status_code == 302
    orgs = engine.run(engine.parse("Organization", [("name", "Prairie Mutual")])).rows
    org = orgs[0].resource()
    assert org["identifier"][0] == {"system": codes.PAYER_ID_SYSTEM, "value": "PM123"}
    assert org["type"][0]["coding"][0]["code"] == "pay"
    # missing payer: the error sits beside the payer field
    resp = desk.post(f"/patients/{pid}/coverage", coverage_form(order="2"))
    assert resp.status_code == 400 and 'id="id_payer_error"' in resp.content.decode()


def test_documents_upload_list_view(signed_in, people):
    pid = people["smith"]
    desk = signed_in("front_desk")
    from django.core.files.uploadedfile import SimpleUploadedFile

    card = png()
    resp = desk.post(f"/patients/{pid}/documents", {
        "kind": "insurance-card-front", "description": "Anthem card",
        "file": SimpleUploadedFile("card front.png", card, content_type="image/png")})  # fmt: skip
    assert resp.status_code == 302, resp.content.decode()[:2000]
    page = desk.get(f"/patients/{pid}/documents").content.decode()
    assert "Insurance card (front)" in page and "Anthem card" in page
    docs = engine.run(engine.parse("DocumentReference", [("subject", f"Patient/{pid}")])).rows
    doc = docs[0].resource()
    att = doc["content"][0]["attachment"]
    assert att["contentType"] == "image/png" and att["url"].startswith("Binary/")
    binary = repository.read("Binary", att["url"].split("/")[1]).resource()
    assert base64.b64decode(binary["data"]) == card
    view = desk.get(f"/patients/{pid}/documents/{doc['id']}/file")
    assert view.status_code == 200 and view["Content-Type"] == "image/png"
    assert view["Content-Disposition"].startswith("inline;") and view.content == card
    assert view["X-Content-Type-Options"] == "nosniff"
    assert AuditRecord.objects.filter(action="read", resource_type="DocumentReference",
                                      resource_id=doc["id"], patient=pid).exists()  # fmt: skip
    # the wrong patient in the URL does not serve it
    assert desk.get(f"/patients/{people['jones']}/documents/{doc['id']}/file").status_code == 404
    # a file that is not an image or PDF is refused, whatever it claims to be
    resp = desk.post(f"/patients/{pid}/documents", {
        "kind": "photo-id",
        "file": SimpleUploadedFile("id.png", b"<script>alert(1)</script>",
                                   content_type="image/png")})  # fmt: skip
    assert resp.status_code == 400 and "Only JPEG, PNG or PDF" in resp.content.decode()


def test_biller_reads_coverage_but_not_documents(signed_in, people):
    biller = signed_in("biller")
    assert biller.get(f"/patients/{people['smith']}/coverage").status_code == 200
    assert biller.get(f"/patients/{people['smith']}/documents").status_code == 403
    patient = signed_in("patient")
    assert patient.get(f"/patients/{people['smith']}/").status_code == 403
