"""Staff check a booking in by hand from the tablet (issue 14): the booking's ticket is placed
by the same rule as the booking's QR code (on time: the booked place, ahead of a walk-in who
joined now; late: the walk-in order from the check-in), the same events are recorded (`via`
"staff"), and every refusal answers with the error envelope: 401 without a tablet, 404 an
unknown booking, 409 checked in already, cancelled, a no-show, too early; two tablets at
once make one ticket, the other gets 409. The day list comes
through the bus here; its MQTT path is test_appointments.py's."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from agent.core.appointments import ApplyAppointmentDay, parse_appointment_day
from agent.core.clock import rfc3339
from tests.integration.queue_fixtures import in_zone, midday_zone, queue_config, staff_headers

APPOINTMENTS = """
[appointments]
early_s = 900
late_s = 600
ahead_s = 1800
no_show_after_s = 1800
"""
ZONE = midday_zone()  # bookings minutes from now fall on the store's today


def booking(ident: str, minutes: float, **fields: Any) -> dict[str, Any]:
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    return {"id": ident, "queue": "advice", "at": rfc3339(at), "name": ident.title()} | fields


def outbox(agent, kind: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    bodies = [json.loads(e.body) for e in agent.components.outbox.pending(0, 1000)]
    return [b["data"] for b in bodies if b["type"] == kind]


async def test_staff_check_in_places_bookings_by_the_booking_rule_and_refuses_the_rest(
    write_config, start_agent
) -> None:
    agent = await start_agent(in_zone(queue_config(write_config, extra=APPOINTMENTS), ZONE))
    c = agent.components
    day = datetime.now(ZoneInfo(ZONE)).date().isoformat()
    bookings = [
        booking("ontime", 5),
        booking("late", -20),
        booking("early", 60),
        booking("absent", -40),
        booking("called-off", 10, status="cancelled"),
    ]
    payload = json.dumps({"day": day, "version": 1, "appointments": bookings}).encode()
    assert await c.bus.handle(ApplyAppointmentDay(parse_appointment_day(payload, day)))

    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        url = "/api/v1/appointments/{}/check-in".format
        r = await client.post(url("ontime"))
        assert r.status_code == 401 and r.json()["error"]["code"], r.text
        staff = await staff_headers(client, c.config)
        r = await client.post("/api/v1/queues/advice/tickets", json={"name": "Walk"}, headers=staff)
        assert r.status_code == 201, r.text

        r = await client.post(url("late"), headers=staff)
        assert r.status_code == 200, r.text
        late = r.json()["ticket"]
        assert late["name"] == "Late" and late["booked_at"] is None and late["at_door"] is True
        r = await client.post(url("ontime"), headers=staff)
        assert r.status_code == 200, r.text
        on_time = r.json()["ticket"]
        assert on_time["state"] == "waiting" and on_time["booked_at"] is not None
        # The link the tablet shows as a QR code: it opens this ticket's page with its key.
        link, svg = r.json()["link"], r.json()["qr_svg"]
        assert link.startswith(c.config.http.public_url + f"/t/{on_time['id']}/open?s=")
        assert svg.startswith("<?xml") and "http://www.w3.org/2000/svg" in svg
        async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as phone:
            opened = await phone.get(link.removeprefix(c.config.http.public_url))
            assert opened.status_code == 303
            assert opened.headers["location"] == f"/t/{on_time['id']}"
            page = await phone.get(f"/api/v1/tickets/{on_time['id']}")
            assert page.status_code == 200 and page.json()["number"] == on_time["number"]
        stranger = await client.get(f"/api/v1/tickets/{on_time['id']}")
        assert stranger.status_code in (401, 403, 404), stranger.text

        view = (await client.get("/api/v1/queues/advice", headers=staff)).json()
        # On time (in 5 min, 30 min head start): ahead of the walk-in who joined now; late
        # (20 min ago, past late_s): behind them, as a walk-in from its check-in.
        assert [t["name"] for t in view["waiting"]] == ["Ontime", "Walk", "Late"]
        assert [b["id"] for b in view["booked"]] == ["absent", "early"]

        refusals = {
            "ontime": (409, "appointment_checked_in"),
            "early": (409, "appointment_too_early"),
            "called-off": (409, "appointment_cancelled"),
            "nobody": (404, "not_found"),
        }
        await c.queues.expire_overdue_calls()  # nobody came for "absent": a no-show
        refusals["absent"] = (409, "appointment_no_show")
        for ident, (status, code) in refusals.items():
            r = await client.post(url(ident), headers=staff)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), ident
            assert r.json()["error"]["message"], ident
        fr = await client.post(url("ontime") + "?lang=fr", headers=staff)
        assert fr.json()["error"]["message"] == "Ce rendez-vous est déjà enregistré."
        # Nothing refused made a ticket.
        waiting = (await client.get("/api/v1/queues/advice", headers=staff)).json()["waiting"]
        assert len(waiting) == 3

    checked = {e["appointment_id"]: e for e in outbox(agent, "appointment.checked_in")}
    assert set(checked) == {"ontime", "late"}
    assert checked["ontime"]["timing"] == "on_time" and checked["ontime"]["via"] == "staff"
    assert checked["late"]["timing"] == "late"
    assert checked["ontime"]["ticket_id"] == on_time["id"]
    joined = {e["ticket_id"] for e in outbox(agent, "queue.joined")}
    assert {on_time["id"], late["id"]} <= joined
    checkins = c.metrics.registry.get_sample_value(
        "retail_edge_ticket_checkins_total", {"via": "staff"}
    )
    assert checkins == 2


async def test_two_tablets_checking_one_booking_in_at_once_make_one_ticket(
    write_config, start_agent
) -> None:
    agent = await start_agent(in_zone(queue_config(write_config, extra=APPOINTMENTS), ZONE))
    c = agent.components
    day = datetime.now(ZoneInfo(ZONE)).date().isoformat()
    payload = json.dumps({"day": day, "version": 1, "appointments": [booking("both", 2)]})
    assert await c.bus.handle(ApplyAppointmentDay(parse_appointment_day(payload.encode(), day)))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        first = await staff_headers(client, c.config, "tablet-1")
        second = await staff_headers(client, c.config, "tablet-2")
        url = "/api/v1/appointments/both/check-in"
        answers = await asyncio.gather(
            client.post(url, headers=first), client.post(url, headers=second)
        )
    assert sorted(r.status_code for r in answers) == [200, 409]
    (refused,) = [r for r in answers if r.status_code == 409]
    assert refused.json()["error"]["code"] == "appointment_checked_in"
    assert len(c.queues.queue_view("advice").waiting) == 1
    assert len(outbox(agent, "appointment.checked_in")) == 1
