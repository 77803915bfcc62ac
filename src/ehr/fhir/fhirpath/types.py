"""Type specifiers: resolving ``Patient``, ``FHIR.string`` or ``System.Boolean`` and testing
items against them (``is``, ``as``, ``ofType``).

An unqualified name is looked up in the FHIR model first, then among the System types, as the
specification says. A FHIR primitive node also counts as an instance of the System type it
maps to (a FHIR ``boolean`` is a ``System.Boolean``), which is what FHIR invariants such as
``answer is Boolean`` expect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ehr.fhir.fhirpath import model
from ehr.fhir.fhirpath.ast import TypeSpec
from ehr.fhir.fhirpath.model import Node
from ehr.fhir.fhirpath.values import system_type

SYSTEM_TYPES = frozenset(
    ["Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity", "Any"]
)


def is_fhir_type(name: str) -> bool:
    return model.type_struct(name) is not None


def type_test(spec: TypeSpec) -> Callable[[Any], bool]:
    """A predicate telling whether an item is of the type ``spec`` names."""
    ns, name = spec.namespace, spec.name
    if ns is None:
        fhir = is_fhir_type(name)
        system = name in SYSTEM_TYPES
    elif ns == "FHIR":
        fhir, system = True, False
    elif ns == "System":
        fhir, system = False, True
    else:
        fhir, system = False, False

    def test(item: Any) -> bool:
        if type(item) is Node:
            st = item.struct
            if st is None:
                t = model.untyped_type(item.value)
                if t is None:
                    return False
                return (fhir and t == name) or (system and model.PRIMITIVE_SYSTEM.get(t) == name)
            if fhir and name in st.ancestors:
                return True
            return system and (st.system == name or name == "Any")
        if system:
            return name == "Any" or system_type(item) == name
        return False

    return test
