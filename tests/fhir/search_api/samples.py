"""Sampled search parameters: each generator picks a value from the loaded data, deterministically.

A generator is ``gen(corpus, rng, rtype) -> [(name, value), ...]`` (the parameters of one
search). Values are chosen among the resources ordered by a key that does not depend on the ids
the server assigns, so a slot asks the same question on every run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.fhir.search_api import oracle as O
from tests.fhir.search_api.corpus import BASE, Corpus, escape

Params = list[tuple[str, str]]
Gen = Callable[[Corpus, random.Random, str], Params]


def candidates(c: Corpus, rtype: str, param: str, pred=None) -> list[tuple[str, str, object]]:
    vals = c.values(rtype, param)
    out = []
    for rid in c.order(rtype, vals):
        for kind, data in vals[rid]:
            if pred is None or pred(kind, data):
                out.append((rid, kind, data))
    assert out, f"no sample for {rtype}.{param}"
    return out


def pick(c: Corpus, rng: random.Random, rtype: str, param: str, pred=None):
    return rng.choice(candidates(c, rtype, param, pred))


# ------------------------------------------------------------------ tokens


def _token_cands(c, rtype, param, pred):
    out = []
    for rid, kind, data in candidates(c, rtype, param):
        for t in O.token_items(kind, data):
            if t.code is not None and "\\" not in t.code and pred(t, kind):
                out.append((rid, t))
    assert out, f"no token sample for {rtype}.{param}"
    return out


def tok_value(t: O.TokenItem, form: str) -> str:
    if form == "code":
        return escape(t.code)
    if form == "sys|code":
        return f"{escape(t.system)}|{escape(t.code)}"
    if form == "|code":
        return f"|{escape(t.code)}"
    if form == "sys|":
        return f"{escape(t.system)}|"
    raise AssertionError(form)


def tok(param: str, form: str = "sys|code", mod: str | None = None) -> Gen:
    """form: code, sys|code, |code, sys|, or (two system|code values), or-code (two codes)."""
    name = f"{param}:{mod}" if mod else param

    def gen(c: Corpus, rng: random.Random, rtype: str) -> Params:
        vform = {"or": "sys|code", "or-code": "code"}.get(form, form)

        def pred(t, kind):
            if vform in ("sys|code", "sys|"):
                return bool(t.system)
            if vform == "|code":
                return not t.system and kind in ("Coding", "CodeableConcept", "Identifier")
            return True

        cands = _token_cands(c, rtype, param, pred)
        rid, t = rng.choice(cands)
        if form in ("or", "or-code"):
            others = sorted({tok_value(x, vform) for _, x in cands} - {tok_value(t, vform)})
            return [(name, f"{tok_value(t, vform)},{rng.choice(others)}")]
        return [(name, tok_value(t, vform))]

    return gen


def tok_multi(param: str) -> Gen:
    """The same parameter twice (AND), both values taken from one resource that has several."""

    def gen(c, rng, rtype):
        by_rid: dict[str, set] = {}
        for rid, t in _token_cands(c, rtype, param, lambda t, k: bool(t.system)):
            by_rid.setdefault(rid, set()).add((t.system, t.code))
        rids = [r for r in c.order(rtype, by_rid) if len(by_rid[r]) > 1]
        rid = rng.choice(rids)
        a, b = rng.sample(sorted(by_rid[rid]), 2)
        return [
            (param, f"{escape(a[0])}|{escape(a[1])}"),
            (param, f"{escape(b[0])}|{escape(b[1])}"),
        ]

    return gen


def tok_text(param: str) -> Gen:
    def gen(c, rng, rtype):
        texts = sorted(
            {
                x
                for _, t in _token_cands(c, rtype, param, lambda t, k: True)
                for x in t.texts
                if x.strip()
            }
        )
        text = rng.choice(texts).strip()
        n = rng.randint(min(3, len(text)), len(text))
        value = text[:n].rstrip()
        value = rng.choice([value, value.lower(), value.upper()])
        return [(f"{param}:text", escape(value))]

    return gen


def of_type(param: str = "identifier") -> Gen:
    def gen(c, rng, rtype):
        cands = []
        for _rid, _kind, d in candidates(c, rtype, param, lambda k, d: k == "Identifier"):
            for cd in (d.get("type") or {}).get("coding") or []:
                if cd.get("system") and cd.get("code") and d.get("value"):
                    cands.append((cd["system"], cd["code"], d["value"]))
        s, code, v = rng.choice(cands)
        return [(f"{param}:of-type", f"{escape(s)}|{escape(code)}|{escape(v)}")]

    return gen


def missing(param: str, value: str) -> Gen:
    return lambda c, rng, rtype: [(f"{param}:missing", value)]


def fixed(*params: tuple[str, str]) -> Gen:
    return lambda c, rng, rtype: list(params)


# ------------------------------------------------------------------ strings


def _string_cands(c, rtype, param):
    out = []
    for _rid, kind, data in candidates(c, rtype, param):
        for p in O.string_parts(kind, data):
            if kind == "HumanName":
                p = p.split()[0] if p.split() else ""
            if len(p.strip()) >= 2:
                out.append((kind, p))
    return sorted(set(out))


def strg(param: str, form: str = "prefix") -> Gen:
    """form: prefix (case changed at random), exact, contains, or."""

    def gen(c, rng, rtype):
        cands = _string_cands(c, rtype, param)
        kind, part = rng.choice(cands)
        if form == "exact":
            return [(f"{param}:exact", escape(part))]
        if form == "contains":
            word = part if kind != "HumanName" else part.split()[0]
            if len(word) <= 3:
                return [(f"{param}:contains", escape(word))]
            a = rng.randint(1, len(word) - 3)
            b = rng.randint(a + 3, len(word))
            sub = word[a:b].strip() or word
            return [(f"{param}:contains", escape(rng.choice([sub, sub.upper()])))]
        n = rng.randint(2, len(part))
        value = part[:n].rstrip()
        value = rng.choice([value, value.lower(), value.upper()])
        if form == "or":
            _, other = rng.choice(cands)
            return [(param, f"{escape(value)},{escape(other[: max(2, len(other) // 2)])}")]
        return [(param, escape(value))]

    return gen


# ------------------------------------------------------------------ dates

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fmt_date(us: int, precision: str, offset_h: int = 0) -> str:
    dt = _EPOCH + timedelta(microseconds=us)
    if precision == "year":
        return dt.strftime("%Y")
    if precision == "month":
        return dt.strftime("%Y-%m")
    if precision == "day":
        return dt.strftime("%Y-%m-%d")
    local = dt + timedelta(hours=offset_h)
    zone = "Z" if offset_h == 0 else f"{'+' if offset_h > 0 else '-'}{abs(offset_h):02d}:00"
    if precision == "minute":
        return local.strftime("%Y-%m-%dT%H:%M") + zone
    if precision == "second":
        return local.strftime("%Y-%m-%dT%H:%M:%S") + zone
    raise AssertionError(precision)


def date_point(c, rng, rtype, param) -> int:
    ranges = []
    for _rid, kind, data in candidates(c, rtype, param):
        for lo, hi in O.date_ranges(kind, data):
            for x in (lo, hi):
                if x not in (O.NEG_INF, O.POS_INF):
                    ranges.append(int(x))
    return rng.choice(sorted(set(ranges)))


def dat(param: str, prefix: str = "", precision: str = "day", tz: int = 0) -> Gen:
    def gen(c, rng, rtype):
        return [(param, prefix + fmt_date(date_point(c, rng, rtype, param), precision, tz))]

    return gen


def date_range_gen(param: str, precision: str = "month") -> Gen:
    """ge and le on one parameter: a window between two sampled values."""

    def gen(c, rng, rtype):
        a, b = sorted([date_point(c, rng, rtype, param), date_point(c, rng, rtype, param)])
        return [(param, "ge" + fmt_date(a, precision)), (param, "le" + fmt_date(b, precision))]

    return gen


def last_updated(prefix: str, precision: str = "second") -> Gen:
    def gen(c, rng, rtype):
        pts = sorted({O.date_range(r["meta"]["lastUpdated"])[0] for r in c.res[rtype].values()})
        return [("_lastUpdated", prefix + fmt_date(rng.choice(pts), precision))]

    return gen


# ------------------------------------------------------------------ numbers and quantities


def num_text(d: Decimal, digits: int | None = None) -> str:
    """The number as written in a query; ``digits`` significant digits if given (a coarser
    value, whose implicit range is wider)."""
    if digits is not None and d != 0:
        d = Decimal(format(d, f".{digits}g"))
    return format(d, "f")


def num(param: str, prefix: str = "", digits: int | None = None) -> Gen:
    def gen(c, rng, rtype):
        _rid, _kind, data = pick(c, rng, rtype, param, lambda k, d: O.number_of(d) is not None)
        return [(param, prefix + num_text(O.number_of(data), digits))]

    return gen


def qty(param: str, prefix: str = "", units: str = "sys|code", digits: int | None = None) -> Gen:
    """units: none, sys|code, |code (code or unit, no system); digits: see ``num_text``."""

    def gen(c, rng, rtype):
        qs = sorted(
            {q for _r, k, d in candidates(c, rtype, param) for q in O.quantities(k, d)},
            key=repr,
        )
        if units == "sys|code":
            qs = [q for q in qs if q.system and q.code]
        elif units == "|code":
            qs = [q for q in qs if q.code or q.unit]
        q = rng.choice(qs)
        n = num_text(q.value, digits)
        if units == "sys|code":
            return [(param, f"{prefix}{n}|{escape(q.system)}|{escape(q.code)}")]
        if units == "|code":
            return [
                (param, f"{prefix}{n}||{escape(rng.choice([x for x in (q.code, q.unit) if x]))}")
            ]
        return [(param, prefix + n)]

    return gen


# ------------------------------------------------------------------ references and uris


def ref(param: str, form: str = "Type/id") -> Gen:
    """form: Type/id, id, typemod (param:Type=id), url (an absolute one in the data), own-url
    (a local reference written as this server's URL), foreign-url (the same Type/id on
    another server), identifier, or."""

    def gen(c, rng, rtype):
        if form == "identifier":
            cands = sorted(
                {
                    (t.system, t.code)
                    for _r, k, d in candidates(c, rtype, param)
                    for t in O.reference_identifiers(k, d)
                    if t.code
                },
                key=repr,
            )
            s, v = rng.choice(cands)
            value = f"{escape(s)}|{escape(v)}" if s else escape(v)
            return [(f"{param}:identifier", value)]
        refs = sorted(
            {r for rid, k, d in candidates(c, rtype, param) for r in O.references(k, d)},
            key=lambda r: (c.stable.get((r.type, r.id), f"zz:{r.id}"), repr(r)),
        )
        if form == "url":
            refs = [r for r in refs if r.url]
            return [(param, rng.choice(refs).url)]
        if form in ("own-url", "foreign-url"):
            r = rng.choice([r for r in refs if r.type and not r.url])
            base = BASE if form == "own-url" else "http://other.example.org/fhir/"
            return [(param, f"{base}{r.type}/{r.id}")]
        refs = [r for r in refs if r.type]
        r = rng.choice(refs)
        if form == "Type/id":
            return [(param, f"{r.type}/{r.id}")]
        if form == "id":
            return [(param, r.id)]
        if form == "typemod":
            return [(f"{param}:{r.type}", r.id)]
        if form == "or":
            o = rng.choice([x for x in refs if x != r])
            return [(param, f"{r.type}/{r.id},{o.type}/{o.id}")]
        raise AssertionError(form)

    return gen


def uri(param: str, form: str = "exact") -> Gen:
    def gen(c, rng, rtype):
        uris = sorted({u for _r, k, d in candidates(c, rtype, param) for u in O.uri_values(k, d)})
        u = rng.choice(uris)
        if form == "below":
            cut = u.rstrip("/").rsplit("/", 1)[0]
            return [(f"{param}:below", cut + "/")]
        if form == "above":
            return [(f"{param}:above", u.split("|")[0] + "/sub/path")]
        return [(param, u)]

    return gen


# ------------------------------------------------------------------ composites


def composite(param: str, prefix: str = "", digits: int | None = None) -> Gen:
    from ehr.fhir import definitions
    from tests.fhir.search_api.corpus import url_type

    def gen(c, rng, rtype):
        d = definitions.search_params(rtype)[param]
        comps = d["component"]
        kinds = [url_type(u) for u, _ in comps]
        choices = []
        for rid in c.order(rtype, c.res[rtype]):
            for root in O.compiled(rtype, d["expression"])(c.res[rtype][rid]):
                parts = []
                for (_u, expr), kind in zip(comps, kinds, strict=True):
                    vals = []
                    for item in O.compiled(rtype, expr)(root):
                        data = getattr(item, "data", item)
                        k = getattr(item, "path", None)
                        k = k.rsplit(".", 1)[-1] if k else O.guess_type(data)
                        if data is not None:
                            vals.append((k, data))
                    text = _component_text(kind, vals, prefix, digits)
                    if text is None:
                        break
                    parts.append(text)
                else:
                    choices.append("$".join(parts))
        assert choices, f"no composite sample for {rtype}.{param}"
        return [(param, rng.choice(sorted(set(choices))))]

    return gen


def _component_text(kind: str, vals: list, prefix: str, digits: int | None) -> str | None:
    if kind == "token":
        toks = [t for k, d in vals for t in O.token_items(k, d) if t.code]
        if not toks:
            return None
        t = toks[0]
        return f"{escape(t.system)}|{escape(t.code)}" if t.system else escape(t.code)
    if kind == "quantity":
        qs = [q for k, d in vals for q in O.quantities(k, d)]
        if not qs:
            return None
        q = qs[0]
        units = f"|{escape(q.system)}|{escape(q.code)}" if q.system and q.code else ""
        return f"{prefix}{num_text(q.value, digits)}{units}"
    if kind == "number":
        nums = [n for _k, d in vals if (n := O.number_of(d)) is not None]
        return f"{prefix}{num_text(nums[0], digits)}" if nums else None
    if kind == "date":
        ranges = [r for k, d in vals for r in O.date_ranges(k, d)]
        return f"{prefix}{fmt_date(int(ranges[0][0]), 'day')}" if ranges else None
    if kind == "string":
        parts = [p for k, d in vals for p in O.string_parts(k, d)]
        return escape(parts[0]) if parts else None
    return None


# ------------------------------------------------------------------ special parameters


def ids(n: int = 1) -> Gen:
    def gen(c, rng, rtype):
        chosen = rng.sample(c.order(rtype, c.ids(rtype)), n)
        return [("_id", ",".join(chosen))]

    return gen


_WORD = re.compile(r"[A-Za-z]{5,}")


def text_words(which: str, nwords: int = 1) -> Gen:
    import html

    from tests.fhir.search_api.corpus import content_strings

    def gen(c, rng, rtype):
        rid = rng.choice(
            [
                i
                for i in c.order(rtype, c.ids(rtype))
                if which == "_content" or (c.res[rtype][i].get("text") or {}).get("div")
            ]
        )
        res = c.res[rtype][rid]
        if which == "_text":
            text = html.unescape(re.sub(r"<[^>]*>", " ", res["text"]["div"]))
        else:
            text = " ".join(content_strings(res))
        words = sorted(set(_WORD.findall(text)))
        return [(which, " ".join(rng.sample(words, min(nwords, len(words)))))]

    return gen


def chain(name: str, param_in_target: str, target: str, form: str = "prefix") -> Gen:
    """``name`` is the chain (``subject:Patient.name``); the value comes from ``target``."""

    def gen(c, rng, rtype):
        if c.ptype(target, param_in_target) == "string":
            value = strg(param_in_target, form)(c, rng, target)[0][1]
        elif c.ptype(target, param_in_target) == "token":
            value = tok(param_in_target, "code")(c, rng, target)[0][1]
        elif c.ptype(target, param_in_target) == "date":
            value = dat(param_in_target, "", "year")(c, rng, target)[0][1]
        else:
            raise AssertionError(param_in_target)
        return [(name, value)]

    return gen


def has(name: str, other: str, param: str) -> Gen:
    """``_has:Other:ref:param`` with a token value sampled from the other type."""

    def gen(c, rng, rtype):
        return [(name, tok(param, "sys|code")(c, rng, other)[0][1])]

    return gen


def both(*gens: Gen) -> Gen:
    """Several parameters ANDed; each generator sees the same resource type."""

    def gen(c, rng, rtype):
        return [p for g in gens for p in g(c, rng, rtype)]

    return gen


def same_patient(*specs: tuple[str, Gen]) -> Gen:
    """``patient=X`` plus other parameters whose values come from X's own resources, so the
    combination (as US Core clients send it) is not empty."""

    def gen(c, rng, rtype):
        patients = sorted(
            {
                (r.type, r.id)
                for i in c.values(rtype, "patient")
                for r in c.refs(rtype, "patient", i)
            },
            key=lambda r: c.stable.get(r, r[1]),
        )
        rng.shuffle(patients)
        for ptype, pid in patients:
            sub = Corpus.__new__(Corpus)
            sub.__dict__.update(c.__dict__)
            sub.res = dict(c.res)
            sub.res[rtype] = {
                i: res
                for i, res in c.res[rtype].items()
                if any((x.type, x.id) == (ptype, pid) for x in c.refs(rtype, "patient", i))
            }
            sub._values, sub._match, sub._texts = {}, {}, {}
            out = [("patient", f"{ptype}/{pid}")]
            try:
                for _name, g in specs:
                    out += g(sub, rng, rtype)
            except AssertionError:  # this patient has no such values: the next one
                continue
            return out
        raise AssertionError(f"no patient with {[n for n, _ in specs]} in {rtype}")

    return gen
