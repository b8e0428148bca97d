"""Inbound MQTT messages through the adapter into the real services, on a real SQLite file.

Issue 12 (item 4) crashed in *applying* a message, not parsing it (a 2**64 `version` reached
SQLite as OverflowError), so fuzzing the parsers alone could not have found it. `InboundRig`
builds the agent the daemon builds (`agent.bootstrap.build`: the message bus, every service,
the resend handler) on a database file, and `feed` hands one message to the handler of its
topic exactly as the MQTT link does, then checks what the contract promises (§4, §8.3):

- nothing raises past the adapter (the link would otherwise close the connection);
- a message the parser refuses is counted as a drop, and every customers message is counted
  once (applied, stale, ignored or malformed);
- an applied record or tombstone is what the database now holds, at that version;
- the outbox stays contiguous (`seq` from its oldest row up to `next_seq - 1`, no hole);
- every `check_every` messages, `PRAGMA quick_check` is `ok`.

Used by the atheris target `inbound` (tests/fuzz/targets.py) and the hypothesis property
(tests/fuzz/test_inbound_property.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
from pathlib import Path

from agent.bootstrap import Components, build
from agent.config.loader import load_config
from agent.core.customers import (
    MalformedMessage,
    Tombstone,
    parse_checkin,
    parse_customer_message,
)
from agent.core.resend import parse_resend_request
from agent.store.customers import CustomerRepository
from agent.sync.inbound import InboundAdapter

PREFIX = "retail/v1"
STORE = "fuzz-01"
TOPICS = ("customers", "checkins", "resend")
CONFIG = """
[store]
id = "{store}"
name = "Fuzz store"
timezone = "UTC"
[storage]
path = "{db}"
[http]
bind = "127.0.0.1"
port = 0
public_url = "http://127.0.0.1:8080"
[mqtt]
url = "mqtt://127.0.0.1:9"
topic_prefix = "{prefix}"
"""


class InboundRig:
    def __init__(self, workdir: Path | None = None, *, check_every: int = 50) -> None:
        # The fuzzers run thousands of commits: /dev/shm is a real file system without the
        # fsync cost of a disk.
        base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
        self._own = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="inbound-fuzz-", dir=base))
        config_path = self.workdir / "agent.toml"
        config_path.write_text(
            CONFIG.format(store=STORE, db=self.workdir / "agent.db", prefix=PREFIX),
            encoding="utf-8",
        )
        self.loop = asyncio.new_event_loop()
        self.c: Components = build(load_config(config_path))
        # The same routes bootstrap gives the link, bound to the same bus.
        adapter = InboundAdapter(self.c.topics, self.c.bus.handle, self.c.clock, self.c.metrics)
        handlers = {route.topic_filter: route.handler for route in adapter.routes()}
        self.routes = {kind: handlers[self._filter(kind)] for kind in TOPICS}
        self._repository = CustomerRepository(self.c.database)
        self._check_every = check_every
        self.fed = 0
        # The adapter logs every drop with a traceback; thousands of them say nothing here.
        # Restored by close(): later tests in the same process read the agent's logs.
        self._logger = logging.getLogger("agent")
        self._log_level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)

    def _filter(self, kind: str) -> str:
        return self.c.topics.customers_filter if kind == "customers" else self.topic(kind)

    def topic(self, kind: str, customer_id: str = "c-00001") -> str:
        if kind == "customers":
            return f"{PREFIX}/chain/customers/{customer_id}"
        return f"{PREFIX}/stores/{STORE}/{kind}"

    def feed(self, kind: str, payload: bytes, customer_id: str = "c-00001") -> None:
        """Deliver one message as the link does and check the invariants (AssertionError).

        ``customer_id`` is the topic's last level: non-empty, without `/`, `+` or `#` (a
        broker delivers no other).
        """
        self.loop.run_until_complete(self._feed(kind, payload, customer_id))
        self.fed += 1
        if self.fed % self._check_every == 0:
            self.check_database()

    async def _feed(self, kind: str, payload: bytes, customer_id: str) -> None:
        source = f"mqtt.{kind}"
        dropped_before = self._sample("retail_edge_malformed_inputs_dropped_total", source=source)
        counted_before = self._customers_counted()
        applied_before = self._sample(
            "retail_edge_inbound_messages_total", topic="customers", outcome="applied"
        )
        refused = _refused_by_parser(kind, payload, customer_id)
        # Exactly what MqttLink._receive calls; anything escaping here is the bug.
        await self.routes[kind](self.topic(kind, customer_id), payload)
        await self.c.bus.idle()
        dropped = self._sample("retail_edge_malformed_inputs_dropped_total", source=source)
        dropped -= dropped_before
        assert dropped in (0, 1), f"one message counted {dropped} times as dropped"
        if refused:
            assert dropped == 1, "a message the parser refuses must be counted as dropped"
        if kind == "customers":
            counted = self._customers_counted() - counted_before
            assert counted == 1, f"a customers message counted {counted} times"
            applied = self._sample(
                "retail_edge_inbound_messages_total", topic="customers", outcome="applied"
            )
            # Only a message the agent applied must be what it holds: one not newer than
            # what it holds (an upsert with the version of an earlier revoke) is ignored.
            if not refused and not dropped and payload and applied > applied_before:
                self._check_applied(payload, customer_id)
        self._check_outbox()

    def _check_applied(self, payload: bytes, customer_id: str) -> None:
        message = parse_customer_message(payload, customer_id)
        held = self.c.runner.call(self._repository.held_version, customer_id)
        assert held is not None and held >= message.version, (held, message.version)
        if isinstance(message, Tombstone) or held != message.version:
            return
        record = self.c.runner.call(self._repository.get, customer_id)
        if message.consent_recognition:
            assert record is not None and record.version == message.version

    def _check_outbox(self) -> None:
        conn = self.c.database.conn

        def read() -> tuple[int, int | None, int | None]:
            count, low, high = conn.execute(
                "SELECT COUNT(*), MIN(seq), MAX(seq) FROM outbox"
            ).fetchone()
            return int(count), low, high

        count, low, high = self.c.runner.call(read)
        next_seq = self.c.runner.call(self.c.outbox.stats).next_seq
        if count:
            assert low is not None and high is not None
            assert high - low + 1 == count and high == next_seq - 1, (count, low, high, next_seq)

    def check_database(self) -> None:
        ok = self.c.runner.call(
            lambda: self.c.database.conn.execute("PRAGMA quick_check").fetchone()[0]
        )
        assert ok == "ok", ok

    def _customers_counted(self) -> float:
        return sum(
            self._sample("retail_edge_inbound_messages_total", topic="customers", outcome=o)
            for o in ("applied", "stale", "ignored", "malformed")
        )

    def _sample(self, name: str, **labels: str) -> float:
        value = self.c.metrics.registry.get_sample_value(name, labels)
        return float(value or 0)

    def close(self) -> None:
        self.check_database()
        self.c.runner.call(self.c.database.close)
        self.c.runner.close()
        self.loop.close()
        self._logger.setLevel(self._log_level)
        if self._own:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _refused_by_parser(kind: str, payload: bytes, customer_id: str) -> bool:
    try:
        if kind == "customers":
            if not payload:
                return False  # an empty retained message clears the topic: ignored, not bad
            parse_customer_message(payload, customer_id)
        elif kind == "checkins":
            parse_checkin(payload)
        else:
            parse_resend_request(payload)
    except MalformedMessage:
        return True
    return False


# --- structured inputs: JSON shaped like the contract's, with fuzzed values ---------------

KEYS = (
    "op", "customer_id", "version", "display_name", "consent", "recognition",
    "staff_profile", "credentials", "eid", "identity_key", "rotation_exponent", "epoch",
    "nfc_uids", "profile", "tier", "notes", "at", "from_seq", "to_seq",
)  # fmt: skip
EDGE_INTS = (0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**400)


def template(kind: str, customer_id: str, version: int) -> dict[str, object]:
    """A valid message of ``kind`` (the fuzzers mutate its values)."""
    if kind == "customers":
        return {
            "op": "upsert",
            "customer_id": customer_id,
            "version": version,
            "display_name": "Camille",
            "consent": {"recognition": True, "staff_profile": True},
            "credentials": {
                "eid": {"identity_key": "00" * 16, "rotation_exponent": 10, "epoch": 0},
                "nfc_uids": ["04A1B2C3D4E5F6"],
            },
            "profile": {"tier": "gold", "notes": "n", "preferences": ["a"], "basket": []},
        }
    if kind == "checkins":
        return {"customer_id": customer_id, "at": "2026-01-05T09:00:00Z"}
    return {"from_seq": 1, "to_seq": version}


class RawJson(str):
    """JSON text put into a document as it is: nesting deeper than `json.dumps` can write."""

    __slots__ = ()


def nested(depth: int) -> RawJson:
    return RawJson("[" * depth + "]" * depth)


def encode(doc: object) -> bytes:
    return _encode(doc).encode("utf-8")


def _encode(value: object) -> str:
    if isinstance(value, RawJson):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)
