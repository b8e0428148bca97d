"""The BLE subscriber's packet parsing (agent/adapters/mqtt_subscriber.py), fed bytes directly:
however the stream is cut into chunks the same messages come out, and what is not a packet it
expects is counted and skipped, or ends the connection when nothing after it can be found."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.adapters.mqtt_subscriber import MAX_PACKET_BYTES, _Wire


def varint(n: int) -> bytes:
    """MQTT's remaining length, written out independently of the module under test."""
    out = b""
    while True:
        n, digit = divmod(n, 128)
        out += bytes([digit | (0x80 if n else 0)])
        if not n:
            return out


def publish(topic: bytes, payload: bytes, flags: int = 0) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + payload
    return bytes([0x30 | flags]) + varint(len(body)) + body


class FakeTransport:
    """What the wire calls on its transport; records an abort."""

    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


def feed(chunks: list[bytes], max_queued: int = 100_000) -> tuple[_Wire, FakeTransport]:
    async def run() -> tuple[_Wire, FakeTransport]:
        wire = _Wire(max_queued)
        transport = FakeTransport()
        wire.connection_made(transport)  # type: ignore[arg-type]
        for chunk in chunks:
            wire.data_received(chunk)
        return wire, transport

    return asyncio.run(run())


def cut(stream: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted({p % (len(stream) + 1) for p in points}), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(edges)]


messages = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=40),
        st.binary(max_size=400),  # past 127 bytes the length takes two bytes
        st.sampled_from([0, 0x01, 0x08]),  # RETAIN, DUP: still QoS 0 messages
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(messages, st.lists(st.integers(min_value=0), max_size=12))
def test_messages_come_out_whole_however_the_stream_is_cut(
    sent: list[tuple[bytes, bytes, int]], points: list[int]
) -> None:
    stream = b"".join(publish(t, p, f) for t, p, f in sent)
    wire, transport = feed(cut(stream, points))
    assert wire.pending == [(t, p) for t, p, _ in sent]
    assert (wire.dropped, wire.malformed, transport.aborted) == (0, 0, False)


def test_the_handshake_answers_and_a_pingresp_are_taken_in() -> None:
    async def run() -> None:
        wire = _Wire(10)
        wire.connection_made(FakeTransport())  # type: ignore[arg-type]
        wire.ping_unanswered = True
        wire.data_received(b"\x20\x02\x00\x00" + b"\x90\x03\x00\x01\x00" + b"\xd0\x00")
        assert await wire.connack == 0
        assert await wire.suback == b"\x00"
        assert not wire.ping_unanswered
        assert wire.malformed == 0

    asyncio.run(run())


def test_packets_a_subscriber_does_not_expect_are_counted_and_skipped() -> None:
    good = publish(b"home/a/BTtoMQTT/1", b"{}")
    lying = b"\x30\x05\x00\x09abc"  # says its topic is 9 bytes long, has 3
    qos1 = b"\x32" + varint(7) + b"\x00\x01t\x00\x07hi"  # QoS 1 was never granted
    pubrel = b"\x62\x02\x00\x07"  # a packet a broker does not send a subscriber
    empty = b"\x30\x00"  # a PUBLISH too short to have a topic
    wire, transport = feed([good + lying + good + qos1 + pubrel + empty + good])
    assert wire.pending == [(b"home/a/BTtoMQTT/1", b"{}")] * 3
    assert wire.malformed == 4
    assert not transport.aborted


def test_an_oversized_packet_is_skipped_as_it_streams_by_not_kept() -> None:
    huge = publish(b"t", b"x" * (MAX_PACKET_BYTES + 10))
    after = publish(b"t", b"after")
    pieces = cut(huge + after, list(range(1000, len(huge), 8000)))
    wire, _ = feed(pieces)
    assert wire.pending == [(b"t", b"after")]
    assert wire.malformed == 1
    assert len(wire._rest) == 0  # nothing of it was buffered


def test_a_length_that_is_not_an_mqtt_length_ends_the_connection() -> None:
    wire, transport = feed([publish(b"t", b"ok") + b"\x30\xff\xff\xff\xff\x01" + b"more"])
    assert wire.pending == [(b"t", b"ok")]
    assert transport.aborted
    assert wire.lost is not None and "length" in str(wire.lost)


def test_a_full_queue_drops_and_counts_what_does_not_fit() -> None:
    wire, _ = feed([b"".join(publish(b"t", str(i).encode()) for i in range(5))], max_queued=3)
    assert [p for _, p in wire.pending] == [b"0", b"1", b"2"]
    assert wire.dropped == 2
    assert wire.take_counts() == (2, 0)
    assert wire.take_counts() == (0, 0)
