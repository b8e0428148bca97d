"""The in-memory customer directory: consent, the staff-profile tier and NFC cards, nothing more."""

from __future__ import annotations

import json
import tracemalloc

from agent.core.customers import CustomerRecord, parse_customer_message
from agent.services.directory import CustomerDirectory


def record(n: int, **changes: object) -> CustomerRecord:
    doc = {
        "op": "upsert", "customer_id": f"c-{n}", "version": 3, "display_name": "Zoé",
        "consent": {"recognition": True, "staff_profile": True},
        "credentials": {
            "eid": {"identity_key": f"{n:032x}", "rotation_exponent": 10, "epoch": 1767225600},
            "nfc_uids": [f"04A1B2C3{n:06X}"],
        },
        "profile": {"tier": "gold", "notes": "likes ☕", "preferences": ["tea"], "basket": []},
    }  # fmt: skip
    doc.update(changes)
    parsed = parse_customer_message(json.dumps(doc).encode(), f"c-{n}")
    assert isinstance(parsed, CustomerRecord)
    return parsed


def test_it_answers_what_the_door_and_the_queue_ask() -> None:
    directory = CustomerDirectory()
    directory.put(record(1))
    directory.put(record(2, consent={"recognition": True, "staff_profile": False}))
    assert "c-1" in directory and "c-2" in directory and "c-3" not in directory
    assert list(directory) == ["c-1", "c-2"] and len(directory) == 2
    assert directory.by_nfc("04A1B2C3000001") == "c-1"
    assert directory.by_nfc("04A1B2C3000002") == "c-2"
    assert directory.staff_profile("c-1") and not directory.staff_profile("c-2")
    # The tier only for staff-profile consent: it would show on the tablet otherwise.
    assert directory.tier("c-1") == "gold" and directory.tier("c-2") is None
    assert directory.tier("c-3") is None and not directory.staff_profile("c-3")


def test_no_recognition_consent_is_not_held_and_removal_forgets_the_card() -> None:
    directory = CustomerDirectory()
    directory.put(record(1, consent={"recognition": False}))
    assert "c-1" not in directory and len(directory) == 0
    assert directory.by_nfc("04A1B2C3000001") is None
    directory.put(record(2))
    directory.remove("c-2")
    assert directory.by_nfc("04A1B2C3000002") is None and "c-2" not in directory


def test_a_new_version_replaces_the_card_and_the_tier() -> None:
    directory = CustomerDirectory()
    directory.put(record(1))
    moved = record(1, profile={"tier": "silver"})
    directory.put(
        CustomerRecord(
            moved.customer_id, 4, moved.display_name, True, True, moved.eid, ("0A0B0C0D",),
            moved.profile,
        )
    )  # fmt: skip
    assert directory.by_nfc("04A1B2C3000001") is None
    assert directory.by_nfc("0A0B0C0D") == "c-1" and directory.tier("c-1") == "silver"


def test_a_customer_with_several_cards_is_found_by_each_and_forgotten_by_all() -> None:
    directory = CustomerDirectory()
    directory.put(record(1, credentials={"nfc_uids": ["00000001", "0A0B0C0D0E0F01"]}))
    assert directory.by_nfc("00000001") == directory.by_nfc("0A0B0C0D0E0F01") == "c-1"
    directory.remove("c-1")
    assert directory.by_nfc("00000001") is None and directory.by_nfc("0A0B0C0D0E0F01") is None


def test_card_numbers_of_different_lengths_and_odd_text_do_not_meet() -> None:
    directory = CustomerDirectory()
    directory.put(record(1, credentials={"nfc_uids": ["00000001"]}))
    assert directory.by_nfc("00000001") == "c-1"
    assert directory.by_nfc("0000000001") is None  # same number, another length
    assert directory.by_nfc("0000_0001") is None and directory.by_nfc(" 00000001") is None
    assert directory.by_nfc("") is None and directory.by_nfc("zz") is None


def test_a_customer_costs_under_two_hundred_bytes_here() -> None:
    records = [record(n) for n in range(2000)]
    directory = CustomerDirectory()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for r in records:
        directory.put(r)
    held = (tracemalloc.get_traced_memory()[0] - before) / len(records)
    tracemalloc.stop()
    # Dict slots and the card number's int: no name, no profile (read from the store when a
    # card is built). Held as before (profile JSON, name, credential) it was ~550 bytes.
    assert held < 200, held
