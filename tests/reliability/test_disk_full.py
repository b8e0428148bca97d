"""Disk full: the agent says so clearly, refuses what it cannot save, serves what it can,
and recovers when space comes back. No corruption.

SQLite's `max_page_count` makes the database file unable to grow, which is exactly how a full
disk looks to SQLite (SQLITE_FULL); tests run as root, so a read-only file cannot be faked.
"""

from __future__ import annotations

import httpx

from tests.integration.queue_fixtures import join, queue_config, token


def set_page_limit(agent, extra_pages: int | None) -> None:  # type: ignore[no-untyped-def]
    conn = agent.components.database.conn

    def apply() -> None:
        if extra_pages is None:
            conn.execute("PRAGMA max_page_count = 1073741823")
        else:
            (count,) = conn.execute("PRAGMA page_count").fetchone()
            conn.execute(f"PRAGMA max_page_count = {count + extra_pages}")

    agent.components.runner.call(apply)


async def test_disk_full_is_reported_and_survived(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config, http="joins_per_client = 1000"))
    async with httpx.AsyncClient(base_url=agent.base_url) as client:
        kept = await join(client, agent)
        set_page_limit(agent, 0)
        refused = 0
        for _ in range(50):  # fill what is left of the last page
            r = await client.post(
                "/api/v1/queues/advice/tickets", json={"window_token": token(agent)}
            )
            assert r.status_code in (201, 503), r.text
            if r.status_code == 503:
                refused += 1
                body = r.json()["error"]
                assert (
                    body["code"] == "storage_unavailable"
                    and "nothing was changed" in body["message"]
                )
                break
        assert refused == 1
        health = (await client.get("/healthz")).json()
        assert health["status"] == "degraded" and "cannot be written" in health["storage"]
        metrics = (await client.get("/metrics")).text
        assert (
            "retail_edge_storage_errors_total 1.0" in metrics
            or "retail_edge_storage_errors_total" in metrics
        )
        # What is already saved is still served.
        r = await client.get(
            f"/api/v1/tickets/{kept['ticket']['id']}",
            headers={"Authorization": f"Ticket {kept['secret']}"},
        )
        assert r.status_code == 200 and r.json()["state"] == "waiting"
        set_page_limit(agent, None)  # space again
        await join(client, agent)
        assert (await client.get("/healthz")).json()["status"] == "ok"
    ok = agent.components.runner.call(
        lambda: agent.components.database.conn.execute("PRAGMA integrity_check").fetchone()[0]
    )
    assert ok == "ok"
