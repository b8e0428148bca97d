"""The manifest digest, the manifest and page parsers, and the inbound queue's bound."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from agent.core.customer_sync import (
    EMPTY_DIGEST,
    HeldRecords,
    Manifest,
    digest_of,
    id_hash,
    parse_manifest,
    parse_page,
)
from agent.core.customers import MalformedMessage, Tombstone
from agent.metrics import Metrics
from agent.sync.inbound_queue import InboundItem, InboundQueue


def pairs(n: int) -> list[tuple[str, int]]:
    return [(id_hash(f"c-{i:05d}"), i % 7 + 1) for i in range(n)]


def test_digest_ignores_order_and_sees_one_version_or_record_changed() -> None:
    held = pairs(500)
    shuffled = held[:]
    random.Random(3).shuffle(shuffled)
    assert digest_of(held) == digest_of(shuffled)
    assert digest_of([]) == EMPTY_DIGEST
    bumped = [*held[:-1], (held[-1][0], held[-1][1] + 1)]
    assert digest_of(bumped) != digest_of(held)
    assert digest_of(held[:-1]) != digest_of(held)
    # A sum, not XOR: the same contribution twice does not cancel out.
    assert digest_of([held[0], held[0]]) != EMPTY_DIGEST
    assert len(digest_of(held)) == 64


def test_manifest_forms_and_what_matches() -> None:
    digest = digest_of(pairs(3))
    manifest = parse_manifest(json.dumps({"records": 3, "digest": digest}).encode())
    assert manifest == Manifest(3, digest)
    assert parse_manifest(b'{"records": 3}') == Manifest(3, None)
    assert HeldRecords(3, digest).matches(manifest)
    assert not HeldRecords(3, EMPTY_DIGEST).matches(manifest)
    assert not HeldRecords(2, digest).matches(manifest)
    for bad in (b'{"records": -1}', b'{"records": true}', b'{"records": 1, "digest": "AB"}', b"[]"):
        with pytest.raises(MalformedMessage):
            parse_manifest(bad)


def test_a_page_with_a_poison_record_keeps_the_others() -> None:
    page = {
        "after": "",
        "next": "c-00003",
        "records": [
            {"op": "erase", "customer_id": "c-00001", "version": 2},
            {"op": "upsert", "customer_id": "c-00002", "version": "x"},  # bad version
            "not an object",
            {"op": "revoke", "customer_id": "c-00003", "version": 1},
        ],
    }
    parsed = parse_page(json.dumps(page).encode())
    assert parsed.next == "c-00003" and parsed.malformed == 2
    assert parsed.records == (Tombstone("erase", "c-00001", 2), Tombstone("revoke", "c-00003", 1))
    with pytest.raises(MalformedMessage):
        parse_page(json.dumps({"after": "", "next": None, "records": [{}] * 251}).encode())


async def test_inbound_queue_holds_the_sender_while_full_and_keeps_order() -> None:
    metrics = Metrics()
    queue = InboundQueue(metrics, max_messages=3, max_bytes=1_000)
    for n in range(3):
        await queue.put(InboundItem("t", bytes([n])))
    blocked = asyncio.create_task(queue.put(InboundItem("t", b"\x03")))
    await asyncio.sleep(0.01)
    assert not blocked.done() and len(queue) == 3  # full: the link stops acknowledging
    assert [i.payload for i in await queue.drain(2)] == [b"\x00", b"\x01"]
    await asyncio.wait_for(blocked, 1)
    assert [i.payload for i in await queue.drain()] == [b"\x02", b"\x03"]
    assert metrics.registry.get_sample_value("retail_edge_mqtt_inbound_queue_full_total") == 1
    assert metrics.registry.get_sample_value("retail_edge_mqtt_inbound_queue_peak") == 3
    # The byte bound: a large message waits for room, but an empty queue takes any size.
    await queue.put(InboundItem("t", b"x" * 5_000))
    assert len(queue) == 1
