"""StaffService.still_paired answers from a fresh read of the store, not from the last one it
happened to have: the check a staff stream makes before each frame (contract 8.2)."""

from __future__ import annotations

import logging

import pytest

from agent import tools
from agent.config.loader import load_config


async def test_still_paired_reads_the_store_each_time(
    write_config, start_agent, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(write_config())
    agent = await start_agent(config)
    staff = agent.components.staff
    paired = await staff.pair(tools.pairing_code(config, "tablet-1"), "tablet-1", "127.0.0.1")
    device = await staff.authenticate(paired.token)
    assert device is not None
    with caplog.at_level(logging.WARNING, logger="agent.services.staff"):
        assert await staff.still_paired(device.id) is True
        # Revoked by another process (the command line), behind the service's back: the very
        # next check must see it, with no poll in between.
        assert tools.revoke_device(config, "tablet-1") == 1
        assert await staff.still_paired(device.id) is False
    staff_warnings = [r for r in caplog.records if r.name == "agent.services.staff"]
    assert not [r for r in staff_warnings if r.levelno >= logging.WARNING], caplog.text
