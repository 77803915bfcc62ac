"""``Patient/$everything`` and ``Patient/{id}/$everything``: a patient's whole record.

The patient, every resource in the patient's compartment (computed at write time from the
official CompartmentDefinition), and the resources those refer to (practitioners,
organizations, locations, medications...), paged by a stable cursor. ``_since`` keeps only
resources changed since an instant, ``_type`` limits the types, ``_count`` sizes the pages.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ehr.fhir import definitions
from ehr.fhir.api.http import FhirRequest, FhirResponse
from ehr.fhir.errors import FhirError, NotFound
from ehr.fhir.search import engine
from ehr.fhir.search import values as sv
from ehr.fhir.search.engine import Include, SearchRequest
from ehr.fhir.search.query import Cond
from ehr.fhir.storage import repository as repo


def everything(req: FhirRequest, rtype: str, rid: str | None) -> FhirResponse:
    from ehr.fhir.api import interactions as ix

    if rtype != "Patient":
        raise NotFound("$everything is available on Patient")
    sreq = SearchRequest(sorted(definitions.resource_types()), total="none")
    sreq.count = engine._int("_count", req.param("_count") or "100", 1, engine.MAX_COUNT)
    cursor = req.param("_cursor")
    if cursor is not None:
        sreq.cursor = engine._int("_cursor", cursor, 0, 2**62)
    if rid is not None:
        repo.read("Patient", rid)  # 404 or 410 before anything else
        sreq.extra.append(engine.patient_keys(rid))
    else:
        sreq.extra.append(Cond("(r.patient_key IS NOT NULL OR r.resource_type = ?)", ["Patient"]))
    types = req.param("_type")
    if types:
        wanted = sv.split_or(types)
        for t in wanted:
            if not definitions.is_resource_type(t):
                raise FhirError(f"_type: '{t}' is not a resource type", expression="_type")
        sreq.rtypes = wanted
    since = req.param("_since")
    if since:
        sreq.extra.append(Cond("r.updated_us >= ?", [ix._parse_instant(since, "_since")]))
    sreq.includes.append(Include("*", None, None, False))
    page = engine.run(sreq)
    in_page = {(s.resource_type, s.id) for s in page.rows}
    included = [
        s
        for s in page.included
        if (s.resource_type, s.id) not in in_page and (not types or s.resource_type in sreq.rtypes)
    ]
    path = f"Patient/{rid}/$everything" if rid else "Patient/$everything"
    params = [(k, v) for k, v in req.query if k != "_cursor"]
    qs = urlencode(req.query)
    links = [{"relation": "self", "url": f"{req.base_url}/{path}" + (f"?{qs}" if qs else "")}]
    if page.has_more and page.after is not None:
        nxt = urlencode([*params, ("_cursor", engine.cursor_text(page.after))])
        links.append({"relation": "next", "url": f"{req.base_url}/{path}?{nxt}"})
    entries = [ix._search_entry(req, s, "match", None, False) for s in page.rows]
    entries += [ix._search_entry(req, s, "include", None, False) for s in included]
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    return ix._json(200, bundle, req)
