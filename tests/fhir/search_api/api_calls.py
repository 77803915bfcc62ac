"""Small steps the search API tests share: create a resource, list the ids a search finds."""

from __future__ import annotations


def created_id(fhir, body: dict) -> str:
    """POST ``body`` to its type; the new resource's id (the create must succeed)."""
    resp = fhir.post(body["resourceType"], body)
    assert resp.status == 201, resp.body
    return resp.json()["id"]


def found_ids(fhir, query: str) -> set[str]:
    """Ids of the resources on the first page of ``query`` (the search must succeed)."""
    resp = fhir.get(query)
    assert resp.status == 200, resp.body
    return {e["resource"]["id"] for e in resp.json().get("entry", [])}


def goal_due(fhir, *due: str) -> str:
    """A new active Goal of Patient/p1 with one target per due date; its id."""
    body = {
        "resourceType": "Goal",
        "lifecycleStatus": "active",
        "description": {"text": "Lower HbA1c"},
        "subject": {"reference": "Patient/p1"},
        "target": [{"dueDate": d} for d in due],
    }
    return created_id(fhir, body)
