"""Tokenizer and envelopes: delimiters from ISA, round trips, counts and clear errors."""

from __future__ import annotations

from datetime import datetime

import pytest

from ehr.formats.x12.envelope import parse_interchange, write_interchange
from ehr.formats.x12.tokens import Delimiters, X12Error, tokenize
from tests import shared_dir

CORPUS = shared_dir.CORPUS / "x12"
NOW = datetime(2026, 5, 1, 9, 30)
BODY = [("BHT", ["0022", "13", "REF1", "20260501", "0930"]), ("HL", ["1", "", "20", "1"])]


def _write(**kw) -> str:
    args = dict(
        functional_id="HS", version="005010X279A1", transaction_code="270", bodies=[BODY],
        sender_id="SENDER", receiver_id="RECEIVER", control_number=42, now=NOW,
    )  # fmt: skip
    args.update(kw)
    return write_interchange(**args)


def test_round_trip_counts_and_control_numbers():
    text = _write(bodies=[BODY, BODY[:1]])
    assert text.startswith("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER  ")
    assert len(text.split("~")[0]) + 1 == 106  # the ISA is fixed-length
    ic = parse_interchange(text)
    assert (ic.sender_id, ic.receiver_id, ic.control_number) == ("SENDER", "RECEIVER", "000000042")
    [group] = ic.groups
    assert (group.functional_id, group.version, group.control_number) == (
        "HS", "005010X279A1", "42",
    )  # fmt: skip
    assert [t.control_number for t in group.transactions] == ["0001", "0002"]
    assert [len(t.segments) for t in group.transactions] == [2, 1]
    assert "SE*4*0001~" in text and "SE*3*0002~" in text and text.endswith("IEA*1*000000042~")


def test_other_delimiters_and_line_breaks_are_read_from_isa():
    d = Delimiters(element="|", repetition="}", component="<", segment="\n")
    text = _write(delimiters=d, bodies=[[("EQ", [["30", "98"]])]])
    delims, segments = tokenize(text)
    assert delims == d
    eq = next(s for s in segments if s.id == "EQ")
    assert eq.repeats(1) == ["30", "98"]
    spaced = _write(line_breaks=True).replace("\n", "\r\n")
    assert [s.id for s in tokenize(spaced)[1]][:3] == ["ISA", "GS", "ST"]
    assert parse_interchange("\ufeff" + spaced).control_number == "000000042"


def test_values_holding_a_delimiter_are_refused_when_writing():
    with pytest.raises(X12Error, match="delimiter"):
        _write(bodies=[[("NM1", ["IL", "1", "O*BRIEN"])]])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("SE*4*0001", "SE*5*0001"), r"Segment 6 \(SE\): SE01 says 5 segments"),
        (lambda t: t.replace("SE*4*0001", "SE*4*0009"), "SE02 control number '0009' does not"),
        (lambda t: t.replace("GE*1*42", "GE*2*42"), "GE01 says 2 transaction sets"),
        (lambda t: t.replace("IEA*1*000000042", "IEA*1*000000043"), "IEA02 control number"),
        (lambda t: t.replace("IEA*1*000000042~", ""), "ends without its IEA"),
        (lambda t: t.replace("HL*1**20*1~", "HL*1**20*1~*X~"), "has no identifier"),
        (lambda t: t.replace("HL*1", "hl*1"), "'hl' is not a segment identifier"),
        (lambda t: t[:50], "cut short"),
        (lambda t: "GS" + t[3:], "starts with an ISA segment"),
        (lambda t: t.replace("ST*270", "GE*0*42~ST*270"), "ST outside a functional group"),
    ],
)
def test_broken_envelopes_get_clear_messages(mutate, message):
    with pytest.raises(X12Error, match=message):
        parse_interchange(mutate(_write()))


def test_corpus_envelopes_270_271():
    for path in sorted((CORPUS / "270_271").glob("stupidedi_*.x12")):
        ic = parse_interchange(path.read_text())
        assert ic.version == "00501" and len(ic.groups[0].transactions) == 1, path.name


@pytest.mark.parametrize("path", sorted((CORPUS / "invalid").glob("*.x12")), ids=lambda p: p.stem)
def test_invalid_corpus_files_are_refused_with_a_reason(path):
    with pytest.raises(X12Error) as caught:
        parse_interchange(path.read_text())
    text = str(caught.value)
    assert text.startswith("Segment ") and len(text) > 30  # where, and why in words
