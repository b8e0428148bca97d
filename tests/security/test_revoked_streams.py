"""A revoked tablet's open stream ends within 5 s of `retail-edge revoke` run in another
process, and nothing is sent on it after the revoke (contract 8.2; issue 12 item 3: round 1
kept sending for 90 s: arrival alerts with names and profiles, queue and occupancy events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agent import tools
from agent.config.loader import load_config
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker, free_port
from tests.helpers import eventually
from tests.integration.queue_fixtures import QUEUES, staff_headers
from tests.integration.recognition_fixtures import customer

CUSTOMERS = 40
# A frame the agent checked and sent just before the revoke became visible to it may reach the
# test after the refusal probe's answer (two connections, two busy processes on shared
# cores): that much is allowed by arrival time. What a frame carries is checked exactly.
IN_FLIGHT_S = 0.5
CHECKINS = "retail/v1/stores/test-01/checkins"
BUSY_STORE = "joins_per_client = 10000\njoins_per_token_per_minute = 10000"


@dataclass
class Recorded:
    """Every line of one SSE stream with the moment it arrived (wall clock: it is compared
    with the revoke's own timestamp in the database, written by another process)."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    ended_at: float | None = None

    def events(self, before: float = float("inf")) -> list[str]:
        return [line[7:] for at, line in self.lines if line.startswith("event: ") and at < before]


async def record(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], into: Recorded
) -> None:
    async with client.stream("GET", url, headers=headers) as stream:
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line:
                into.lines.append((time.time(), line))
    into.ended_at = time.time()


FOOTFALL = """
[[devices]]
kind = "footfall"
adapter = "mqtt"
door = "main"
in_topic = "footfall-main/sensor/people_in/state"
out_topic = "footfall-main/sensor/people_out/state"
"""


async def traffic(
    client: httpx.AsyncClient,
    central: CentralService,
    sticker: str,
    stop: asyncio.Event,
    started: dict[str, float],
) -> None:
    """What a busy store sends to tablets, all from outside the agent: joins over HTTP (queue
    events), a door counter over MQTT (occupancy) and app check-ins of consenting customers
    from the central side (arrival alerts). ``started`` gets when each ticket name and
    customer id was first sent (wall clock)."""
    n = 0
    while not stop.is_set():
        started[f"g{n}"] = time.time()
        # Not checked: a write of the agent may be refused for a moment while the revoke
        # writes from its own process (the stream is what this test is about).
        await client.post(
            "/api/v1/queues/pickup/tickets", json={"window_token": sticker, "name": f"g{n}"}
        )
        central.publish_raw("footfall-main/sensor/people_in/state", str(n + 1).encode())
        if n < CUSTOMERS:
            at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            checkin = {"customer_id": customer(n)["customer_id"], "at": at}
            started[checkin["customer_id"]] = time.time()
            central.publish_raw(CHECKINS, json.dumps(checkin).encode())
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


def data_lines(stream: Recorded) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for _, line in stream.lines if line.startswith("data: ")]


def born(data: dict[str, Any], started: dict[str, float]) -> float:
    """The earliest moment this frame can have been made: after the newest ticket it lists
    was asked for, after the check-in it reports was sent, at its own `ts`. A frame made
    after the revoke was visible must never be sent, however late it arrives here."""
    moments = [0.0]
    for ticket in data.get("waiting", []):
        moments.append(started.get(ticket.get("name", ""), 0.0))
    if "alert_id" in data:
        moments.append(started.get(data.get("customer_id", ""), 0.0))
    if "occupancy" in data and "ts" in data:
        moments.append(datetime.fromisoformat(data["ts"].replace("Z", "+00:00")).timestamp())
    return max(moments)


