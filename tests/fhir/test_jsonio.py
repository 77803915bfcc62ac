from decimal import Decimal

from ehr.fhir import jsonio


def test_decimal_precision_is_kept_digit_for_digit():
    body = b'{"valueQuantity":{"value":1.50,"unit":"mg"},"n":3,"x":0.1,"big":1.0E+2}'
    obj = jsonio.loads(body)
    assert obj["valueQuantity"]["value"] == Decimal("1.50")
    out = jsonio.dumps(obj)
    assert b'"value":1.50' in out and b'"big":1.0E+2' in out and b'"x":0.1' in out


def test_plain_numbers_take_the_fast_path():
    obj = jsonio.loads(b'{"a":1.5,"b":2,"c":[0.25]}')
    assert isinstance(obj["a"], float) and obj == {"a": 1.5, "b": 2, "c": [0.25]}
    assert jsonio.dumps(obj) == b'{"a":1.5,"b":2,"c":[0.25]}'


def test_what_json_does_not_allow_is_refused_as_malformed_json():
    import pytest

    for body in (
        b'{"a": NaN}',
        b'{"a": -Infinity}',
        b'{"a": "\xff\xfe"}',  # not UTF-8
        b'{"a": "\\ud800"}',  # a lone surrogate
        b'{"a": 1} x',
        b"",
    ):
        with pytest.raises(jsonio.JSONDecodeError):
            jsonio.loads(body)
    assert jsonio.loads(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_numbers_in_strings_and_uuids_do_not_change_how_numbers_are_read():
    obj = jsonio.loads(b'{"id": "8e662-3e4", "v": 93.56, "w": 2.50, "n": [1, 2.0]}')
    assert obj == {"id": "8e662-3e4", "v": 93.56, "w": Decimal("2.50"), "n": [1, 2.0]}
    assert isinstance(obj["v"], float) and isinstance(obj["n"][1], float)
    assert jsonio.dumps(obj) == b'{"id":"8e662-3e4","v":93.56,"w":2.50,"n":[1,2.0]}'
