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
