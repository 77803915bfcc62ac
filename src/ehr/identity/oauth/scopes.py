"""SMART on FHIR scopes (App Launch 1.0 and 2.0): parsing, checking, narrowing.

Pure Python, no Django: a token's scope string is parsed once and the resulting ``ScopeSet``
answers ``allows`` with two dictionary look-ups, so it can sit on every FHIR request.

Resource scopes look like ``<context>/<Type|*>.<permissions>[?<query>]``:

- context: ``patient`` (the patient in context), ``user`` (whatever the user may see),
  ``system`` (backend services);
- permissions: SMART v2 letters, any non-empty subset of ``cruds`` in that order, or the
  v1 words ``read`` (= ``rs``), ``write`` (= ``cud``) and ``*`` (= ``cruds``);
- query (v2 only): granular constraints such as
  ``patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, quote

ACTIONS = "cruds"
CONTEXTS = ("patient", "user", "system")
V1_ACTIONS = {"read": "rs", "write": "cud", "*": "cruds"}
_V1_FOR = {v: k for k, v in V1_ACTIONS.items()}
OTHER_SCOPES = frozenset(
    {
        "openid",
        "fhirUser",
        "profile",
        "launch",
        "launch/patient",
        "launch/encounter",
        "offline_access",
        "online_access",
    }
)

_RESOURCE = re.compile(
    r"^(?P<context>[a-z]+)/(?P<type>\*|[A-Za-z]+)\.(?P<perm>[^?]*)(?:\?(?P<query>.*))?$"
)
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]*$")
_V2_PERM = re.compile(r"^c?r?u?d?s?$")


class ScopeError(ValueError):
    """A scope string that is not a valid SMART scope; the message says why."""


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: str  # "patient" | "user" | "system"
    resource: str  # resource type or "*"
    actions: str  # letters in canonical order, subset of "cruds"
    query: tuple[tuple[str, str], ...] = ()
    v1: bool = False  # written in v1 syntax: printed back the same way when possible

    def __str__(self) -> str:
        perm = _V1_FOR[self.actions] if self.v1 and self.actions in _V1_FOR else self.actions
        text = f"{self.context}/{self.resource}.{perm}"
        if self.query:
            text += "?" + "&".join(f"{k}={quote(v, safe='|:/.-_~,')}" for k, v in self.query)
        return text

    def covers(self, resource_type: str) -> bool:
        return self.resource == "*" or self.resource == resource_type


def _parse_resource(text: str, is_resource_type: Callable[[str], bool] | None) -> ResourceScope:
    m = _RESOURCE.match(text)
    if not m:
        raise ScopeError(
            f"'{text}' is not a SMART scope: expected context/Type.permissions "
            "such as patient/Observation.rs"
        )
    context, rtype, perm, query = m["context"], m["type"], m["perm"], m["query"]
    if context not in CONTEXTS:
        raise ScopeError(f"'{text}': the context must be patient, user or system, not '{context}'")
    if rtype != "*" and not _TYPE_NAME.match(rtype):
        raise ScopeError(f"'{text}': '{rtype}' is not a resource type name")
    if rtype != "*" and is_resource_type is not None and not is_resource_type(rtype):
        raise ScopeError(f"'{text}': '{rtype}' is not a FHIR R4 resource type")
    v1 = perm in V1_ACTIONS
    if v1:
        actions = V1_ACTIONS[perm]
    elif perm and _V2_PERM.match(perm):
        actions = perm
    else:
        raise ScopeError(
            f"'{text}': permissions must be read, write, * or letters from c r u d s "
            f"in that order (such as rs or cruds), not '{perm}'"
        )
    params: tuple[tuple[str, str], ...] = ()
    if query is not None:
        if v1:
            raise ScopeError(
                f"'{text}': search constraints need SMART v2 permissions (such as .rs), not .{perm}"
            )
        try:
            pairs = parse_qsl(query, keep_blank_values=False, strict_parsing=True)
        except ValueError:
            raise ScopeError(f"'{text}': the constraint '?{query}' is not name=value") from None
        if not pairs:
            raise ScopeError(f"'{text}': the constraint after '?' is empty")
        params = tuple(pairs)
    return ResourceScope(context, rtype, actions, params, v1)


class ScopeSet:
    """The parsed scopes of a request or token. Immutable; cheap to query."""

    __slots__ = ("resource_scopes", "other", "_index")

    def __init__(self, resource_scopes: Iterable[ResourceScope] = (), other: Iterable[str] = ()):
        seen: dict[ResourceScope, None] = {}
        for s in resource_scopes:
            if s.actions:
                seen.setdefault(s, None)
        self.resource_scopes: tuple[ResourceScope, ...] = tuple(seen)
        self.other: frozenset[str] = frozenset(other)
        # (context, resource) -> letters allowed by any scope, ignoring constraints
        index: dict[tuple[str, str], str] = {}
        for s in self.resource_scopes:
            key = (s.context, s.resource)
            index[key] = "".join(a for a in ACTIONS if a in index.get(key, "") or a in s.actions)
        self._index = index

    @classmethod
    def parse(
        cls, text: str | None, *, is_resource_type: Callable[[str], bool] | None = None
    ) -> ScopeSet:
        """Parse a space-separated scope string; raise ``ScopeError`` on the first bad scope.

        ``is_resource_type`` (optional) rejects unknown resource type names.
        """
        resources: list[ResourceScope] = []
        other: list[str] = []
        for word in (text or "").split():
            if word in OTHER_SCOPES:
                other.append(word)
            elif word.startswith("launch/"):
                raise ScopeError(
                    f"'{word}': the launch scopes are launch/patient and launch/encounter"
                )
            elif "/" in word:
                resources.append(_parse_resource(word, is_resource_type))
            else:
                raise ScopeError(f"'{word}' is not a scope this server knows")
        return cls(resources, other)

    # -- questions asked by the access check -------------------------------------------------

    def allows(self, context: str, resource_type: str, action: str) -> bool:
        """Whether some scope in ``context`` permits ``action`` (one of c r u d s) on the type.

        Granular constraints are not applied here; ask ``constraints`` for them.
        """
        idx = self._index
        return action in idx.get((context, resource_type), "") or action in idx.get(
            (context, "*"), ""
        )

    def constraints(
        self, resource_type: str, action: str, *, context: str | None = None
    ) -> list[list[tuple[str, str]]]:
        """Search constraints limiting ``action`` on the type: one inner list per granting scope.

        ``[]`` means unconstrained (some granting scope has no query) — or nothing granted at
        all, which ``allows`` tells apart. Otherwise a resource is permitted when it matches
        every parameter of at least one inner list.
        """
        out: list[list[tuple[str, str]]] = []
        for s in self.resource_scopes:
            if action not in s.actions or not s.covers(resource_type):
                continue
            if context is not None and s.context != context:
                continue
            if not s.query:
                return []
            out.append(list(s.query))
        return out

    def contexts(self) -> set[str]:
        return {s.context for s in self.resource_scopes}

    def has(self, scope: str) -> bool:
        """Whether a non-resource scope (openid, launch/patient, offline_access...) is present."""
        return scope in self.other

    @property
    def needs_patient(self) -> bool:
        return "launch/patient" in self.other or "patient" in self.contexts()

    def __bool__(self) -> bool:
        return bool(self.resource_scopes or self.other)

    # -- combining ----------------------------------------------------------------------------

    def narrow(self, allowed: ScopeSet) -> ScopeSet:
        """What of ``self`` (requested) lies within ``allowed``: the per-scope intersection.

        A wildcard on one side and a type on the other give that type; permissions intersect;
        constraints of both sides all apply. Contexts must match (``user/`` never becomes
        ``patient/`` or the reverse).
        """
        result: list[ResourceScope] = []
        for want in self.resource_scopes:
            for have in allowed.resource_scopes:
                if want.context != have.context:
                    continue
                if want.resource == "*":
                    resource = have.resource
                elif have.resource in ("*", want.resource):
                    resource = want.resource
                else:
                    continue
                actions = "".join(a for a in ACTIONS if a in want.actions and a in have.actions)
                if not actions:
                    continue
                query = want.query + tuple(q for q in have.query if q not in want.query)
                result.append(ResourceScope(want.context, resource, actions, query, want.v1))
        return ScopeSet(_drop_covered(result), self.other & allowed.other)

    def only(self, scopes: Iterable[str]) -> ScopeSet:
        """The subset of this set whose printed forms are in ``scopes`` (approval checkboxes)."""
        keep = set(scopes)
        return ScopeSet(
            [s for s in self.resource_scopes if str(s) in keep],
            [o for o in self.other if o in keep],
        )

    def without(self, scopes: Iterable[str]) -> ScopeSet:
        drop = set(scopes)
        return ScopeSet(self.resource_scopes, self.other - drop)

    def union(self, other: ScopeSet) -> ScopeSet:
        return ScopeSet(self.resource_scopes + other.resource_scopes, self.other | other.other)

    def issubset(self, other: ScopeSet) -> bool:
        """Whether ``other`` grants at least everything this set grants."""
        return self.other <= other.other and all(_within(s, other) for s in self.resource_scopes)

    # -- printing -----------------------------------------------------------------------------

    def items(self) -> list[str]:
        """Every scope, printed, in a stable order (resource scopes first, as given)."""
        order = sorted(self.other, key=_OTHER_ORDER.get)
        return [str(s) for s in self.resource_scopes] + order

    def __str__(self) -> str:
        return " ".join(self.items())

    def __repr__(self) -> str:
        return f"ScopeSet({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ScopeSet):
            return NotImplemented
        return set(self.resource_scopes) == set(other.resource_scopes) and self.other == other.other

    def __hash__(self) -> int:
        return hash((frozenset(self.resource_scopes), self.other))


_OTHER_ORDER = {
    name: i
    for i, name in enumerate(
        [
            "launch",
            "launch/patient",
            "launch/encounter",
            "openid",
            "fhirUser",
            "profile",
            "offline_access",
            "online_access",
        ]
    )
}


def _within(scope: ResourceScope, allowed: ScopeSet) -> bool:
    """Whether one scope in ``allowed`` grants all of ``scope`` (same or looser constraints)."""
    for have in allowed.resource_scopes:
        if have.context != scope.context or have.resource not in ("*", scope.resource):
            continue
        if any(a not in have.actions for a in scope.actions):
            continue
        if all(q in scope.query for q in have.query):
            return True
    return False


def _drop_covered(scopes: list[ResourceScope]) -> list[ResourceScope]:
    """Remove exact duplicates while keeping the first occurrence's order."""
    return list(dict.fromkeys(scopes))


@lru_cache(maxsize=4096)
def parse_cached(text: str) -> ScopeSet:
    """``ScopeSet.parse`` for scope strings already validated when the token was issued."""
    return ScopeSet.parse(text)
