"""Reading a busy MQTT socket a chunk at a time (agent/adapters/mqtt_buffered_reads.py)."""

from __future__ import annotations

import socket

import pytest

from agent.adapters.mqtt_buffered_reads import BufferedReads


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
