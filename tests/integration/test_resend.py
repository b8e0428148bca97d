"""A broker that forgets what it acknowledged: the central side asks again, the agent resends.

mosquitto without persistence, restarted while the central consumer is away, loses the
events it queued for it although it had PUBACKed them to the agent (whose outbox therefore
no longer holds them). The extension in docs/sync.md closes that hole from the sent log.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.core.clock import ManualClock
from agent.core.customers import MalformedMessage
from agent.core.events import AgentStarted, VisitArrived
from agent.core.resend import parse_resend_request
from agent.store.database import Database
from agent.store.outbox import Outbox
from simulators.central import CentralService
from simulators.mosquitto import MosquittoBroker
from tests.helpers import config_for, eventually

STORE = "test-01"


@pytest.fixture
def amnesic_broker(tmp_path: Path) -> AsyncIterator[MosquittoBroker]:
    workdir = tmp_path / "amnesic"
    workdir.mkdir()
    broker = MosquittoBroker(workdir=workdir, persistence=False)
    broker.start()
    yield broker
    broker.close()


class Central:
    """The simulated central service, which the test can send away and bring back."""

    def __init__(self, url: str, *, resend_after_s: float | None = 0.5) -> None:
        self.service = CentralService(url, resend_after_s=resend_after_s)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.service.ready.clear()
        self._task = asyncio.create_task(self.service.run(self._stop))
        await asyncio.wait_for(self.service.ready.wait(), timeout=10)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=10)


async def test_events_lost_by_a_broker_restart_are_asked_for_and_resent(
    amnesic_broker: MosquittoBroker, write_config, start_agent
) -> None:
    central = Central(amnesic_broker.url)
    await central.start()
    agent = await start_agent(config_for(write_config, amnesic_broker.url))
    ledger = central.service.ledger(STORE)
    await eventually(lambda: ledger.max_seq == 1, message="agent.started at central")

    await central.stop()  # its persistent session makes the broker queue for it
    await agent.components.uow.record([AgentStarted(f"while-away-{i}") for i in range(200)])
    outbox = agent.components.outbox
    await eventually(lambda: outbox.stats().depth == 0, message="broker acknowledged all 200")

    amnesic_broker.kill()  # no persistence: the 200 queued events are gone
    amnesic_broker.start()
    await central.start()
    await agent.components.uow.record([AgentStarted("after")])

    await eventually(lambda: ledger.max_seq == 202, timeout=20, message="the next event arrives")
    await eventually(lambda: ledger.gaps() == [], timeout=20, message="the hole is filled")
    assert ledger.resend_requests >= 1 and ledger.conflicts == 0
    versions = [e["data"]["version"] for e in ledger.events_of_type("agent.started")[1:201]]
    assert versions == [f"while-away-{i}" for i in range(200)]
    assert agent.components.metrics.events_resent._value.get() >= 200
    await central.stop()


async def test_a_range_no_longer_kept_is_announced_as_dropped(
    amnesic_broker: MosquittoBroker, write_config, start_agent
) -> None:
    config = config_for(write_config, amnesic_broker.url)
    config = dataclasses.replace(
        config, storage=dataclasses.replace(config.storage, sent_keep_events=0)
    )
    central = Central(amnesic_broker.url)
    await central.start()
    agent = await start_agent(config)
    ledger = central.service.ledger(STORE)
    await eventually(lambda: ledger.max_seq == 1, message="agent.started at central")
    await central.stop()
    await agent.components.uow.record([AgentStarted(str(i)) for i in range(20)])
    await eventually(lambda: agent.components.outbox.stats().depth == 0, message="acknowledged")
    amnesic_broker.kill()
    amnesic_broker.start()
    await central.start()
    await agent.components.uow.record([AgentStarted("after")])

    await eventually(lambda: ledger.max_seq >= 23, timeout=20, message="the announcement")
    (dropped,) = ledger.events_of_type("outbox.dropped")
    assert dropped["data"] == {"from_seq": 2, "to_seq": 21, "count": 20, "reason": "not_kept"}
    assert ledger.unexplained_gaps() == []  # the central side stops asking
    registry = agent.components.metrics.registry
    dropped = registry.get_sample_value(
        "retail_edge_outbox_dropped_events_total", {"reason": "not_kept"}
    )
    assert dropped == 20
    await central.stop()


def test_malformed_resend_requests_are_refused() -> None:
    for payload in (
        b"not json",
        b"[1, 2]",
        b'{"from_seq": 0, "to_seq": 3}',
        b'{"from_seq": 5, "to_seq": 3}',
        b'{"from_seq": true, "to_seq": 3}',
        b'{"from_seq": 1, "to_seq": 10001}',
        b'{"from_seq": "1", "to_seq": 2}',
        b"{" + b" " * 2000 + b"}",
    ):
        with pytest.raises(MalformedMessage):
            parse_resend_request(payload)
    assert parse_resend_request(b'{"from_seq": 3, "to_seq": 9}').to_seq == 9


def test_requeue_reports_what_is_no_longer_kept_and_erase_scrubs_the_sent_log(
    tmp_path: Path,
) -> None:
    database = Database.open(tmp_path / "agent.db", store_id=STORE)
    outbox = Outbox(database, STORE, ManualClock(), sent_keep_events=5)
    with database.atomic():
        outbox.append([AgentStarted(str(i)) for i in range(8)])
        outbox.append([VisitArrived("v-1", "c-42", "ble")])  # seq 9
    outbox.acknowledge(range(1, 10))
    # Only the last five acknowledged are kept: seq 5..9.
    with database.atomic():
        result = outbox.requeue(3, 7)
    assert result.requeued == 3 and result.unavailable == [(3, 4)]
    assert [e.seq for e in outbox.pending(0, 100)] == [5, 6, 7]
    with database.atomic():
        assert outbox.forget_customer("c-42") == 1
        assert outbox.forget_customer("c-4") == 0  # a prefix of an id is not that id
        assert outbox.requeue(9, 12).unavailable == [(9, 9)]  # 10.. were never allocated
    database.close()
