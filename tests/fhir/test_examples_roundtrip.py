"""Every non-conformance example of the official R4 package is stored and read back unchanged."""

from __future__ import annotations

import json

import pytest

from ehr.fhir.definitions.paths import package_dir
from tests.fhir.examples import EXAMPLES
from tests.fhir.known_invalid import KNOWN_INVALID


def test_the_package_holds_the_expected_examples():
    assert len(EXAMPLES) > 700


def _without_meta(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "meta"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_round_trip(fhir, name, monkeypatch):
    raw = (package_dir() / name).read_bytes()
    original = json.loads(raw)
    rtype, rid = original["resourceType"], original["id"]
    if name in KNOWN_INVALID:
        # The validator rejects it (see test_validation); the store must still be faithful.
        monkeypatch.setattr("ehr.fhir.storage.repository.validation_enabled", lambda: False)
    if rtype == "AuditEvent":
        # /fhir/AuditEvent is the server's own read-only trail: the API refuses the write, and
        # the store's fidelity is checked through the repository instead.
        assert fhir.put(f"{rtype}/{rid}", raw).status == 405
        from ehr.fhir.storage import repository as repo

        repo.update(rtype, rid, json.loads(raw))
        text = repo.read(rtype, rid).content.encode()
    else:
        put = fhir.put(f"{rtype}/{rid}", raw)
        assert put.status == 201, put.body[:500]
        got = fhir.get(f"{rtype}/{rid}")
        assert got.status == 200
        text = got.body
    back = json.loads(text)
    assert _without_meta(back) == _without_meta(original)
    assert back["meta"]["versionId"] == "1"
    # Decimals keep their digits: every number token in the original appears in the stored text.
    for token in _decimal_tokens(raw):
        assert token in text, token


def _decimal_tokens(raw: bytes) -> set[bytes]:
    import re

    # Decimals that stand as JSON values (after a colon or in an array), not inside strings.
    return set(re.findall(rb"(?<=[:\[,] )-?\d+\.\d+(?=\s*[,}\]\n])", raw)) | set(
        re.findall(rb"(?<=[:\[,])-?\d+\.\d+(?=\s*[,}\]\n])", raw)
    )
