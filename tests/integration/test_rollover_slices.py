"""The EID roll-over lets the event loop go while it works (RecognitionService.tick), and
every customer resolves before, during and after it. A ManualClock puts the tick in the
prefetch window; the loop's other tasks must get to run while the tick is still busy."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from agent.bootstrap import build
from agent.config.loader import load_config
from agent.core.clock import ManualClock
from agent.core.customers import CustomerRecord, EidCredential
from agent.core.eid import ROLLOVER_LEAD_S, compute_eid

EPOCH = 1_767_225_600


async def test_the_tick_yields_between_slices_and_nobody_stops_resolving(write_config) -> None:  # type: ignore[no-untyped-def]
    boundary = EPOCH + 30_000 * 1024
    clock = ManualClock(datetime.fromtimestamp(boundary - 300, UTC))
    components = build(load_config(write_config()), clock=clock)
    recognition = components.recognition
    rng = random.Random(5)
    credentials = [EidCredential(rng.randbytes(16), 10, EPOCH) for _ in range(4000)]
    for n, credential in enumerate(credentials):
        record = CustomerRecord(f"c-{n}", 1, "x", True, False, eid=credential)
        recognition.directory.put(record)
    recognition.eids.rebuild(
        [(f"c-{n}", credential) for n, credential in enumerate(credentials)], boundary - 300
    )

    clock.advance(300 - ROLLOVER_LEAD_S + 1)  # inside the prefetch window: all 4000 due
    ran_meanwhile = 0
    done = False

    async def other_task() -> None:  # a page or a stream, wanting the loop
        nonlocal ran_meanwhile
        while not done:
            await asyncio.sleep(0)
            ran_meanwhile += 1

    other = asyncio.create_task(other_task())
    await recognition.tick()
    done = True
    await other
    # 4000 customers' AES is tens of ms; in 5 ms slices the other task ran in between.
    assert ran_meanwhile >= 2
    now = clock.now().timestamp()
    for n in (0, 1999, 3999):
        c = credentials[n]
        assert recognition.eids.resolve(compute_eid(c.identity_key, 10, int(now) - EPOCH)) == (
            f"c-{n}"
        )
        after = int(now) + ROLLOVER_LEAD_S + 1  # the coming period, already resolvable
        assert recognition.eids.resolve(compute_eid(c.identity_key, 10, int(after) - EPOCH)) == (
            f"c-{n}"
        )
    components.runner.call(components.database.close)
    components.runner.close()
