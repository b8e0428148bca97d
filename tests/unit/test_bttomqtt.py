import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.core.bttomqtt import MalformedAdvertisement, parse_bttomqtt

EID_FRAME = "30ee0102030405060708"


def msg(**fields: object) -> bytes:
    base: dict[str, object] = {
        "id": "AA:BB:CC:DD:EE:FF",
        "rssi": -61,
        "servicedatauuid": "0xfeaa",
        "servicedata": EID_FRAME,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None}).encode()


def test_eddystone_advertisement() -> None:
    adv = parse_bttomqtt(msg(id="aa:bb:cc:dd:ee:ff", brand="GENERIC", name="x", txpower=-59))
    assert adv is not None
    assert adv.address == "AA:BB:CC:DD:EE:FF" and adv.rssi == -61
    assert adv.service_data == bytes.fromhex(EID_FRAME)


def test_other_devices_are_ignored_not_errors() -> None:
    assert parse_bttomqtt(msg(servicedatauuid="0x181a", servicedata="00ff")) is None
    assert parse_bttomqtt(msg(servicedatauuid=None, servicedata=None)) is None


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        msg(id="not-a-mac"),
        msg(rssi="-60"),
        msg(rssi=True),
        msg(rssi=-300),
        msg(servicedata="zz"),
        msg(servicedata=5),
        b"{" + b" " * 5000 + b"}",
    ],
)
def test_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedAdvertisement):
        parse_bttomqtt(payload)


@given(st.binary(max_size=300))
def test_garbage_never_raises_anything_else(payload: bytes) -> None:
    with contextlib.suppress(MalformedAdvertisement):
        parse_bttomqtt(payload)
