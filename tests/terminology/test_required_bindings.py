"""Required bindings of R4: every value set they name resolves, and every coded value in the
official examples that sits under a required binding is a member of it.

The exceptions listed below were found by this test in the published R4 examples.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ehr.terminology import check_code
from ehr.terminology.index import index

from .walk import Coded, coded_values, example_files, required_binding_valuesets

RESOLVED = ("expansion", "computed", "form-only")
# Required bindings whose value set is known not to resolve, with the reason. Empty today.
UNRESOLVED_REQUIRED: dict[str, str] = {}

# Real errors in the published R4 examples: TestScript operation.accept/contentType and
# assert.contentType became MIME types (required binding to mimetypes) in R4, the examples
# still say "xml"/"json" as in STU3. The validator must reject these.
TESTSCRIPT_ERRORS = {
    (
        "TestScript-testscript-example-history.json",
        "TestScript.setup.action[0].operation.accept",
        "json",
    ),
    (
        "TestScript-testscript-example-history.json",
        "TestScript.setup.action[2].operation.accept",
        "json",
    ),
    (
        "TestScript-testscript-example-history.json",
        "TestScript.setup.action[2].operation.contentType",
        "json",
    ),
    (
        "TestScript-testscript-example-history.json",
        "TestScript.setup.action[4].operation.accept",
        "json",
    ),
    (
        "TestScript-testscript-example-history.json",
        "TestScript.setup.action[4].operation.contentType",
        "json",
    ),
    (
        "TestScript-testscript-example-history.json",
        "TestScript.test[0].action[0].operation.accept",
        "json",
    ),
    (
        "TestScript-testscript-example-history.json",
        "TestScript.test[0].action[0].operation.contentType",
        "json",
    ),
    (
        "TestScript-testscript-example-multisystem.json",
        "TestScript.test[0].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-multisystem.json",
        "TestScript.test[0].action[0].operation.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-multisystem.json",
        "TestScript.test[0].action[4].assert.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-multisystem.json",
        "TestScript.test[1].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-multisystem.json",
        "TestScript.test[1].action[0].operation.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-multisystem.json",
        "TestScript.test[1].action[3].assert.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-readtest.json",
        "TestScript.test[0].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-readtest.json",
        "TestScript.test[0].action[2].assert.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-readtest.json",
        "TestScript.test[1].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-readtest.json",
        "TestScript.test[2].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-readtest.json",
        "TestScript.test[3].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-search.json",
        "TestScript.setup.action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-search.json",
        "TestScript.test[0].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-search.json",
        "TestScript.test[0].action[0].operation.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-search.json",
        "TestScript.test[0].action[3].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-search.json",
        "TestScript.test[1].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-search.json",
        "TestScript.test[1].action[2].assert.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-update.json",
        "TestScript.setup.action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-update.json",
        "TestScript.setup.action[2].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-update.json",
        "TestScript.setup.action[2].operation.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-update.json",
        "TestScript.test[0].action[0].operation.accept",
        "xml",
    ),
    (
        "TestScript-testscript-example-update.json",
        "TestScript.test[0].action[0].operation.contentType",
        "xml",
    ),
    (
        "TestScript-testscript-example-update.json",
        "TestScript.test[0].action[2].assert.contentType",
        "xml",
    ),
    ("TestScript-testscript-example.json", "TestScript.setup.action[0].operation.accept", "json"),
    ("TestScript-testscript-example.json", "TestScript.setup.action[2].operation.accept", "json"),
    (
        "TestScript-testscript-example.json",
        "TestScript.setup.action[2].operation.contentType",
        "json",
    ),
}
# CapabilityStatement.format is bound (required) to mimetypes, but the element's own definition
# allows "xml", "json" and "ttl" besides MIME types: the terminology layer answers for the value
# set (form-invalid); the validator has to special-case this element.
CAPABILITY_FORMAT_SHORTHANDS = {
    ("CapabilityStatement-base.json", "CapabilityStatement.format[0]", "xml"),
    ("CapabilityStatement-base.json", "CapabilityStatement.format[1]", "json"),
    ("CapabilityStatement-base2.json", "CapabilityStatement.format[0]", "xml"),
    ("CapabilityStatement-base2.json", "CapabilityStatement.format[1]", "json"),
    ("CapabilityStatement-example.json", "CapabilityStatement.format[0]", "xml"),
    ("CapabilityStatement-example.json", "CapabilityStatement.format[1]", "json"),
    ("CapabilityStatement-knowledge-repository.json", "CapabilityStatement.format[0]", "json"),
    ("CapabilityStatement-knowledge-repository.json", "CapabilityStatement.format[1]", "xml"),
    ("CapabilityStatement-measure-processor.json", "CapabilityStatement.format[0]", "json"),
    ("CapabilityStatement-measure-processor.json", "CapabilityStatement.format[1]", "xml"),
    ("CapabilityStatement-messagedefinition.json", "CapabilityStatement.format[0]", "xml"),
    ("CapabilityStatement-messagedefinition.json", "CapabilityStatement.format[1]", "json"),
    ("CapabilityStatement-phr.json", "CapabilityStatement.format[0]", "json"),
    ("CapabilityStatement-phr.json", "CapabilityStatement.format[1]", "xml"),
    ("CapabilityStatement-terminology-server.json", "CapabilityStatement.format[0]", "json"),
    ("CapabilityStatement-terminology-server.json", "CapabilityStatement.format[1]", "xml"),
}
KNOWN_EXAMPLE_ERRORS = TESTSCRIPT_ERRORS | CAPABILITY_FORMAT_SHORTHANDS


def test_every_value_set_of_a_required_binding_resolves():
    bindings = required_binding_valuesets()
    assert len(bindings) >= 250  # 257 distinct value sets in R4 4.0.1
    how: Counter[str] = Counter()
    unresolved = {}
    for url in sorted(bindings):
        vs = index().valueset(url)
        if vs is None:
            unresolved[url] = "unknown value set"
            continue
        how[vs.how] += 1
        if vs.how not in RESOLVED or vs.partial:
            unresolved[url] = vs.reason or vs.how
        elif vs.how == "form-only":
            assert vs.reason, f"{url}: a form-only value set must say why"
    print(f"required-binding value sets: {len(bindings)} {dict(how)}")
    assert unresolved == UNRESOLVED_REQUIRED


def _verdict(c: Coded) -> tuple[str, str] | None:
    """Best status among the codings of one bound value, and the code(s) shown for it."""
    v: Any = c.value
    if c.type in ("code", "string", "uri"):
        return (check_code(c.valueset, None, v).status, v) if isinstance(v, str) else None
    if c.type in ("Coding", "Quantity"):
        if not isinstance(v, dict) or not isinstance(v.get("code"), str):
            return None
        return check_code(c.valueset, v.get("system"), v["code"]).status, v["code"]
    codings = [x for x in v.get("coding", []) if isinstance(x.get("code"), str)]
    if not codings:
        return ("text-only", v.get("text", "")) if c.strength == "required" else None
    statuses = [check_code(c.valueset, x.get("system"), x["code"]).status for x in codings]
    shown = ", ".join(f"{x.get('system', '')}|{x['code']}" for x in codings)
    for status in ("member", "form-only-ok", "unknown-system", "unknown-valueset"):
        if status in statuses:
            return status, shown
    return statuses[0], shown


def test_every_required_coded_value_in_the_official_examples_is_a_member():
    counts: Counter[str] = Counter()
    errors = set()
    for path in example_files():
        for c in coded_values(path):
            if c.strength != "required":
                continue
            verdict = _verdict(c)
            if verdict is None:
                continue
            status, shown = verdict
            counts[status] += 1
            if status not in ("member", "form-only-ok"):
                errors.add((c.file, c.path, shown))
    print(f"required coded values in the R4 examples: {dict(counts)}")
    assert counts["member"] > 8_000
    assert sorted(errors - KNOWN_EXAMPLE_ERRORS) == []  # new failures
    assert sorted(KNOWN_EXAMPLE_ERRORS - errors) == []  # errors no longer found
