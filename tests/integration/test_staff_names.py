"""Which name a paired tablet gets: the operator's `pair --name`, else what the tablet typed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agent.store.database import Database
from agent.store.staff import StaffRepository


def test_the_operators_name_wins_over_the_form(tmp_path: Path) -> None:
    database = Database.open(tmp_path / "agent.db", store_id="test-01")
    staff = StaffRepository(database)
    now = datetime.now(UTC)
    with database.atomic():
        named = staff.create_pairing_code("counter-1", now)
        unnamed = staff.create_pairing_code("", now)
        assert staff.redeem(named, "tablet", now) is not None
        assert staff.redeem(unnamed, "ipad-back-office", now) is not None
    assert sorted(d.name for d in staff.devices()) == ["counter-1", "ipad-back-office"]
    database.close()


async def test_a_tablets_last_use_is_recorded_at_most_every_five_minutes(
    write_config, start_agent
) -> None:
    import httpx

    from tests.integration.queue_fixtures import queue_config, staff_headers

    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        headers = await staff_headers(client, agent.components.config)
        staff = agent.components.staff
        assert (await client.get("/api/v1/queues/advice", headers=headers)).status_code == 200
        (device,) = agent.components.runner.call(staff._staff.devices)
        assert device.last_seen_at is not None
        first = device.last_seen_at
        assert (await client.get("/api/v1/queues/advice", headers=headers)).status_code == 200
        (device,) = agent.components.runner.call(staff._staff.devices)
        assert device.last_seen_at == first  # not rewritten on every request
