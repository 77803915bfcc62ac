"""The importer's writer: staged creates, and several files sharing one commit.

These run in-process (the command as a user runs it is in tests/test_cli.py) so that a failure
can be injected into the writer, where it is rare: the workers validate every entry first.
"""

from __future__ import annotations

import json
import shutil

import pytest

from ehr.fhir.errors import FhirError
from ehr.fhir.operations import bulk_import
from ehr.fhir.storage import repository as repo
from ehr.fhir.storage.db import raw_cursor, sql
from tests.conftest import SYNTHEA, row_counts

FILES = sorted(SYNTHEA.glob("*.json"))[:4]


def _entries(path) -> int:
    return len(json.loads(path.read_text())["entry"])


@pytest.fixture
def bundles(tmp_path):
    for path in FILES:
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_bundle_of_creates_is_staged_and_stored_as_a_create_would_be(transactional_db):
    units = bulk_import.read_and_prepare(FILES[0])
    (where, count, payload, prepared) = units[0]
    assert prepared and count == _entries(FILES[0])
    assert all(isinstance(s, repo.StagedCreate) for s in payload)
    assert bulk_import._write_unit(where, payload, prepared) == count
    patient = next(s for s in payload if s.resource_type == "Patient")
    stored = repo.read("Patient", patient.resource_id)
    body = stored.resource()
    assert list(body)[:3] == ["resourceType", "id", "meta"]
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"] == stored.last_updated
    assert "0000-00-00" not in stored.content
    # Its references were rewritten to the new ids, and it is in the patient's compartment.
    obs = next(s for s in payload if s.resource_type == "Observation")
    read = repo.read("Observation", obs.resource_id).resource()
    assert read["subject"]["reference"] == f"Patient/{patient.resource_id}"
    assert obs.patients == (patient.resource_id,)
    counts = row_counts()
    assert counts["fhir_resource"] == counts["fhir_resource_version"] == count
    assert counts["fhir_token"] > count


def test_files_share_a_commit_and_all_are_stored(bundles, transactional_db, monkeypatch):
    commits = []
    real = bulk_import._write_files
    monkeypatch.setattr(
        bulk_import,
        "_write_files",
        lambda group, bar: commits.append(len(group)) or real(group, bar),
    )
    monkeypatch.setattr(bulk_import, "GROUP_RESOURCES", 10**9)
    assert bulk_import.import_paths([bundles], progress=False, workers=0) == 0
    assert commits == [len(FILES)]
    assert row_counts()["fhir_resource"] == sum(_entries(p) for p in FILES)


def test_a_bundle_that_fails_in_a_shared_commit_fails_alone(bundles, transactional_db, monkeypatch):
    """The group is rolled back and written again file by file: the others are stored."""
    bad = FILES[2]
    family = json.loads(bad.read_text())["entry"][0]["resource"]["name"][0]["family"].encode()
    store = repo.store_staged

    def failing(staged):
        store(staged)  # rows of this Bundle are written before it fails
        if staged.resource_type == "Patient" and family in staged.template:
            raise FhirError("refused by the test")

    attempts = []
    write_unit = bulk_import._write_unit
    monkeypatch.setattr(repo, "store_staged", failing)
    monkeypatch.setattr(
        bulk_import, "_write_unit", lambda *unit: attempts.append(unit[0]) or write_unit(*unit)
    )
    monkeypatch.setattr(bulk_import, "GROUP_RESOURCES", 10**9)
    assert bulk_import.import_paths([bundles], progress=False, workers=0) == 1
    # Written together up to the failure, then each file on its own.
    assert len(attempts) == 3 + len(FILES)
    good = [p for p in FILES if p != bad]
    counts = row_counts()
    assert counts["fhir_resource"] == counts["fhir_resource_version"] == sum(map(_entries, good))
    cur = raw_cursor()
    cur.execute(
        sql("SELECT COUNT(*) FROM fhir_resource WHERE content LIKE ?"), (f"%{family.decode()}%",)
    )
    assert cur.fetchone()[0] == 0


def test_an_unprepared_transaction_is_never_written_twice(tmp_path, transactional_db, monkeypatch):
    """A Bundle with a conditional reference is resolved by the writer, rewriting its
    references in place; it is written alone, so a failure beside it cannot replay it."""
    for name in ("a", "b"):
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{ord(name) % 10}",
                    "resource": {"resourceType": "Patient", "name": [{"family": f"Ade-{name}"}]},
                    "request": {
                        "method": "POST",
                        "url": "Patient",
                        "ifNoneExist": f"name=Ade-{name}",
                    },
                }
            ],
        }
        (tmp_path / f"{name}.json").write_text(json.dumps(bundle))
    groups = []
    real = bulk_import._write_files
    monkeypatch.setattr(
        bulk_import, "_write_files", lambda group, bar: groups.append(group) or real(group, bar)
    )
    monkeypatch.setattr(bulk_import, "GROUP_RESOURCES", 10**9)
    assert bulk_import.import_paths([tmp_path], progress=False, workers=0) == 0
    (group,) = groups
    assert not all(bulk_import._groupable(units) for _path, units in group)
    assert row_counts()["fhir_resource"] == 2
