"""Holes in a store's seq: found on the table, asked for, filled by the agent's resend or closed
by its `outbox.dropped` announcement. Pure rules first, then a real agent through a broker
that forgets what it acknowledged (the trick of tests/integration/test_resend.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import main
from agent.core.events import AgentStarted
from central.gaps import advance, requests_for
from simulators.mosquitto import MosquittoBroker
from tests.central.support import metric, query, running_ingest
from tests.helpers import config_for, eventually

STORE = "test-01"


def test_the_contiguous_point_stops_at_the_first_hole() -> None:
    assert advance(0, [1, 2, 3], []) == advance(0, [1, 2, 3], [])
    progress = advance(0, [1, 2, 3], [])
    assert (progress.contiguous_seq, progress.max_seq, progress.holes) == (3, 3, [])
    progress = advance(3, [4, 7, 8, 10], [])
    assert (progress.contiguous_seq, progress.max_seq, progress.holes) == (4, 10, [(5, 6), (9, 9)])
    assert advance(10, [], []).contiguous_seq == 10  # nothing new: nothing moves


def test_an_announced_loss_closes_its_range() -> None:
    # seq 2..21 announced as not kept by the event at seq 23; 22 is still missing.
    progress = advance(1, [23], [(2, 21)])
    assert (progress.contiguous_seq, progress.holes) == (21, [(22, 22)])
    progress = advance(1, [22, 23], [(2, 21)])
    assert (progress.contiguous_seq, progress.holes) == (23, [])
    # An announcement below the contiguous point changes nothing.
    assert advance(30, [31], [(2, 21)]).contiguous_seq == 31


def test_a_long_hole_is_asked_for_in_pieces_the_agent_accepts() -> None:
    assert requests_for((1, 25_000), 10_000) == [(1, 10_000), (10_001, 20_000), (20_001, 25_000)]
    assert requests_for((5, 5), 10_000) == [(5, 5)]


@pytest.fixture
def amnesic_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    workdir = tmp_path / "amnesic"
    workdir.mkdir()
    broker = MosquittoBroker(workdir=workdir, persistence=False)
    broker.start()
    yield broker
    broker.close()


async def _lose_events(broker: MosquittoBroker, agent, count: int, pg: str) -> None:
    """The central side away, `count` events acknowledged by the broker, the broker restarted
    without persistence: they are gone from the broker and from the agent's outbox."""
    await agent.components.uow.record([AgentStarted(f"while-away-{i}") for i in range(count)])
    outbox = agent.components.outbox
    await eventually(lambda: outbox.stats().depth == 0, message="broker acknowledged them")
    broker.kill()
    broker.start()


async def test_a_hole_left_by_the_broker_is_detected_asked_for_and_filled(
    amnesic_broker: MosquittoBroker, pg: str, write_config, start_agent
) -> None:
    options = {
        "broker": amnesic_broker.url,
        "dsn": pg,
        "client_id": "c-1",
        "resend_after_s": 1.0,
        "watch_interval_s": 0.2,
    }
    agent = await start_agent(config_for(write_config, amnesic_broker.url))
    async with running_ingest(**options):
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == 1,
            message="agent.started in the table",
        )
    await _lose_events(amnesic_broker, agent, 200, pg)
    async with running_ingest(**options) as ingest:
        await agent.components.uow.record([AgentStarted("after")])
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_holes")[0][0] == 1,
            timeout=20,
            message="the hole seen",
        )
        seen = time.monotonic()
        (hole,) = query(pg, "SELECT from_seq, to_seq FROM retail_holes")
        assert hole == (2, 201)
        await eventually(
            lambda: query(pg, "SELECT contiguous_seq FROM retail_store_progress")[0][0] == 202,
            timeout=20,
            message="the hole filled",
        )
        # Asked after resend_after_s (1 s), filled right after: well within the configured time
        # plus a watcher pass and the agent's resend.
        assert time.monotonic() - seen < 1.0 + 5.0
        assert metric(ingest, "central_resend_requests_total") >= 1
        assert metric(ingest, "central_gap_watcher_leader") == 1
        assert metric(ingest, "central_store_open_hole_events", {"store": STORE}) == 0
        versions = [
            r[0]
            for r in query(
                pg,
                "SELECT data->>'version' FROM retail_events WHERE seq BETWEEN 2 AND 201 ORDER BY seq",
            )
        ]
        assert versions == [f"while-away-{i}" for i in range(200)]
        assert query(pg, "SELECT count(*) FROM retail_holes")[0][0] == 0


