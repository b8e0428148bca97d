"""Reading a busy MQTT socket a chunk at a time (agent/adapters/mqtt_buffered_reads.py)."""

from __future__ import annotations

import select
import socket
import ssl
import threading
from pathlib import Path

import pytest

from agent.adapters.mqtt_buffered_reads import BufferedReads
from tests.tls import make_pki


def test_small_reads_come_from_one_chunk_and_one_chunk_per_wakeup() -> None:
    left, right = socket.socketpair()
    left.setblocking(False)
    try:
        reads = BufferedReads(left)
        right.sendall(b"abcdef")
        assert reads.recv(1) == b"a"
        assert reads.recv(2) == b"bc"
        assert reads.pending() == 3  # buffered: the reader goes on without a system call
        right.sendall(b"XYZ")  # more on the socket, after the chunk was read
        assert reads.recv(10) == b"def"  # what is left of the chunk, short of 10
        # A second chunk in the same wake-up is refused as "no data yet", so one flooding
        # socket cannot keep the event loop to itself ...
        with pytest.raises(BlockingIOError):
            reads.recv(1)
        # ... until the reader has seen the buffer empty (pending() == 0 ends its loop).
        assert reads.pending() == 0
        assert reads.recv(3) == b"XYZ"
        with pytest.raises(BlockingIOError):  # next wake-up, socket empty: as a socket does
            reads.pending()
            reads.recv(1)
        right.close()
        assert reads.pending() == 0
        assert reads.recv(1) == b""  # end of stream reaches paho as it is
    finally:
        left.close()


def test_everything_else_is_the_socket_itself() -> None:
    left, right = socket.socketpair()
    try:
        reads = BufferedReads(left)
        assert reads.fileno() == left.fileno()
        reads.send(b"ping")
        assert right.recv(4) == b"ping"
    finally:
        left.close()
        right.close()


def test_over_tls_every_byte_arrives_in_order_reading_as_aiomqtt_does(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki.server_cert, pki.server_key)
    client_context = ssl.create_default_context(cafile=str(pki.ca_cert))
    left, right = socket.socketpair()
    sent = bytes(range(256)) * 1200  # ~300 KiB: many TLS records, several chunks
    server_error: list[BaseException] = []

    def serve() -> None:
        try:
            with server_context.wrap_socket(right, server_side=True) as tls:
                tls.sendall(sent)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            server_error.append(exc)

    server = threading.Thread(target=serve)
    server.start()
    tls = client_context.wrap_socket(left, server_hostname="localhost")
    tls.setblocking(False)
    reads = BufferedReads(tls)
    received = bytearray()
    wakeups = 0
    while len(received) < len(sent):
        select.select([tls], [], [], 5)  # the loop's wake-up
        wakeups += 1
        while True:  # aiomqtt's reader: paho's small reads while bytes are pending
            try:
                piece = reads.recv(7)
            except (BlockingIOError, ssl.SSLWantReadError):
                piece = b""
            received += piece
            if reads.pending() == 0:
                break
    server.join(5)
    tls.close()
    assert not server_error
    assert bytes(received) == sent
    assert wakeups > 1  # one chunk per wake-up, not the whole stream in one
