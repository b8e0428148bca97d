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
