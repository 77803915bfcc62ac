"""check_eligibility end to end against the simulator, the HTTP adapter, and the screen."""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.test import Client

from ehr.eligibility.clearinghouse import ClearinghouseError, HttpClearinghouse
from ehr.eligibility.presenter import summarize
from ehr.eligibility.service import check_eligibility, exchange_texts, latest_response
from ehr.fhir.search import engine
from ehr.fhir.storage import repository
from ehr.fhir.validation.validator import validate
from ehr.formats.x12.eligibility import EligibilityInquiry, Member, build_270, parse_270
from ehr.identity.accounts import create_user

PASSWORD = "correct-horse-battery-9"


def _stored_ok(response: dict) -> None:
    again = repository.read("CoverageEligibilityResponse", response["id"]).resource()
    assert not [i for i in validate(again) if i.severity == "error"]
    request = response["request"]["reference"].split("/")[1]
    assert repository.read("CoverageEligibilityRequest", request).resource()["status"] == "active"


@pytest.mark.django_db
def test_active_ppo(make_coverage):
    coverage_id = make_coverage("ACM123456789")
    response = check_eligibility(coverage_id)
    _stored_ok(response)
    assert response["outcome"] == "complete" and "error" not in response
    assert response["disposition"] == "Coverage is active (SIMULATED GOLD PPO)."
    [insurance] = response["insurance"]
    assert insurance["inforce"] is True
    assert insurance["coverage"]["reference"] == f"Coverage/{coverage_id}"
    summary = summarize(response)
    rows = {(r.service, r.network, r.unit): r for r in summary.rows}
    office = rows[("Professional (physician) visit - office", "In network", "Individual")]
    assert office.copay == ["$25.00"]
    assert rows[("Hospital", "In network", "Individual")].coinsurance == ["20%"]
    plan = rows[("Health benefit plan coverage", "In network", "Individual")]
    assert plan.deductible == ["$1,500.00"] and plan.out_of_pocket == ["$5,000.00"]
    assert plan.deductible_remaining and plan.out_of_pocket_remaining
    assert rows[("Emergency services", "", "Individual")].copay == ["$250.00"]
    # the raw exchange is kept with it
    x270, x271 = exchange_texts(response["id"])
    assert x270.startswith("ISA") and "ST*270" in x270 and "ST*271" in x271
    assert parse_270(x270)[0].subscriber.member_id == "ACM123456789"
    assert latest_response(coverage_id, response["patient"]["reference"])["id"] == response["id"]


@pytest.mark.django_db
def test_dependent_is_asked_about_with_the_subscribers_id(make_coverage):
    response = check_eligibility(make_coverage("ACM555", child=True))
    assert response["insurance"][0]["inforce"] is True
    x270, _ = exchange_texts(response["id"])
    [inquiry] = parse_270(x270)
    assert inquiry.subscriber.member_id == "ACM555"
    assert inquiry.dependent is not None and inquiry.dependent.first_name == "ANA"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("member_id", "outcome", "inforce", "code", "words"),
    [
        ("INACT-1", "complete", False, None, "Coverage is not active since"),
        ("NF-1", "error", None, "75", "has no member with this ID"),
        ("BAD-1", "error", None, "72", "member ID is missing or in the wrong format"),
        ("DOWN-1", "error", None, "42", "cannot answer right now"),
    ],
)
def test_simulator_cases(make_coverage, member_id, outcome, inforce, code, words):
    response = check_eligibility(make_coverage(member_id))
    _stored_ok(response)
    assert response["outcome"] == outcome
    assert response["insurance"][0].get("inforce") == inforce
    assert words in response["disposition"]
    if code:
        [error] = response["error"]
        assert error["code"]["coding"][0]["code"] == code and words in error["code"]["text"]
        assert summarize(response).status == "error"


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.mode == "slow":
            threading.Event().wait(2)
        if self.mode == "500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"upstream payer gateway failed")
            return
        from ehr.eligibility.simulator import answer_270

        answer = (
            b"this is not x12" if self.mode == "garbage" else answer_270(body.decode()).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/edi-x12")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "outcome", "words"),
    [
        ("ok", "complete", "Coverage is active"),
        ("slow", "error", "did not answer within 0.5 seconds"),
        ("500", "error", "refused the inquiry (HTTP 500): upstream payer gateway failed"),
        ("garbage", "error", "The payer's answer could not be read"),
    ],
)
def test_http_clearinghouse_failures_are_stored_as_errors(make_coverage, server, mode, outcome,
                                                          words):  # fmt: skip
    _Handler.mode = mode
    url = f"http://127.0.0.1:{server.server_port}/270"
    response = check_eligibility(
        make_coverage("ACM1"), clearinghouse=HttpClearinghouse(url, timeout=0.5)
    )
    _stored_ok(response)
    assert response["outcome"] == outcome and words in response["disposition"]


