"""Suggestions on arrival (contract 8.8, issue 15) end to end on a real broker: the simulated
central service sends varied records, cards are tapped at the counter, the staff stream's
arrival carries the suggestions (none without staff_profile consent), staff record an
outcome and a note through the API, and the events reach the central side."""

from __future__ import annotations

import asyncio
import json
import random

import httpx

from agent.config.loader import load_config
from simulators.central import CentralService
from simulators.customers import demo_customer
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import display_headers, staff_headers
from tests.integration.recognition_fixtures import DEVICES, StaffStream


def record(index: int, *, staff_profile: bool = True) -> dict:
    made = demo_customer(random.Random(index), index)
    made["display_name"] = f"Customer {index}"
    made["consent"] = {"recognition": True, "staff_profile": staff_profile}
    return made


def uid(made: dict) -> str:
    return made["credentials"]["nfc_uids"][0]


async def started(write_config, start_agent, broker: MosquittoBroker):  # type: ignore[no-untyped-def]
    agent = await start_agent(load_config(write_config(broker.url, extra=DEVICES)))
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    return agent


def rows(agent, sql: str, *args: str) -> int:  # type: ignore[no-untyped-def]
    conn = agent.components.database.conn
    return int(agent.components.runner.call(lambda: conn.execute(sql, args).fetchone()[0]))


