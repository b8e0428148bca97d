"""MQTT topic names (contract §4), derived once from the prefix and the store id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    store: str

    @property
    def status(self) -> str:
        return f"{self.prefix}/stores/{self.store}/status"

    @property
    def events(self) -> str:
        return f"{self.prefix}/stores/{self.store}/events"

    @property
    def occupancy(self) -> str:
        return f"{self.prefix}/stores/{self.store}/occupancy"

    def queue_state(self, queue: str) -> str:
        """Extension: a queue's retained state, for Home Assistant (docs/home-assistant.md)."""
        return f"{self.prefix}/stores/{self.store}/queues/{queue}/state"

    @property
    def checkins(self) -> str:
        return f"{self.prefix}/stores/{self.store}/checkins"

    @property
    def resend(self) -> str:
        """Extension: the central side asks for events again (docs/sync.md)."""
        return f"{self.prefix}/stores/{self.store}/resend"

    @property
    def customer_count(self) -> str:
        """Extension: how many customer topics the central side keeps retained (docs/sync.md)."""
        return f"{self.prefix}/chain/customer_count"

    @property
    def customer_resync(self) -> str:
        """Extension: the agent asks central for a page of customer records (docs/sync.md)."""
        return f"{self.prefix}/stores/{self.store}/customer_resync"

    @property
    def customer_pages(self) -> str:
        """Extension: central's pages of customer records for this store (docs/sync.md)."""
        return f"{self.prefix}/stores/{self.store}/customer_pages"

    @property
    def customers_filter(self) -> str:
        return f"{self.prefix}/chain/customers/+"

    def customer_id(self, topic: str) -> str | None:
        """The `{customer_id}` of a customers topic, or None if ``topic`` is not one."""
        head = f"{self.prefix}/chain/customers/"
        if not topic.startswith(head):
            return None
        rest = topic[len(head) :]
        return rest if rest and "/" not in rest else None
