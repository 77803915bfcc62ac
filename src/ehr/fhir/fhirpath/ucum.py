"""Just enough UCUM to compare quantities written in different units.

A unit string is reduced to a factor and a dimension vector (``mg/dL`` -> 1e-2 g.m-3). Units
with the same dimensions compare after scaling; units we do not know stay opaque atoms, so they
compare only with themselves. Non-linear units (Cel, [degF]) are opaque too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

Dims = tuple[tuple[str, int], ...]

_PREFIXES: dict[str, Decimal] = {
    "Y": Decimal("1e24"), "Z": Decimal("1e21"), "E": Decimal("1e18"), "P": Decimal("1e15"),
    "T": Decimal("1e12"), "G": Decimal("1e9"), "M": Decimal("1e6"), "k": Decimal("1e3"),
    "h": Decimal("1e2"), "da": Decimal("1e1"), "d": Decimal("1e-1"), "c": Decimal("1e-2"),
    "m": Decimal("1e-3"), "u": Decimal("1e-6"), "n": Decimal("1e-9"), "p": Decimal("1e-12"),
    "f": Decimal("1e-15"), "a": Decimal("1e-18"),
}  # fmt: skip

# atom -> (factor, {base: exponent}); bases: m g s mol K C cd rad, and opaque atoms
_D = Decimal
_ATOMS: dict[str, tuple[Decimal, dict[str, int]]] = {
    "m": (_D(1), {"m": 1}),
    "g": (_D(1), {"g": 1}),
    "s": (_D(1), {"s": 1}),
    "mol": (_D(1), {"mol": 1}),
    "K": (_D(1), {"K": 1}),
    "C": (_D(1), {"C": 1}),
    "cd": (_D(1), {"cd": 1}),
    "rad": (_D(1), {"rad": 1}),
    "eq": (_D(1), {"mol": 1}),
    "L": (_D("0.001"), {"m": 3}),
    "l": (_D("0.001"), {"m": 3}),
    "min": (_D(60), {"s": 1}),
    "h": (_D(3600), {"s": 1}),
    "d": (_D(86400), {"s": 1}),
    "wk": (_D(604800), {"s": 1}),
    "mo": (_D("2629800"), {"s": 1}),
    "a": (_D("31557600"), {"s": 1}),
    "Hz": (_D(1), {"s": -1}),
    "N": (_D(1000), {"g": 1, "m": 1, "s": -2}),
    "Pa": (_D(1000), {"g": 1, "m": -1, "s": -2}),
    "bar": (_D(100000000), {"g": 1, "m": -1, "s": -2}),
    "m[Hg]": (_D("133322387.415"), {"g": 1, "m": -1, "s": -2}),
    "m[H2O]": (_D("9806650"), {"g": 1, "m": -1, "s": -2}),
    "J": (_D(1000), {"g": 1, "m": 2, "s": -2}),
    "cal": (_D("4184"), {"g": 1, "m": 2, "s": -2}),
    "W": (_D(1000), {"g": 1, "m": 2, "s": -3}),
    "A": (_D(1), {"C": 1, "s": -1}),
    "V": (_D(1000), {"g": 1, "m": 2, "s": -2, "C": -1}),
    "%": (_D("0.01"), {}),
    "[ppm]": (_D("1e-6"), {}),
    "[ppb]": (_D("1e-9"), {}),
    "[pi]": (_D("3.1415926535897932384626433832795028841971693993751"), {}),
    "deg": (_D("0.01745329251994329576923690768488612713442871888541"), {"rad": 1}),
    "[in_i]": (_D("0.0254"), {"m": 1}),
    "[ft_i]": (_D("0.3048"), {"m": 1}),
    "[yd_i]": (_D("0.9144"), {"m": 1}),
    "[mi_i]": (_D("1609.344"), {"m": 1}),
    "[lb_av]": (_D("453.59237"), {"g": 1}),
    "[oz_av]": (_D("28.349523125"), {"g": 1}),
    "[gal_us]": (_D("0.003785411784"), {"m": 3}),
    "[foz_us]": (_D("0.0000295735295625"), {"m": 3}),
    "[iU]": (_D(1), {"[iU]": 1}),
    "[IU]": (_D(1), {"[iU]": 1}),
    "U": (_D(1), {"U": 1}),
}
_NO_PREFIX = {"%", "[pi]", "deg", "min", "h", "d", "wk", "mo", "a", "[in_i]", "[ft_i]"}
_COMPONENT = re.compile(r"(\[[^\]]*\]|[A-Za-z%]+(?:\[[^\]]*\])?)([+-]?\d+)?")


class UnitError(ValueError):
    pass


def _atom(symbol: str) -> tuple[Decimal, dict[str, int]]:
    if symbol in _ATOMS:
        return _ATOMS[symbol]
    for plen in (2, 1):
        prefix, rest = symbol[:plen], symbol[plen:]
        if prefix in _PREFIXES and rest in _ATOMS and rest not in _NO_PREFIX:
            factor, dims = _ATOMS[rest]
            return _PREFIXES[prefix] * factor, dims
    return _D(1), {symbol: 1}  # unknown: an opaque atom


@lru_cache(maxsize=512)
def canonical(unit: str) -> tuple[Decimal, Dims]:
    """Factor and dimensions of a UCUM unit expression; opaque atoms keep their own name."""
    text = re.sub(r"\{[^}]*\}", "", unit.strip())
    factor = _D(1)
    dims: dict[str, int] = {}
    i = 0
    sign = 1
    n = len(text)
    if text.startswith("/"):
        sign = -1
        i = 1
    while i < n:
        if text[i] == "(":
            depth, j = 0, i
            while j < n:
                depth += text[j] == "("
                depth -= text[j] == ")"
                if depth == 0:
                    break
                j += 1
            inner_factor, inner_dims = canonical(text[i + 1 : j])
            factor *= inner_factor**sign
            for k, v in inner_dims:
                dims[k] = dims.get(k, 0) + sign * v
            i = j + 1
        else:
            m10 = re.match(r"10[*^]([+-]?\d+)", text[i:])
            mnum = re.match(r"\d+", text[i:])
            if m10:
                factor *= _D(10) ** (sign * int(m10.group(1)))
                i += m10.end()
            elif mnum:
                factor *= _D(int(mnum.group())) ** sign
                i += mnum.end()
            elif i == n:
                break
            else:
                m = _COMPONENT.match(text, i)
                if not m:
                    raise UnitError(f"cannot read unit {unit!r}")
                f, d = _atom(m.group(1))
                exp = int(m.group(2)) if m.group(2) else 1
                factor *= f ** (sign * exp)
                for k, v in d.items():
                    dims[k] = dims.get(k, 0) + sign * exp * v
                i = m.end()
        if i < n:
            if text[i] == ".":
                sign = 1
            elif text[i] == "/":
                sign = -1
            else:
                raise UnitError(f"cannot read unit {unit!r}")
            i += 1
    return factor, tuple(sorted((k, v) for k, v in dims.items() if v))