async def test_arrivals_carry_suggestions_and_staff_outcomes_go_up(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    first_timer, vip, private = record(10), record(12), record(17, staff_profile=False)
    for made in (first_timer, vip, private):
        central.publish_customer(made)
    directory = agent.components.recognition.directory
    await eventually(lambda: len(directory) == 3, message="records applied")
    reader = agent.components.extras["nfc"]
    ledger = central.ledger("test-01")
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        async with StaffStream(client, headers) as stream:
            for made in (first_timer, vip, private):
                reader.tap(uid(made))
            await eventually(lambda: len(stream.of("arrival")) == 3, message="three arrivals")
            alerts = {a["customer_id"]: a for a in stream.of("arrival")}

            welcome = alerts[first_timer["customer_id"]]["suggestions"]
            (first,) = [s for s in welcome if s["kind"] == "first_visit"]
            assert first["scope"] == "chain" and first["offer_id"] == "welcome-10"

            shown = alerts[vip["customer_id"]]["suggestions"]
            kinds = [s["kind"] for s in shown]
            assert {"birthday", "offer", "basket", "tier", "segment", "note"} <= set(kinds)
            assert kinds.index("birthday") < kinds.index("offer") < kinds.index("tier")
            assert [s["offer_id"] for s in shown if s["kind"] == "offer"] == ["vip-duo"]
            # Three days ago by the UTC date the record was made from; Paris may be a day on.
            assert next(s for s in shown if s["kind"] == "birthday")["in_days"] in (-3, -4)
            # The expired offer is nowhere on the alert, not even in the raw profile.
            assert "old-vip" not in json.dumps(alerts[vip["customer_id"]])

            private_alert = alerts[private["customer_id"]]
            assert private_alert["suggestions"] == [] and "profile" not in private_alert

            vip_alert = alerts[vip["customer_id"]]["alert_id"]
            url = f"/api/v1/alerts/{vip_alert}/outcome"
            accept = {"kind": "offer", "offer_id": "vip-duo", "outcome": "accepted"}
            assert (await client.post(url, json=accept)).status_code == 401
            shown_to = await display_headers(client, agent.components.config)
            assert (await client.post(url, json=accept, headers=shown_to)).status_code == 403
            bad = {"kind": "offer", "offer_id": "vip-duo", "outcome": "maybe"}
            r = await client.post(url, json=bad, headers=headers)
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_body"
            offered = {"kind": "offer", "offer_id": "vip-duo", "outcome": "offered"}
            assert (await client.post(url, json=offered, headers=headers)).status_code == 200
            assert (await client.post(url, json=accept, headers=headers)).status_code == 200
            again = await client.post(url, json=accept, headers=headers)
            assert again.status_code == 409 and again.json()["error"]["code"] == "already_final"
            expired = {"kind": "offer", "offer_id": "old-vip", "outcome": "accepted"}
            r = await client.post(url, json=expired, headers=headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "not_suggested"
            r = await client.post("/api/v1/alerts/nope/outcome", json=accept, headers=headers)
            assert r.status_code == 404 and r.json()["error"]["code"] == "no_alert"

            # At the counter: a preference learnt, then shown on the next alert.
            info = f"/api/v1/alerts/{vip_alert}/info"
            r = await client.post(
                info, json={"kind": "preference", "text": "likes roses"}, headers=headers
            )
            assert r.status_code == 201, r.text
            private_info = f"/api/v1/alerts/{private_alert['alert_id']}/info"
            r = await client.post(private_info, json={"kind": "note", "text": "x"}, headers=headers)
            assert r.status_code == 409 and r.json()["error"]["code"] == "no_staff_profile"
            reader.tap(uid(vip))
            await eventually(lambda: len(stream.of("arrival")) == 4, message="seen again")
            note = next(s for s in stream.of("arrival")[-1]["suggestions"] if s["kind"] == "note")
            assert "likes roses" in note["preferences"]

    await eventually(lambda: len(ledger.events_of_type("suggestion.shown")) == 3, message="shown")
    shown_up = [e["data"] for e in ledger.events_of_type("suggestion.shown")]
    assert private["customer_id"] not in {d["customer_id"] for d in shown_up}
    (first_vip,) = [d for d in shown_up if d["alert_id"] == vip_alert]
    assert first_vip["customer_id"] == vip["customer_id"] and first_vip["kinds"] == kinds
    await eventually(
        lambda: len(ledger.events_of_type("suggestion.outcome")) == 2, message="outcomes"
    )
    assert ledger.events_of_type("suggestion.outcome")[-1]["data"] == {
        "alert_id": vip_alert,
        "customer_id": vip["customer_id"],
        "kind": "offer",
        "offer_id": "vip-duo",
        "outcome": "accepted",
    }
    await eventually(lambda: bool(ledger.events_of_type("customer.preference")), message="pref up")
    metrics = agent.components.metrics.registry
    counted = {"kind": "offer", "outcome": "accepted"}
    assert metrics.get_sample_value("retail_edge_suggestion_outcomes_total", counted) == 1
    basket = {"kind": "basket", "group": "shown"}
    assert metrics.get_sample_value("retail_edge_suggestions_total", basket) == 2  # VIP twice

    # Erase takes the suggestions and the counter's notes with the customer.
    assert rows(agent, "SELECT COUNT(*) FROM staff_notes") == 1
    before = rows(agent, "SELECT COUNT(*) FROM alert_suggestions")
    central.publish_customer({"op": "erase", "customer_id": vip["customer_id"], "version": 9})
    await eventually(lambda: vip["customer_id"] not in directory, message="erased")
    assert rows(agent, "SELECT COUNT(*) FROM staff_notes") == 0
    orphans = (
        "SELECT COUNT(*) FROM alert_suggestions WHERE alert_id NOT IN (SELECT alert_id FROM alerts)"
    )
    assert rows(agent, orphans) == 0
    after = rows(agent, "SELECT COUNT(*) FROM alert_suggestions")
    assert 0 < after < before  # the first-timer's stay, the erased customer's went


async def test_the_central_playbook_replaces_the_config_and_a_bad_one_is_dropped(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    agent = await started(write_config, start_agent, broker)
    vip = record(12)
    central.publish_customer(vip)
    central.publish_playbook(
        {
            "version": 3,
            "rules": [
                {"id": "bday", "kind": "birthday", "campaign": "bday-test", "holdout_percent": 100},
                {"id": "vip", "kind": "tier", "priority": 5, "text": {"en": "A {tier} customer"}},
            ],
        }
    )
    suggestions = agent.components.suggestions
    await eventually(lambda: suggestions.playbook.version == 3, message="playbook applied")
    central.publish_playbook({"version": 4, "rules": [{"kind": "sparkle"}]})  # refused whole
    metrics = agent.components.metrics.registry
    dropped = {"source": "mqtt.playbook"}
    await eventually(
        lambda: (
            (metrics.get_sample_value("retail_edge_malformed_inputs_dropped_total", dropped) or 0)
            == 1
        ),
        message="counted and dropped",
    )
    assert suggestions.playbook.version == 3 and agent.components.link.connected.is_set()
    await eventually(lambda: len(agent.components.recognition.directory) == 1, message="record")
    ledger = central.ledger("test-01")
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        async with StaffStream(client, headers) as stream:
            agent.components.extras["nfc"].tap(uid(vip))
            await eventually(lambda: bool(stream.of("arrival")), message="arrival")
            (alert,) = stream.of("arrival")
            (only,) = alert["suggestions"]
            assert only["kind"] == "tier" and only["text"] == {"en": "A {tier} customer"}
            url = f"/api/v1/alerts/{alert['alert_id']}/outcome"
            r = await client.post(
                url, json={"kind": "birthday", "outcome": "offered"}, headers=headers
            )
            assert r.status_code == 409  # withheld: the holdout group never saw it
    await eventually(lambda: bool(ledger.events_of_type("suggestion.withheld")), message="withheld")
    (withheld,) = ledger.events_of_type("suggestion.withheld")
    assert withheld["data"] == {
        "alert_id": alert["alert_id"],
        "customer_id": vip["customer_id"],
        "kinds": ["birthday"],
    }

    # Kept across a restart: an agent that cannot reach the broker starts from version 3.
    await agent.daemon.stop()
    offline = await start_agent(load_config(write_config(None, extra=DEVICES)))
    assert offline.components.suggestions.playbook.version == 3
    await offline.daemon.stop()
    agent = await started(write_config, start_agent, broker)
    suggestions = agent.components.suggestions
    central.publish_playbook(None)  # cleared: back to the config's (the default) playbook
    await eventually(lambda: suggestions.playbook.source == "default", message="cleared")
    await agent.daemon.stop()
    again = await start_agent(load_config(write_config(None, extra=DEVICES)))
    assert again.components.suggestions.playbook.source == "default"


TARGETED = """
[queues.advice]
label = "Conseil / Advice"
window_token = "static"

[[playbook.rules]]
kind = "tier"
queue = "advice"
role = "manager"
text = { en = "{tier} customer: the manager greets them" }
"""


async def test_a_tablet_that_connects_later_sees_the_card_named_as_when_it_was_raised(
    broker: MosquittoBroker, central: CentralService, write_config, start_agent
) -> None:
    """The open alerts a (re)connecting tablet is given come from the store: the rule's
    queue is named by its label there too, as on the tablet that saw it live."""
    config = load_config(write_config(broker.url, extra=DEVICES + TARGETED))
    agent = await start_agent(config)
    await asyncio.wait_for(agent.components.link.connected.wait(), 10)
    vip = record(12)
    central.publish_customer(vip)
    directory = agent.components.recognition.directory
    await eventually(lambda: len(directory) == 1, message="record applied")

    def targeted(alert: dict) -> list[dict]:
        return [s for s in alert["suggestions"] if s.get("queue") == "advice"]

    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        async with StaffStream(client, headers) as live:
            agent.components.extras["nfc"].tap(uid(vip))
            await eventually(lambda: len(live.of("arrival")) == 1, message="the arrival")
        (seen_live,) = targeted(live.of("arrival")[0])
        assert seen_live["queue_label"] == "Conseil / Advice"
        later = await staff_headers(client, agent.components.config, "tablet-2")
        async with StaffStream(client, later) as reconnected:
            await eventually(lambda: bool(reconnected.of("arrival")), message="the open alert")
        (seen_later,) = targeted(reconnected.of("arrival")[0])
        assert seen_later == seen_live