def test_http_clearinghouse_unreachable():
    with pytest.raises(ClearinghouseError, match="Could not reach the clearinghouse"):
        HttpClearinghouse("http://127.0.0.1:9/270", timeout=1).send_270("ISA")


@pytest.mark.django_db
def test_missing_npi_is_a_stored_error(make_coverage):
    coverage_id = make_coverage("ACM1")
    org = repository.read("Organization", "test-practice").resource()
    org.pop("identifier")
    repository.update("Organization", "test-practice", org)
    response = check_eligibility(coverage_id)
    assert (
        response["outcome"] == "error"
        and "no billing provider with an NPI" in (response["disposition"])
    )


def _signed_in(role: str) -> Client:
    fhir_user = "Patient/p1" if role == "patient" else ""
    create_user(f"user-{role}", role, password=PASSWORD, demo=True, fhir_user=fhir_user)
    client = Client()
    assert client.post("/login/", {"username": f"user-{role}", "password": PASSWORD}).status_code
    return client


@pytest.mark.django_db
def test_screen_check_now_and_show(make_coverage):
    coverage_id = make_coverage("ACM123456789")
    client = _signed_in("front_desk")
    url = f"/eligibility/coverage/{coverage_id}/"
    page = client.get(url)
    assert page.status_code == 200 and b"No eligibility check yet" in page.content
    assert b"Check eligibility now" in page.content and b"csrfmiddlewaretoken" in page.content
    done = client.post(url)
    assert done.status_code == 302 and done["Location"] == url
    page = client.get(url).content.decode()
    assert "Coverage is active" in page and "$25.00" in page and "Deductible remaining" in page
    assert "ST*270" in page  # the exchange, for the curious
    assert "<script>" not in page


@pytest.mark.django_db
def test_screen_role_without_write_sees_a_message(make_coverage):
    coverage_id = make_coverage("ACM1")
    client = _signed_in("nurse")
    url = f"/eligibility/coverage/{coverage_id}/"
    client.post(url)
    assert "may view eligibility answers but not ask payers" in client.get(url).content.decode()
    assert not engine.run(engine.parse("CoverageEligibilityResponse", [])).rows
    assert _signed_in("patient").get(url).status_code == 403


@pytest.mark.django_db
def test_http_simulator_endpoint(make_coverage):
    inquiry = EligibilityInquiry(
        "Acme", "ACME01", "Clinic", "1234567893", Member("Doe", "J", "NF1")
    )
    x270 = build_270(inquiry, "SENDER", "ACME01", 5, datetime(2026, 5, 1, 9, 0))
    answer = Client().post("/sim/clearinghouse/270", x270, content_type="application/edi-x12")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/edi-x12"
    assert "AAA*Y**75*C" in answer.content.decode()
    bad = Client().post("/sim/clearinghouse/270", "hello", content_type="application/edi-x12")
    assert bad.status_code == 400 and b"starts with an ISA segment" in bad.content