async def test_events_no_longer_kept_are_known_losses_and_not_asked_for_again(
    amnesic_broker: MosquittoBroker, pg: str, write_config, start_agent, capsys
) -> None:
    config = config_for(write_config, amnesic_broker.url)
    config = dataclasses.replace(
        config, storage=dataclasses.replace(config.storage, sent_keep_events=0)
    )
    options = {
        "broker": amnesic_broker.url,
        "dsn": pg,
        "client_id": "c-1",
        "resend_after_s": 0.5,
        "watch_interval_s": 0.2,
    }
    agent = await start_agent(config)
    async with running_ingest(**options):
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == 1,
            message="agent.started in the table",
        )
    await _lose_events(amnesic_broker, agent, 20, pg)
    async with running_ingest(**options) as ingest:
        await agent.components.uow.record([AgentStarted("after")])
        await eventually(
            lambda: query(pg, "SELECT contiguous_seq FROM retail_store_progress")[0][0] == 23,
            timeout=20,
            message="the announcement closes the hole",
        )
        assert query(pg, "SELECT from_seq, to_seq, reason FROM retail_known_losses") == [
            (2, 21, "not_kept")
        ]
        asked = metric(ingest, "central_resend_requests_total")
        assert asked >= 1
        await asyncio.sleep(1.5)  # three resend intervals: nothing is asked again
        assert metric(ingest, "central_resend_requests_total") == asked
        assert metric(ingest, "central_store_known_loss_events", {"store": STORE}) == 20
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["central", "status", "--db", pg, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["store"], row["contiguous_seq"], row["open_holes"], row["known_losses"]) == (
        STORE,
        23,
        0,
        20,
    )
    assert row["state"] == "online"


async def test_one_gap_watcher_at_a_time_and_another_takes_over(
    broker: MosquittoBroker, pg: str
) -> None:
    common = {"broker": broker.url, "dsn": pg, "watch_interval_s": 0.1}
    async with running_ingest(**common, client_id="c-1") as first:
        async with running_ingest(**common, client_id="c-2") as second:

            def leaders() -> list[float]:
                return [metric(i, "central_gap_watcher_leader") for i in (first, second)]

            await eventually(lambda: sum(leaders()) == 1, message="one leader")
            await asyncio.sleep(0.5)  # several passes: still exactly one
            assert sum(leaders()) == 1
            was_first = leaders()[0] == 1
        if not was_first:  # the second (the leader) is gone: the first takes over
            await eventually(
                lambda: metric(first, "central_gap_watcher_leader") == 1, message="takeover"
            )
    if was_first:
        async with running_ingest(**common, client_id="c-2") as second:
            await eventually(
                lambda: metric(second, "central_gap_watcher_leader") == 1,
                message="the lock is free again once its holder stopped",
            )


async def test_a_loss_at_the_end_of_the_sequence_is_found_by_the_tail_probe(
    amnesic_broker: MosquittoBroker, pg: str, write_config, start_agent
) -> None:
    """The broker loses a store's last events and the store says nothing more: no hole shows,
    but the silent store is asked for what may follow its highest seq; while it stays silent
    it is asked again, backing off (1 s, then 2 s, 4 s ... here), not at every pass (0.2 s)."""
    options = {
        "broker": amnesic_broker.url,
        "dsn": pg,
        "client_id": "c-1",
        "resend_after_s": 1.0,
        "watch_interval_s": 0.2,
        "probe_after_s": 1.0,
    }
    agent = await start_agent(config_for(write_config, amnesic_broker.url))
    async with running_ingest(**options):
        await eventually(
            lambda: query(pg, "SELECT count(*) FROM retail_events")[0][0] == 1,
            message="agent.started in the table",
        )
    await _lose_events(amnesic_broker, agent, 50, pg)  # seq 2..51, and nothing after them
    async with running_ingest(**options) as ingest:
        await eventually(
            lambda: query(pg, "SELECT contiguous_seq FROM retail_store_progress")[0][0] == 51,
            timeout=20,
            message="the lost tail asked for and resent",
        )
        assert query(pg, "SELECT count(*) FROM retail_holes")[0][0] == 0
        asked = metric(ingest, "central_resend_requests_total")
        # Silent again, nothing new past 51: probed past 51 after 1 s, again 2 s later, then
        # 4 s later. Per pass, 3.5 s would have made ~15 requests.
        await asyncio.sleep(3.5)
        assert asked + 1 <= metric(ingest, "central_resend_requests_total") <= asked + 2
        await eventually(
            lambda: metric(ingest, "central_resend_requests_total") >= asked + 2,
            timeout=10,
            message="a silent store is probed again (its answer may have been lost too)",
        )
        probes = query(pg, "SELECT probed_max_seq, probes FROM retail_store_progress")[0]
        assert probes[0] == 51 and probes[1] >= 2, probes
