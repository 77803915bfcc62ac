"""Validation of a resource against the official R4 definitions.

One pass over the JSON checks, for every node: unknown properties, arrays where the definition
repeats and single values where it does not, cardinality, data types (choice elements included),
primitive formats, empty values, references (format and allowed target types), value-set
bindings, and the error-level invariants of the definition (FHIRPath). Contained resources and
the resources inside Bundles are validated as resources in their own right.

Written here rather than taken from a library because it is the engine's core and sits on the
write path: it must check structure, bindings and invariants together in tens of microseconds.
"""

from __future__ import annotations

import re
from typing import Any

from ehr.fhir import definitions
from ehr.fhir.validation import bindings, invariants
from ehr.fhir.validation import profiles as profile_checks
from ehr.fhir.validation.issues import Issue
from ehr.fhir.validation.primitives import check as check_primitive
from ehr.fhir.validation.schema import ElementRule, NodeRule, node_rule, root_rule, type_rule

_RELATIVE_REF = re.compile(
    r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_ABSOLUTE_REF = re.compile(
    r"^(https?)://\S+/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?$"
)


class Walker:
    __slots__ = ("issues", "root", "container", "form_only")

    def __init__(self, root: dict):
        self.issues: list[Issue] = []
        self.root = root
        self.container = root
        self.form_only: set[str] = set()

    def error(self, expr: str, message: str, code: str = "structure") -> None:
        self.issues.append(Issue("error", code, expr, message))

    def warning(self, expr: str, message: str, code: str = "informational") -> None:
        self.issues.append(Issue("warning", code, expr, message))

    # ------------------------------------------------------------------ resources

    def resource(self, res: Any, expr: str, contained: bool = False) -> None:
        if type(res) is not dict:
            self.error(expr, "must be a JSON object holding a resource")
            return
        rtype = res.get("resourceType")
        if type(rtype) is not str:
            self.error(expr, "has no resourceType", "required")
            return
        if not definitions.is_resource_type(rtype):
            self.error(expr, f"unknown resource type '{rtype}'", "not-supported")
            return
        here = rtype if expr == "" else expr
        rule = root_rule(rtype)
        outer, outer_container = self.root, self.container
        self.root = res
        if not contained:
            self.container = res  # %rootResource: a Bundle entry stands on its own
        try:
            self.node(res, rule, here, rtype, rtype)
            if "contained" in res:
                self.contained_ids(res, here)
        finally:
            self.root, self.container = outer, outer_container

    def contained_ids(self, res: dict, expr: str) -> None:
        """Contained resources need an id: without one nothing can refer to them (dom-3)."""
        items = res.get("contained")
        if type(items) is not list:
            return
        for i, item in enumerate(items):
            if type(item) is dict and "resourceType" in item and not item.get("id"):
                self.error(
                    f"{expr}.contained[{i}]",
                    "dom-3: a contained resource must have an "
                    "id, so that the containing resource can refer to it",
                    "invariant",
                )

    # ------------------------------------------------------------------ nodes

    def node(self, node: dict, rule: NodeRule, expr: str, ftype: str, fpath: str) -> None:
        children = rule.children
        if not node:
            self.error(expr, "must not be an empty object (ele-1)")
            return
        if len(node) == 1 and "id" in node and not rule.is_resource:
            self.error(expr, "an element needs a value or children besides its id (ele-1)")
        choices_seen = 0
        for key, value in node.items():
            er = children.get(key)
            if er is None:
                if key == "resourceType" and rule.is_resource:
                    continue
                if key[:1] == "_":
                    self.companion(node, key, value, children.get(key[1:]), expr)
                    continue
                self.error(f"{expr}.{key}", f"unknown element '{key}' in {rule.path}")
                continue
            if er.choice_of is not None:
                choices_seen += 1
            if er.max > 1:
                if type(value) is not list:
                    self.error(f"{expr}.{key}", f"{er.path} repeats, so it must be an array")
                    continue
                if not value:
                    self.error(f"{expr}.{key}", "must not be an empty array")
                    continue
                if len(value) > er.max:
                    self.error(
                        f"{expr}.{key}",
                        f"{er.path} allows at most {er.max} items, found {len(value)}",
                    )
                if er.kind == "primitive":
                    check = er.check
                    for i, item in enumerate(value):
                        if check(item) is None:
                            if er.binding is not None and er.type == "code":
                                bindings.check_code(self, er, item, f"{expr}.{key}[{i}]")
                            if er.invariants:
                                self.element_invariants(er, item, f"{expr}.{key}[{i}]")
                        else:
                            self.primitive_problem(node, er, item, key, i, expr)
                    continue
                for i, item in enumerate(value):
                    self.value(er, item, f"{expr}.{key}[{i}]")
            else:
                if type(value) is list:
                    self.error(f"{expr}.{key}", f"{er.path} does not repeat: not an array")
                    continue
                if er.max == 0:
                    self.error(f"{expr}.{key}", f"{er.path} is not allowed here (max 0)")
                    continue
                if er.kind == "primitive":
                    if er.check(value) is None:
                        if er.binding is not None and er.type == "code":
                            bindings.check_code(self, er, value, f"{expr}.{key}")
                        if er.invariants:
                            self.element_invariants(er, value, f"{expr}.{key}")
                    else:
                        self.primitive_problem(node, er, value, key, None, expr)
                    continue
                self.value(er, value, f"{expr}.{key}")
        for path, names in rule.required:
            for n in names:
                if n in node:
                    break
            else:
                name = path.rsplit(".", 1)[-1]
                self.error(
                    f"{expr}.{name.replace('[x]', '')}",
                    f"{path} is required (minimum cardinality 1) but missing",
                    "required",
                )
        if choices_seen > 1:
            for base, names in rule.choices.items():
                present = [n for n in names if n in node]
                if len(present) > 1:
                    self.error(f"{expr}.{base}", f"only one of {', '.join(present)} is allowed")
        if rule.invariants:
            invariants.check(self, rule.invariants, node, expr, ftype, fpath)

    def primitive_problem(
        self, node: dict, er: ElementRule, value: Any, key: str, i: int | None, expr: str
    ) -> None:
        where = f"{expr}.{key}" if i is None else f"{expr}.{key}[{i}]"
        if value is None:
            companion = node.get("_" + key)
            if i is not None and type(companion) is list and i < len(companion) and companion[i]:
                return  # a null paired with an extension in the _name array
            self.error(
                where,
                f"must not be null (only allowed where _{key} holds an extension "
                "at the same index)",
                "value",
            )
            return
        self.error(where, f"{er.type} value {er.check(value)}", "value")

    def companion(self, node: dict, key: str, value: Any, er: ElementRule | None, expr: str):
        """``_name``: the id and extensions of a primitive (or of each item of an array)."""
        where = f"{expr}.{key}"
        if er is None or er.kind != "primitive":
            self.error(where, f"unknown element '{key}'")
            return
        elem = type_rule("Element")
        if er.max > 1:
            if type(value) is not list:
                self.error(where, "must be an array, aligned with the primitive array")
                return
            base = node.get(key[1:])
            if base is not None and (type(base) is not list or len(base) != len(value)):
                self.error(where, f"must have as many items as {key[1:]}")
            for i, item in enumerate(value):
                if item is not None:
                    has_value = type(base) is list and i < len(base) and base[i] is not None
                    self._element_ext(item, elem, f"{where}[{i}]", has_value)
        else:
            self._element_ext(value, elem, where, key[1:] in node)

    def _element_ext(self, value: Any, elem: NodeRule, where: str, has_value: bool) -> None:
        if type(value) is not dict:
            self.error(where, "must be an object with id and/or extension")
            return
        if has_value and len(value) == 1 and "id" in value:
            return  # an id for a primitive that has a value: fine
        self.node(value, elem, where, "Element", "Element")

    # ------------------------------------------------------------------ values

    def value(self, er: ElementRule, value: Any, expr: str) -> None:
        kind = er.kind
        if kind == "primitive":
            if value is None:
                self.error(expr, "must not be null", "value")
                return
            problem = check_primitive(er.type, value)
            if problem:
                self.error(expr, f"{er.type} value {problem}", "value")
                return
            if er.binding and er.type == "code":
                bindings.check_code(self, er, value, expr)
            return
        if type(value) is not dict:
            what = "a resource" if kind == "resource" else f"a {er.type} object"
            self.error(expr, f"must be {what}", "structure")
            return
        if kind == "complex":
            t = er.type
            self.node(value, type_rule(t), expr, t, t)
            if t == "Reference":
                self.reference(er, value, expr)
            elif t == "Extension":
                self.extension(value, expr)
            if er.binding and t in ("Coding", "CodeableConcept", "Quantity"):
                bindings.check_coded(self, er, value, expr)
        elif kind == "backbone":
            self.node(value, node_rule(er.owner, er.child_path), expr, er.owner, er.child_path)
        else:
            self.resource(value, expr, contained=er.name == "contained")
        if er.invariants:
            self.element_invariants(er, value, expr)

    def element_invariants(self, er: ElementRule, value: Any, expr: str) -> None:
        """Invariants declared where the element is used (e.g. org-3 on Organization.address)."""
        if er.kind == "backbone":
            return  # already checked as the invariants of the backbone node itself
        invariants.check(self, er.invariants, value, expr, er.type, er.type)

    def extension(self, ext: dict, expr: str) -> None:
        has_value = any(k.startswith("value") or k.startswith("_value") for k in ext)
        if has_value == ("extension" in ext):
            self.error(
                expr,
                "an extension must have either extensions or a value[x], not both (ext-1)",
                "invariant",
            )

    def reference(self, er: ElementRule, ref: dict, expr: str) -> None:
        target = ref.get("reference")
        if type(target) is not str:
            return
        if target.startswith("#"):
            # Existence is the ref-1 invariant's business; the target type is checked here.
            for item in self.root.get("contained") or () if type(self.root) is dict else ():
                if type(item) is dict and item.get("id") == target[1:]:
                    rtype = item.get("resourceType")
                    if type(rtype) is str and definitions.is_resource_type(rtype):
                        self.target_type(er, rtype, target, expr)
            return
        if target.startswith("urn:uuid:") or target.startswith("urn:oid:"):
            kind = "uuid" if target.startswith("urn:uuid:") else "oid"
            problem = check_primitive(kind, target)
            if problem:
                self.error(f"{expr}.reference", f"{kind} reference {problem}", "value")
            return
        m = _RELATIVE_REF.match(target)
        rtype = None
        if m:
            rtype = m.group(1)
        else:
            m = _ABSOLUTE_REF.match(target)
            if m:
                rtype = m.group(2)
            elif "://" not in target:
                self.error(
                    f"{expr}.reference",
                    f"'{target}' is not a valid reference "
                    "(expected Type/id, an absolute URL, #id or urn:uuid:...)",
                    "value",
                )
                return
        if rtype is None:
            return
        if not definitions.is_resource_type(rtype):
            if m.re is _RELATIVE_REF:
                self.error(
                    f"{expr}.reference", f"'{target}' names an unknown resource type", "value"
                )
            return  # an absolute URL may point outside FHIR's own types
        self.target_type(er, rtype, target, expr)

    def target_type(self, er: ElementRule, rtype: Any, target: str, expr: str) -> None:
        allowed = er.targets
        if allowed and "Resource" not in allowed and rtype not in allowed:
            self.error(
                f"{expr}.reference",
                f"a reference to {rtype} is not allowed in {er.path} "
                f"(allowed: {', '.join(allowed)})",
                "value",
            )


def validate(resource: Any, profiles: tuple[str, ...] | list[str] = ()) -> list[Issue]:
    """Every problem found in ``resource`` (errors, warnings and information).

    The resource is checked against its base definition, against every profile it claims in
    ``meta.profile`` and against any further ``profiles`` the caller names.
    """
    walker = Walker(resource if type(resource) is dict else {})
    walker.resource(resource, "")
    if type(resource) is dict and definitions.is_resource_type(resource.get("resourceType", "")):
        meta = resource.get("meta")
        claimed = meta.get("profile") if type(meta) is dict else None
        for i, url in enumerate(claimed if type(claimed) is list else ()):
            if type(url) is str:
                profile_checks.check(walker, resource, url, claimed=True, index=i)
        for url in profiles:
            profile_checks.check(walker, resource, url, claimed=False)
    bindings.report_form_only(walker)
    return walker.issues
