"""Customer records and tombstones: strict parsing, version rule."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.core.customers import (
    CustomerRecord,
    MalformedMessage,
    Tombstone,
    is_newer,
    parse_customer_message,
)

CONTRACT_EXAMPLE = {
    "op": "upsert",
    "customer_id": "c-123",
    "version": 7,
    "display_name": "Camille",
    "consent": {"recognition": True, "staff_profile": True},
    "credentials": {
        "eid": {
            "identity_key": "00112233445566778899aabbccddeeff",
            "rotation_exponent": 10,
            "epoch": 1767225600,
        },
        "nfc_uids": ["04A1B2C3D4E5F6"],
    },
    "profile": {
        "tier": "gold",
        "notes": "...",
        "preferences": ["..."],
        "basket": [{"sku": "...", "name": "..."}],
    },
}


def encode(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_contract_example_parses_into_a_record() -> None:
    record = parse_customer_message(encode(CONTRACT_EXAMPLE), "c-123")
    assert isinstance(record, CustomerRecord)
    assert record.version == 7
    assert record.consent_recognition and record.consent_staff_profile
    assert record.eid is not None
    assert record.eid.identity_key == bytes.fromhex("00112233445566778899aabbccddeeff")
    assert record.eid.rotation_exponent == 10
    assert record.nfc_uids == ("04A1B2C3D4E5F6",)
    assert record.profile["tier"] == "gold"


@pytest.mark.parametrize("op", ["revoke", "erase"])
def test_tombstones(op: str) -> None:
    message = parse_customer_message(encode({"op": op, "customer_id": "c-9", "version": 3}), "c-9")
    assert message == Tombstone(op=op, customer_id="c-9", version=3)  # type: ignore[arg-type]


def test_nfc_uids_are_normalised_to_upper_case_without_colons() -> None:
    doc = dict(CONTRACT_EXAMPLE, credentials={"nfc_uids": ["04:a1:b2:c3:d4:e5:f6"]})
    record = parse_customer_message(encode(doc), "c-123")
    assert isinstance(record, CustomerRecord)
    assert record.nfc_uids == ("04A1B2C3D4E5F6",)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"customer_id": "c-999"}, "does not match the topic"),
        ({"version": -1}, "version"),
        ({"version": "7"}, "version"),
        ({"version": True}, "version"),
        ({"op": "merge"}, "unknown op"),
        ({"consent": {"recognition": "yes"}}, "consent.recognition"),
        (
            {"credentials": {"eid": {"identity_key": "zz", "rotation_exponent": 10, "epoch": 0}}},
            "identity_key",
        ),
        (
            {
                "credentials": {
                    "eid": {"identity_key": "00" * 16, "rotation_exponent": 16, "epoch": 0}
                }
            },
            "rotation_exponent",
        ),
        ({"credentials": {"nfc_uids": ["xyz"]}}, "nfc_uids"),
        ({"profile": []}, "profile"),
        ({"display_name": 5}, "display_name"),
    ],
)
def test_malformed_records_are_rejected_with_a_reason(change: dict[str, object], why: str) -> None:
    with pytest.raises(MalformedMessage, match=why):
        parse_customer_message(encode(dict(CONTRACT_EXAMPLE, **change)), "c-123")


def test_oversized_payload_is_rejected_before_parsing() -> None:
    doc = dict(CONTRACT_EXAMPLE, profile={"notes": "x" * 70_000})
    with pytest.raises(MalformedMessage, match="exceeds"):
        parse_customer_message(encode(doc), "c-123")


@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_escape_as_another_exception(payload: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        parse_customer_message(payload, "c-1")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["op", "customer_id", "version", "consent", "credentials", "profile", "display_name"]
        ),
        json_values,
    )
)
def test_arbitrary_json_objects_never_escape_as_another_exception(doc: dict[str, object]) -> None:
    with contextlib.suppress(MalformedMessage):
        parse_customer_message(encode(doc), str(doc.get("customer_id", "c-1")))


def test_version_rule() -> None:
    assert is_newer(1, None)
    assert is_newer(8, 7)
    assert not is_newer(7, 7)
    assert not is_newer(6, 7)


def test_checkins() -> None:
    from agent.core.customers import parse_checkin

    checkin = parse_checkin(b'{"customer_id": "c-1", "at": "2026-03-02T10:00:00Z"}')
    assert checkin.customer_id == "c-1" and checkin.at_unix == 1772445600.0
    for bad in (
        b"x",
        b"[]",
        b'{"customer_id": "c-1"}',
        b'{"customer_id": "c 1", "at": "2026-03-02T10:00:00Z"}',
        b'{"customer_id": "c-1", "at": "yesterday"}',
        b'{"customer_id": "c-1", "at": "2026-03-02T10:00:00"}',
    ):
        with pytest.raises(MalformedMessage):
            parse_checkin(bad)
