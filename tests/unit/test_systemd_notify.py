"""agent.systemd_notify against a real unix datagram socket, as systemd serves $NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.systemd_notify import (
    notify,
    notify_ready,
    notify_stopping,
    watchdog_interval,
    watchdog_loop,
)


class NotifySocket:
    """A bound SOCK_DGRAM socket that reads what the agent sent, datagram by datagram."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)

    def received(self) -> list[str]:
        messages = []
        while True:
            try:
                messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return messages


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[NotifySocket, dict[str, str]]]:
    path = tmp_path / "notify"
    sock = NotifySocket(str(path))
    yield sock, {"NOTIFY_SOCKET": str(path)}
    sock.sock.close()


def test_ready_and_stopping_are_one_datagram_each(
    server: tuple[NotifySocket, dict[str, str]],
) -> None:
    sock, env = server
    assert notify_ready(env) is True
    assert notify_stopping(env) is True
    assert sock.received() == ["READY=1", "STOPPING=1"]


def test_an_abstract_socket_address_is_reached() -> None:
    name = f"retail-edge-test-{os.getpid()}"
    sock = NotifySocket("\0" + name)
    try:
        assert notify_ready({"NOTIFY_SOCKET": "@" + name}) is True
        assert sock.received() == ["READY=1"]
    finally:
        sock.sock.close()


def test_outside_systemd_nothing_is_sent() -> None:
    assert notify_ready({}) is False
    assert watchdog_interval({}) is None


def test_a_socket_that_is_gone_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "absent")}) is False
    assert "could not notify systemd" in caplog.text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_the_ping_interval_is_half_the_watchdog_timeout(
    env: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(env) == expected


async def test_the_watchdog_is_pinged_only_while_healthy(
    server: tuple[NotifySocket, dict[str, str]],
) -> None:
    sock, env = server
    env = {**env, "WATCHDOG_USEC": "20000"}  # a ping every 10 ms
    stop = asyncio.Event()
    # healthy, healthy, unhealthy, raises, healthy, then stop: three pings, none for the two
    # bad answers.
    answers: list[bool | None] = [True, True, False, None, True]

    async def healthy() -> bool:
        answer = answers.pop(0)
        if not answers:
            stop.set()
        if answer is None:
            raise RuntimeError("health check crashed")
        return answer

    await asyncio.wait_for(watchdog_loop(stop, healthy, env), timeout=5)
    assert sock.received() == ["WATCHDOG=1"] * 3
    assert answers == []


async def test_the_loop_stops_promptly_when_asked(
    server: tuple[NotifySocket, dict[str, str]],
) -> None:
    sock, env = server
    env = {**env, "WATCHDOG_USEC": "600000000"}  # a ping every 5 minutes
    stop = asyncio.Event()

    async def healthy() -> bool:
        return True

    task = asyncio.create_task(watchdog_loop(stop, healthy, env))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=1)  # not after the 5-minute interval
    assert sock.received() == ["WATCHDOG=1"]


async def test_without_a_watchdog_the_loop_returns_at_once() -> None:
    calls = 0

    async def healthy() -> bool:
        nonlocal calls
        calls += 1
        return True

    await asyncio.wait_for(watchdog_loop(asyncio.Event(), healthy, {}), timeout=1)
    assert calls == 0
