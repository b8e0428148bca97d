import asyncio

from agent.adapters.thread_bridge import ThreadBridge


async def test_driver_items_arrive_in_order_and_the_stream_ends_when_it_returns() -> None:
    bridge: ThreadBridge[int] = ThreadBridge("test")

    def driver() -> None:
        for i in range(10):
            bridge.emit(i)

    bridge.start(driver)
    assert [i async for i in bridge.items()] == list(range(10))
    await bridge.stop()


async def test_overflow_is_dropped_and_counted_but_the_end_marker_still_arrives() -> None:
    counted: list[None] = []
    bridge: ThreadBridge[int] = ThreadBridge(
        "test", queue_size=4, on_dropped=lambda: counted.append(None)
    )

    def driver() -> None:
        for i in range(10):
            bridge.emit(i)

    bridge.start(driver)
    await bridge.stop()
    await asyncio.sleep(0.05)  # let the loop run the handed-over puts
    received = [i async for i in bridge.items()]
    assert received == [0, 1, 2, 3]
    assert bridge.dropped == 6 and len(counted) == 6  # also reported, e.g. to /metrics


async def test_a_driver_that_raises_still_ends_the_stream() -> None:
    bridge: ThreadBridge[int] = ThreadBridge("test")

    def driver() -> None:
        bridge.emit(1)
        raise RuntimeError("driver failed")

    bridge.start(driver)
    assert [i async for i in bridge.items()] == [1]
    await bridge.stop()
