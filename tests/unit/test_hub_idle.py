"""A hub subscription's wait ends with None after the given silence, counted from the start
of that wait (its timer is moved on lazily, agent/services/hub.py), and never early."""

from __future__ import annotations

import asyncio

from agent.services.hub import Hub


async def test_silence_ends_a_wait_and_messages_do_not() -> None:
    hub = Hub()
    loop = asyncio.get_running_loop()
    with hub.subscribe("t") as subscription:
        started = loop.time()
        assert await subscription.next(0.05) is None
        assert loop.time() - started >= 0.049

        # Messages keep arriving more often than the silence: each wait returns its message,
        # and the timer armed by the first wait does not end a later one early.
        for index in range(6):
            loop.call_later(0.02, hub.publish, "t", "m", index)
            started = loop.time()
            message = await subscription.next(0.05)
            assert message is not None and message.data == index
            assert loop.time() - started < 0.045

        started = loop.time()
        assert await subscription.next(0.05) is None  # a full silence after the last one
        assert loop.time() - started >= 0.049


async def test_a_waiting_message_is_returned_at_once_and_closing_stops_the_timer() -> None:
    hub = Hub()
    with hub.subscribe("t") as subscription:
        hub.publish("t", "m", 1)
        message = await subscription.next(10)
        assert message is not None and message.data == 1
        waiting = asyncio.ensure_future(subscription.next(0.02))
        await asyncio.sleep(0)
        waiting.cancel()  # a stream closed while waiting
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.sleep(0.05)
        assert subscription.queue.empty()  # no keep-alive queued for a reader that left
    assert subscription._timer is None
