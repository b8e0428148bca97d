"""The message bus on a real database: events dispatched after commit, in commit order; a
failing handler is logged and counted and never reaches the committing caller."""

from __future__ import annotations

from dataclasses import dataclass

from agent.bootstrap import build
from agent.config.loader import load_config
from agent.core.messages import InternalEvent
from agent.metrics import Metrics
from agent.services.messagebus import MessageBus
from agent.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Happened(InternalEvent):
    n: int


async def test_handlers_run_after_commit_in_order_and_failures_are_counted(write_config) -> None:
    components = build(load_config(write_config(None)))
    try:
        metrics = Metrics()
        bus = MessageBus(metrics)
        uow = UnitOfWork(components.runner, components.database, components.outbox, bus)
        seen: list[int] = []

        async def broken(event: Happened) -> None:
            raise RuntimeError(f"handler bug on {event.n}")

        async def record(event: Happened) -> None:
            seen.append(event.n)

        bus.bind({Happened: [broken, record]}, {})
        submitted = [uow.submit(lambda n=n: (n, [Happened(n)])) for n in range(5)]
        assert await uow.commit(lambda: ("last", [Happened(5)])) == "last"
        # commit returns once its reactions ran, and those of every earlier commit.
        assert seen == [0, 1, 2, 3, 4, 5]
        assert [await f for f in submitted] == [0, 1, 2, 3, 4]
        await bus.idle()
        failures = metrics.registry.get_sample_value(
            "retail_edge_bus_handler_failures_total",
            {"event": "Happened", "handler": broken.__qualname__},
        )
        assert failures == 6
        # Events with no handler cost no dispatch.
        assert bus.emit([object()]) is None
    finally:
        components.runner.call(components.database.close)
        components.runner.close()
