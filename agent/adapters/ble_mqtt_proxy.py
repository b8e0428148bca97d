"""BLE through ESP32 door scanners: OpenMQTTGateway / Theengs `BTtoMQTT` JSON over MQTT.

One subscription to the scanners' topic (default `home/+/BTtoMQTT/#`, contract §2/§7) on the
in-store broker. Each message becomes an EidSighting, or is dropped: malformed JSON and
non-Eddystone-EID frames are counted, never logged with their content.

Every message that arrives is counted once, by what became of it (``count(outcome, n)``):
`eid` (handed on to recognition), `not_eddystone` and `not_eid` (another kind of device or
frame: ignored), `malformed`, and `queue_full` (dropped because the agent was behind by more
than INBOUND_QUEUE_MAX messages: above its saturation point, docs/performance.md). Counting
is per batch, not per message, to keep the metric off the hot path.

The broker is read by a small subscriber of its own (agent.adapters.mqtt_subscriber), not by
aiomqtt: at the scanners' rate paho's per-message work was most of the cost of an
advertisement. A packet from the broker that is not well-formed MQTT counts as `malformed`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType

from agent.adapters.mqtt_client import OverDeviceSubscription
from agent.adapters.mqtt_subscriber import Message, QoS0Subscription
from agent.config.model import NO_CREDENTIALS, BrokerCredentials
from agent.core.bttomqtt import MalformedAdvertisement, parse_bttomqtt
from agent.core.eddystone import parse_eid_frame
from agent.core.ports import Clock
from agent.core.readings import EidSighting

_LOGGER = logging.getLogger(__name__)
# Messages waiting for the agent, at most: ~8 s of a busy store's scanners (2 000 adv/s),
# ~1.5 s at 10 000 adv/s, ~5 MB of (topic, payload) pairs at worst. A 4 096 bound dropped messages
# in a paced run at half the saturation rate on a loaded machine (a stall of ~0.4 s was
# enough: benchmarks/RESULTS.md); memory is only taken while the agent is behind.
INBOUND_QUEUE_MAX = 16384
# Handed to recognition at once: at most ~5 ms of work, so the loop stays responsive; more
# than one socket wake-up delivers (~1 500 messages in asyncio's 256 KiB read, mostly fewer),
# so the inbox drains faster than it fills.
MAX_BATCH = 1024
OUTCOMES = ("eid", "not_eddystone", "not_eid", "malformed", "queue_full")


class MqttProxyScanner(OverDeviceSubscription[QoS0Subscription]):
    def __init__(
        self,
        url: str,
        topic: str,
        clock: Clock,
        count: Callable[[str, int], None],
        *,
        credentials: BrokerCredentials = NO_CREDENTIALS,
        client_id: str | None = None,
    ) -> None:
        # QoS 0: an advertisement is stale in a second; redelivering it later is useless.
        self._broker = QoS0Subscription(
            url, topic, credentials=credentials, client_id=client_id, max_queued=INBOUND_QUEUE_MAX
        )
        self._clock = clock
        self._count = count
        self._readers: dict[bytes, str] = {}  # topic -> "proxy:<gateway>", one string each
        self.name = f"mqtt-proxy:{topic}"

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._flush_counts(0, 0, 0, 0)  # drops and malformed packets not yet counted
        await super().__aexit__(exc_type, exc, tb)

    async def readings(self) -> AsyncIterator[EidSighting]:
        async for batch in self.batches():
            for sighting in batch:
                yield sighting

    async def batches(self) -> AsyncIterator[list[EidSighting]]:
        async for messages in self._broker.batches(MAX_BATCH):
            sightings = self.parse_batch(messages)
            if sightings:
                yield sightings

    def parse_batch(self, messages: Sequence[Message]) -> list[EidSighting]:
        sightings: list[EidSighting] = []
        ignored = 0
        not_eid = 0
        malformed = 0
        at = self._clock.monotonic()  # one wake-up's messages arrived together
        for topic, payload in messages:
            try:
                advertisement = parse_bttomqtt(payload)
            except MalformedAdvertisement:
                malformed += 1
                continue
            if advertisement is None:
                ignored += 1  # another kind of device: counted, not kept
                continue
            frame = parse_eid_frame(advertisement.service_data)
            if frame is None:
                not_eid += 1  # Eddystone but not an EID frame (UID, TLM, URL)
                continue
            sightings.append(
                EidSighting(
                    frame[1],
                    advertisement.rssi,
                    frame[0],
                    advertisement.address,
                    self._reader(topic),
                    at,
                )
            )
        self._flush_counts(len(sightings), ignored, not_eid, malformed)
        return sightings

    def parse(self, topic: str, payload: bytes) -> EidSighting | None:
        """One message on its own (tests, tools); the adapter itself parses in batches."""
        sightings = self.parse_batch([(topic.encode(), payload)])
        return sightings[0] if sightings else None

    def _reader(self, topic: bytes) -> str:
        reader = self._readers.get(topic)
        if reader is None:
            if len(self._readers) > 4096:  # one per scanner and device topic; stay bounded
                self._readers.clear()
            text = topic.decode("utf-8", "replace")  # the broker's bytes, not trusted
            gateway = text.split("/")[1] if text.count("/") >= 2 else text
            reader = self._readers[topic] = f"proxy:{gateway}"
        return reader

    def _flush_counts(self, eid: int, ignored: int, not_eid: int, malformed: int) -> None:
        queue_full, broken = self._broker.take_counts()
        malformed += broken  # packets that were not MQTT, with payloads that were not BTtoMQTT
        for outcome, n in zip(
            OUTCOMES, (eid, ignored, not_eid, malformed, queue_full), strict=True
        ):
            if n:
                self._count(outcome, n)
