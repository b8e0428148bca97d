"""Appointments mixed with walk-ins (issue 14) on a real broker: the simulated central
service publishes the store's bookings of today on the retained day topic; a booked customer
checks in by the booking QR at the counter camera (the real camera pipeline) or by being
recognised; an on-time one goes ahead of walk-ins within its head start, a late one falls
back to the walk-in order, one nobody came for becomes a no-show; a newer list cancels;
a malformed list is counted and dropped without closing the link."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from agent.config.loader import load_config
from agent.core.appointments import ApplyAppointmentDay, parse_appointment_day
from agent.core.clock import rfc3339
from agent.core.customers import parse_customer_message
from agent.core.messages import ApplyCustomerMessage, CustomerIdentified
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import QUEUES, in_zone, midday_zone, staff_headers
from tests.integration.recognition_fixtures import customer

EXTRA = (
    QUEUES.format(max_waiting=50)
    + """
[appointments]
early_s = 900
late_s = 600
ahead_s = 1800
no_show_after_s = 1800

[[devices]]
kind = "qr-camera"
adapter = "simulated"
"""
)
STORE = "test-01"
# The store's zone: one where it is now midday, so bookings minutes from now are today's.
ZONE = midday_zone()


def booking(ident: str, minutes: float, **fields: Any) -> dict[str, Any]:
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return {"id": ident, "queue": "advice", "at": rfc3339(at), "name": ident.title()} | fields


def today() -> str:
    return datetime.now(ZoneInfo(ZONE)).date().isoformat()


def code(n: int) -> str:
    return f"booking-code-{n:04d}-abcdef"


async def test_bookings_check_in_and_take_their_place_among_walk_ins(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await start_agent(in_zone(load_config(write_config(broker.url, extra=EXTRA)), ZONE))
    c = agent.components
    assert c.link is not None
    await asyncio.wait_for(c.link.connected.wait(), 10)
    record = customer(7)
    cid = record["customer_id"]
    assert await c.bus.handle(
        ApplyCustomerMessage(parse_customer_message(json.dumps(record).encode(), cid))
    )
    queues = c.queues
    camera = c.extras["qr"]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        staff = await staff_headers(client, c.config)
        r = await client.post("/api/v1/queues/advice/tickets", json={"name": "Walk"}, headers=staff)
        walk_in = r.json()["ticket"]
        quiet_eta = queues.summary("advice").eta

        day = [
            booking("ontime", 5, checkin_code=code(1)),
            booking("late", -20, checkin_code=code(2)),
            booking("early", 60, checkin_code=code(3)),
            booking("recognised", 3, customer_id=cid),
            booking("absent", -40, checkin_code=code(5)),
            booking("dropped", 8, checkin_code=code(6)),
        ]
        # A malformed list first (retained): counted and dropped, the link stays, and the
        # valid list behind it on the same topic is applied.
        central.publish_raw(f"retail/v1/stores/{STORE}/appointments/{today()}", b"{not json", True)
        central.publish_appointments(STORE, today(), day, version=1)
        await eventually(lambda: len(queues.queue_view("advice").booked) == 6, message="list")
        metrics = c.metrics.registry
        dropped = {"source": "mqtt.appointments"}
        assert metrics.get_sample_value("retail_edge_malformed_inputs_dropped_total", dropped) == 1
        assert c.link.connected.is_set()
        # The newcomer's estimate counts the bookings due before they would be called.
        assert queues.summary("advice").eta.high_s > quiet_eta.high_s

        # A newer list leaves one out: cancelled. The old list again: ignored.
        central.publish_appointments(STORE, today(), day[:5], version=2)
        await eventually(lambda: len(queues.queue_view("advice").booked) == 5, message="v2")
        central.publish_appointments(STORE, today(), day, version=1)
        await asyncio.sleep(0.5)
        assert [b.id for b in queues.queue_view("advice").booked] == [
            "absent", "late", "recognised", "ontime", "early",
        ]  # fmt: skip

        # The counter camera reads the booking confirmations' QR codes.
        for n in (1, 2, 3):
            camera.show(f"RE-B1.{code(n)}")  # type: ignore[attr-defined]
        await eventually(lambda: len(queues.queue_view("advice").waiting) == 3, message="in")
        camera.show(f"RE-B1.{code(1)}")  # type: ignore[attr-defined]  # twice: one ticket
        c.bus.emit([CustomerIdentified(cid, "ble")])
        await c.bus.idle()
        await eventually(lambda: len(queues.queue_view("advice").waiting) == 4, message="ble")
        await asyncio.sleep(0.3)
        view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
        names = [t["name"] for t in view["waiting"]]
        # On time (booked in 3 and 5 min, 30 min head start): ahead of the walk-in who joined
        # now; late (20 min ago, past late_s): behind them, as a walk-in from its check-in.
        # The early one (in 60 min, before early_s) was refused.
        assert names == ["Recognised", "Ontime", "Walk", "Late"], names
        assert (
            view["waiting"][0]["booked_at"] is not None and view["waiting"][3]["booked_at"] is None
        )
        assert view["waiting"][0]["at_door"] is True
        assert [b["id"] for b in view["booked"]] == ["absent", "early"]
        assert walk_in["id"] == view["waiting"][2]["id"]

        # Nobody came for "absent" (40 min ago, no_show_after_s 30 min): a no-show.
        await queues.expire_overdue_calls()
        assert [b.id for b in queues.queue_view("advice").booked] == ["early"]
        r = await client.post("/api/v1/queues/advice/call-next", headers=staff)
        assert r.json()["name"] == "Recognised"

    ledger = central.ledger(STORE)
    await eventually(lambda: len(ledger.events_of_type("appointment.checked_in")) == 3)
    events = {
        e["data"]["appointment_id"]: e["data"]
        for e in ledger.events_of_type("appointment.checked_in")
    }
    assert events["ontime"]["timing"] == "on_time" and events["ontime"]["via"] == "ticket_qr"
    assert events["late"]["timing"] == "late"
    assert events["recognised"]["via"] == "ble"
    await eventually(lambda: bool(ledger.events_of_type("appointment.no_show")))
    (no_show,) = ledger.events_of_type("appointment.no_show")
    assert no_show["data"]["appointment_id"] == "absent"


async def test_revoke_and_erase_take_the_customer_off_their_bookings(
    write_config, start_agent
) -> None:
    agent = await start_agent(in_zone(load_config(write_config(None, extra=EXTRA)), ZONE))
    c = agent.components
    ids = []
    for n in (1, 2):
        record = customer(n)
        ids.append(record["customer_id"])
        assert await c.bus.handle(
            ApplyCustomerMessage(
                parse_customer_message(json.dumps(record).encode(), record["customer_id"])
            )
        )
    body = {
        "day": today(),
        "version": 1,
        "appointments": [
            booking("b-1", 30, customer_id=ids[0]),
            booking("b-2", 45, customer_id=ids[1]),
        ],
    }
    payload = json.dumps(body).encode()
    assert await c.bus.handle(ApplyAppointmentDay(parse_appointment_day(payload, today())))
    for op, cid in (("revoke", ids[0]), ("erase", ids[1])):
        tomb = {"op": op, "customer_id": cid, "version": 99}
        message = parse_customer_message(json.dumps(tomb).encode(), cid)
        assert await c.bus.handle(ApplyCustomerMessage(message))
    await c.bus.idle()
    rows = c.database.conn.execute(
        "SELECT id, name, customer_id FROM appointments ORDER BY id"
    ).fetchall()
    assert rows == [("b-1", "B-1", None), ("b-2", "", None)]
    assert [a.customer_id for a in c.queues._appointments.expected("advice")] == [None, None]
