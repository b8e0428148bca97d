"""NATS JetStream consumer: the stores publish over MQTT to nats-server's MQTT listener, the
server turns each topic into a subject (`retail/v1/stores/s1/events` becomes
`retail.v1.stores.s1.events`), a stream captures those subjects, and every ingest process
pulls from one durable consumer named by `--group`, which JetStream shares among them.

A message is acknowledged after its batch is committed. One that is not (the process died, or
the batch failed) is delivered again after `ack_wait`, to whichever process pulls next.

`tls://h1:4222,h2:4222` connects with TLS (`--ca-file` names the CA that signed the servers'
certificates); `nats://` is plain.

Requests to a store (resend) are published on the store's subject with core NATS; the server
delivers them to the agent's MQTT subscription with QoS 0 (a NATS message carries no QoS). A
request lost that way is made again while the hole stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from central.envelope import STORE_ID, subject_of_topic
from central.metrics import IngestMetrics
from central.source import Delivery

_LOGGER = logging.getLogger(__name__)


def nats_servers(url: str) -> list[str]:
    """`nats://h1:4222,h2:4223` -> one server URL each (a cluster's seeds)."""
    parts = urlsplit(url)
    if parts.scheme not in ("nats", "tls"):
        raise ValueError(f"not a nats:// URL: {url}")
    return [f"{parts.scheme}://{host}" for host in parts.netloc.split(",") if host]


def stream_name(prefix: str) -> str:
    """A stream name derived from the prefix (stream names allow no `.`, `*`, `>` or `/`)."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in prefix).upper()
    return f"RETAIL_EVENTS_{cleaned}"


class NatsSource:
    def __init__(
        self,
        url: str,
        prefix: str,
        group: str,
        metrics: IngestMetrics,
        *,
        replicas: int = 1,
        ack_wait_s: float = 30.0,
        max_ack_pending: int = 20_000,
        stream: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self._servers = nats_servers(url)
        # tls://: the servers' certificates are checked against `ca_file` (the system's CAs
        # without it), names included; nats:// is plain.
        self._tls = ssl.create_default_context(cafile=ca_file) if url.startswith("tls://") else None
        self._prefix = prefix
        self._group = group
        self._metrics = metrics
        self._replicas = replicas
        self._ack_wait = ack_wait_s
        self._max_ack_pending = max_ack_pending
        self.stream = stream or stream_name(prefix)
        self.subject = subject_of_topic(f"{prefix}/stores/*/events")
        self._subject_head = subject_of_topic(f"{prefix}/stores") + "."
        self._nc: NatsClient | None = None
        self._sub: Any = None

    async def start(self) -> None:
        untrusted = asyncio.Event()
        refusal: list[ssl.SSLCertVerificationError] = []

        async def reconnected() -> None:
            self._metrics.broker_reconnects.inc()
            _LOGGER.info("NATS: reconnected")

        async def error(exc: Exception) -> None:
            if isinstance(exc, ssl.SSLCertVerificationError) and self._nc is None:
                refusal.append(exc)  # a wrong --ca-file is not going to get better: stop
                untrusted.set()
            _LOGGER.warning("NATS: %s", exc)

        connecting = asyncio.create_task(
            nats.connect(
                servers=self._servers,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=5,
                tls=self._tls,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        )
        refused = asyncio.create_task(untrusted.wait())
        await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
        refused.cancel()
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            raise refusal[0]
        self._nc = connecting.result()
        # A cluster that is electing its leaders (just started, a node just lost) answers
        # JetStream requests with timeouts or "unavailable" for a while: wait it out.
        for attempt in range(120):
            try:
                await self._subscribe()
                break
            except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError) as exc:
                if attempt == 119:
                    raise
                _LOGGER.info("JetStream not ready (%s); trying again", type(exc).__name__)
                await asyncio.sleep(0.5)
        self._metrics.broker_reconnects.inc()
        _LOGGER.info("NATS consumer %s pulling from stream %s", self._group, self.stream)

    async def _subscribe(self) -> None:
        assert self._nc is not None  # noqa: S101 - start() connected
        js = self._nc.jetstream(timeout=10)
        config = StreamConfig(
            name=self.stream,
            subjects=[self.subject],
            storage=StorageType.FILE,
            num_replicas=self._replicas,
        )
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            # Another ingest created it first (same config), or it exists with settings an
            # operator changed on purpose: either way it is used as it is.
            _LOGGER.info("stream %s: %s; using it as it is", self.stream, exc.description)
        self._sub = await js.pull_subscribe(
            self.subject,
            durable=self._group,
            stream=self.stream,
            config=ConsumerConfig(
                durable_name=self._group,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self._ack_wait,
                max_ack_pending=self._max_ack_pending,
                max_deliver=-1,
                num_replicas=self._replicas,
            ),
        )

    async def batch(self, max_messages: int, wait_s: float) -> list[Delivery]:
        if self._sub is None:
            return []
        try:
            messages: list[Msg] = await self._sub.fetch(max_messages, timeout=wait_s)
        except (nats.errors.TimeoutError, TimeoutError):
            return []
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            # The node we talk to went away or the consumer's leader moved: wait for the
            # client's reconnect and pull again.
            _LOGGER.warning("NATS fetch failed (%s); retrying", exc)
            await asyncio.sleep(min(wait_s, 0.5))
            return []
        return [self._delivery(m) for m in messages]

    def _delivery(self, message: Msg) -> Delivery:
        subject = message.subject
        store: str | None = None
        if subject.startswith(self._subject_head) and subject.endswith(".events"):
            candidate = subject[len(self._subject_head) : -len(".events")]
            store = candidate if STORE_ID.fullmatch(candidate) else None
        return Delivery("events", store, bytes(message.data), message)

    async def ack(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            message = delivery.handle
            assert isinstance(message, Msg)  # noqa: S101 - our own deliveries only
            try:
                await message.ack()
            except (nats.errors.Error, OSError) as exc:
                # Not acknowledged: JetStream delivers it again after ack_wait, and the
                # table counts it as a duplicate then.
                _LOGGER.warning("NATS ack failed (%s)", exc)
                return

    async def publish(self, topic: str, payload: bytes) -> None:
        if self._nc is None:
            raise RuntimeError("not started")
        await self._nc.publish(subject_of_topic(topic), payload)

    async def close(self) -> None:
        # close, not drain: a pull subscription's drain waits for a fetch that never comes, and
        # whatever is not acknowledged is delivered again anyway.
        nc, self._nc = self._nc, None
        if nc is not None:
            await nc.close()