async def cli(config_path: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        args[0],
        "-c",
        config_path,
        *args[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


@contextlib.asynccontextmanager
async def agent_process(config_path: str, base_url: str) -> AsyncIterator[None]:
    """`retail-edge run` in its own process, so the moment a frame arrives here says when the
    agent sent it (an agent in the test's own event loop would blur the two)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        "run",
        "-c",
        config_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=2) as probe:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/healthz")).json()["mqtt"] == "connected":
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the agent did not start")
        yield
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert b"Traceback" not in err, err.decode()


async def revoke(config_path: str, name: str) -> float:
    """Run `retail-edge revoke`; return when it took effect, as `retail-edge devices` shows
    it (the revoke's timestamp, taken just before it commits)."""
    assert (await cli(config_path, "revoke", name)).strip() == f"revoked {name}"
    listing = await cli(config_path, "devices")
    (line,) = [line for line in listing.splitlines() if f"  {name}  " in line]
    stamp = line.rsplit("revoked ", 1)[1].strip()
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def first_refusal(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    """When the agent first refuses the token (polled): by then the revoke has committed, so
    the stream may not send anything more."""
    while True:
        if (await client.get("/api/v1/queues/pickup", headers=headers)).status_code == 401:
            return time.time()
        await asyncio.sleep(0.005)


async def paired(client: httpx.AsyncClient, code: str) -> dict[str, str]:
    response = await client.post("/api/v1/pair", json={"code": code, "device_name": "t"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.mark.timeout(120)
async def test_revoke_from_another_process_ends_the_open_staff_stream(
    broker: MosquittoBroker, central: CentralService, write_config
) -> None:
    port = free_port()
    path = write_config(broker.url, extra=QUEUES.format(max_waiting=500) + FOOTFALL)
    text = path.read_text().replace("port = 0", f"port = {port}")
    path.write_text(text.replace("[http]\n", "[http]\n" + BUSY_STORE + "\n", 1))
    config = load_config(path)
    base = f"http://127.0.0.1:{port}"
    for n in range(CUSTOMERS):
        central.publish_customer(customer(n))
    printed = await cli(
        str(path), "window-qr", "--queue", "pickup", "--out", str(path.parent / "s.svg")
    )
    sticker = printed.rsplit("?w=", 1)[1].strip()
    # Made before the agent starts: its start-up writes then meet no other writer.
    codes = {name: tools.pairing_code(config, name) for name in ("tablet-lost", "tablet-kept")}
    async with (
        agent_process(str(path), base),
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        revoked_tablet = await paired(client, codes["tablet-lost"])
        other_tablet = await paired(client, codes["tablet-kept"])
        first = (
            await client.post("/api/v1/queues/pickup/tickets", json={"window_token": sticker})
        ).json()
        ticket = first["ticket"]["id"]
        lost, kept, phone = Recorded(), Recorded(), Recorded()
        readers = [
            asyncio.create_task(record(client, "/api/v1/staff/stream", revoked_tablet, lost)),
            asyncio.create_task(record(client, "/api/v1/staff/stream", other_tablet, kept)),
            asyncio.create_task(
                record(
                    client,
                    f"/api/v1/tickets/{ticket}/stream",
                    {"Authorization": f"Ticket {first['secret']}"},
                    phone,
                )
            ),
        ]
        stop = asyncio.Event()
        started: dict[str, float] = {}
        busy = asyncio.create_task(traffic(client, central, sticker, stop, started))
        try:
            await eventually(
                lambda: {"arrival", "queue", "occupancy"} <= set(lost.events()),
                timeout=20,
                message="arrival, queue and occupancy events flowing to the tablet",
            )
            await asyncio.sleep(1.0)
            refused = asyncio.create_task(first_refusal(client, revoked_tablet))
            revoked_at = await revoke(str(path), "tablet-lost")
            refused_at = await asyncio.wait_for(refused, 5)
            await eventually(lambda: lost.ended_at is not None, timeout=8, message="stream end")
            assert lost.ended_at is not None
            assert lost.ended_at - revoked_at < 5.0, f"ended {lost.ended_at - revoked_at:.1f} s"
            # Nothing after the agent itself refused the token (the commit was visible to it).
            after = [line for at, line in lost.lines if at > refused_at + IN_FLIGHT_S]
            assert after == [], f"sent after the revoke: {after[:5]}"
            made_after = [line for line in data_lines(lost) if born(line, started) > refused_at]
            assert made_after == [], f"news made after the revoke was sent: {made_after[:2]}"
            # Everyone else is unaffected: the other tablet and the phone keep their streams.
            await asyncio.sleep(1.5)
            assert kept.ended_at is None and phone.ended_at is None
            assert kept.events() != kept.events(before=revoked_at), "the other tablet"
            called = await client.post("/api/v1/queues/pickup/call-next", headers=other_tablet)
            assert called.status_code == 200 and called.json()["id"] == ticket

            def phone_saw_the_call() -> bool:
                return any(
                    line.startswith("data: ") and json.loads(line[6:])["state"] == "called"
                    for _, line in phone.lines
                )

            await eventually(phone_saw_the_call, message="the phone's ticket stream")
            # The revoked tablet cannot reopen its stream.
            again = await client.get("/api/v1/staff/stream", headers=revoked_tablet)
            assert again.status_code == 401
        finally:
            stop.set()
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await busy


async def test_revoke_ends_an_idle_stream_too(write_config, start_agent) -> None:
    """Nothing to send (no frame that would check): the agent's watch still ends it."""
    path = write_config(None, extra=QUEUES.format(max_waiting=50))
    config = load_config(path)
    agent = await start_agent(config)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=30) as client:
        headers = await staff_headers(client, config, "tablet-idle")
        idle = Recorded()
        reader = asyncio.create_task(record(client, "/api/v1/staff/stream", headers, idle))
        await eventually(lambda: "queue" in idle.events(), message="the stream's first frames")
        revoked_at = await revoke(str(path), "tablet-idle")
        await asyncio.wait_for(reader, 8)
        assert idle.ended_at is not None and idle.ended_at - revoked_at < 5.0
        assert [line for at, line in idle.lines if at > revoked_at + IN_FLIGHT_S] == []
