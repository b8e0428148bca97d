"""Contract §8.5 across a departure and a restart: an erase or revoke takes back the alert.

A recognised customer taps in, the alert shows on a tablet, the customer leaves (presence
timeout on a ManualClock), the agent stops and starts again on the same database file; then
the central side sends an erase (or revoke). A staff stream opened after the restart first
gets the still-open alert from the store, then its withdrawal; a stream opened afterwards
does not get it in its snapshot. Before the message bus this failed: the alert ids to withdraw
lived in memory, cleared at departure and lost at restart, and the stream had no snapshot.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from agent.config.loader import load_config
from agent.core.clock import ManualClock
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import staff_headers
from tests.integration.recognition_fixtures import DEVICES, StaffStream, customer


def alert_ids(stream: StaffStream, event: str) -> list[str]:
    return [data["alert_id"] for data in stream.of(event)]


@pytest.mark.parametrize("op", ["erase", "revoke"])
async def test_a_tombstone_after_departure_and_restart_withdraws_the_alert(
    op: str, broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    # Real time as the start: the pairing code is made with the wall clock.
    clock = ManualClock(datetime.now(UTC))
    config = load_config(write_config(broker.url, extra=DEVICES))
    agent = await start_agent(config, clock=clock)
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    leaving, staying = customer(7), customer(8)
    central.publish_customer(leaving)
    central.publish_customer(staying)
    await eventually(lambda: len(agent.components.recognition.directory) == 2, message="records")
    reader = agent.components.extras["nfc"]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, config)
        async with StaffStream(client, headers) as live:
            reader.tap(leaving["credentials"]["nfc_uids"][0])
            await eventually(lambda: len(live.of("arrival")) == 1, message="arrival alert")
            (alert_id,) = alert_ids(live, "arrival")
            reader.tap(staying["credentials"]["nfc_uids"][0])
            await eventually(lambda: len(live.of("arrival")) == 2, message="second alert")
            (other_id,) = set(alert_ids(live, "arrival")) - {alert_id}

    clock.advance(3 * 3600)  # past the untracked-visit time of a tap-only visit: both leave
    ledger = central.ledger("test-01")
    await eventually(
        lambda: len(ledger.events_of_type("visit.left")) == 2, timeout=15, message="departures"
    )
    await agent.daemon.stop()

    agent = await start_agent(config, clock=clock)
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        async with StaffStream(client, headers) as reopened:
            await eventually(
                lambda: set(alert_ids(reopened, "arrival")) == {alert_id, other_id},
                message="the open alerts replayed from the store after the restart",
            )
            (replayed,) = [a for a in reopened.of("arrival") if a["alert_id"] == alert_id]
            assert replayed["customer_id"] == "c-00007" and replayed["via"] == "nfc"
            assert replayed["display_name"] == "Customer 7"
            assert replayed["profile"]["tier"] == "gold" and replayed["profile"]["visits"] == 0
            central.publish_customer({"op": op, "customer_id": "c-00007", "version": 2})
            await eventually(
                lambda: alert_id in alert_ids(reopened, "alert_withdrawn"),
                message=f"the alert withdrawn after the {op}",
            )
            assert alert_ids(reopened, "alert_withdrawn") == [alert_id]

        async with StaffStream(client, headers) as later:
            # The other customer's open alert marks the end of the snapshot.
            await eventually(lambda: other_id in alert_ids(later, "arrival"), message="snapshot")
            assert alert_id not in alert_ids(later, "arrival")
