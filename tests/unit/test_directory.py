"""The in-memory customer directory keeps records compactly and gives them back whole."""

from __future__ import annotations

import json

from agent.core.customers import CustomerRecord, EidCredential, parse_customer_message
from agent.services.directory import CustomerDirectory


def record(n: int, **changes: object) -> CustomerRecord:
    doc = {
        "op": "upsert", "customer_id": f"c-{n}", "version": 3, "display_name": "Zoé",
        "consent": {"recognition": True, "staff_profile": True},
        "credentials": {
            "eid": {"identity_key": f"{n:032x}", "rotation_exponent": 10, "epoch": 1767225600},
            "nfc_uids": ["04A1B2C3D4E5F6"],
        },
        "profile": {"tier": "gold", "notes": "likes ☕", "preferences": ["tea"], "basket": []},
    }  # fmt: skip
    doc.update(changes)
    parsed = parse_customer_message(json.dumps(doc).encode(), f"c-{n}")
    assert isinstance(parsed, CustomerRecord)
    return parsed


def test_a_record_comes_back_as_it_went_in() -> None:
    directory = CustomerDirectory()
    original = record(1)
    directory.put(original)
    assert directory.get("c-1") == original
    assert "c-1" in directory and "c-2" not in directory
    assert directory.by_nfc("04A1B2C3D4E5F6") == "c-1"
    assert directory.records() == [original]
    assert directory.credentials() == [("c-1", original.eid)]


def test_no_recognition_consent_is_not_held_and_removal_forgets_the_card() -> None:
    directory = CustomerDirectory()
    directory.put(record(1, consent={"recognition": False}))
    assert directory.get("c-1") is None and len(directory) == 0
    directory.put(record(2))
    directory.remove("c-2")
    assert directory.by_nfc("04A1B2C3D4E5F6") is None and "c-2" not in directory


def test_customers_share_one_epoch_object_and_an_empty_profile_costs_nothing() -> None:
    directory = CustomerDirectory()
    directory.put(record(1))
    directory.put(record(2, profile={}))
    one, two = directory.credential("c-1"), directory.credential("c-2")
    assert isinstance(one, EidCredential) and isinstance(two, EidCredential)
    assert one.epoch is two.epoch
    assert directory.get("c-2") == record(2, profile={})
