"""What the ingest needs from a broker, whichever it is: batches of deliveries, acknowledged
only after the commit, and a way to publish a request to a store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    kind: Literal["events", "status", "other"]
    store: str | None  # from the topic or subject; None if it names no valid store
    payload: bytes
    handle: object  # the source's own acknowledgement handle


class Source(Protocol):
    async def start(self) -> None: ...

    async def batch(self, max_messages: int, wait_s: float) -> list[Delivery]:
        """Up to `max_messages`, waiting at most `wait_s` for the first one."""
        ...

    async def ack(self, deliveries: list[Delivery]) -> None:
        """Tell the broker these are done (called only after they are committed)."""
        ...

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send a request to a store (an MQTT topic name)."""
        ...

    async def close(self) -> None: ...
