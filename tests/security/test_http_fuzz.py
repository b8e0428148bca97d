"""Schema-driven HTTP fuzzing (schemathesis) of every operation in the agent's /openapi.json.

The real agent runs against a real SQLite file, served by uvicorn in a thread of its own, and
schemathesis sends it generated requests over HTTP: valid and invalid bodies, odd path
parameters, boundary values. Each example is sent as an anonymous caller, a paired staff
tablet, a ticket holder or someone with a forged credential, and half the time with a real
ticket id, queue, window token or pairing code substituted in, so the fuzzer gets past
authentication and into the state machine. Whatever comes in, the contract (§3) says: never a
5xx, and every error is `{"error": {"code", "message"}}`; and every answer is one the schema
documents for that operation: its status, media type and body (errors included).

The default run is CI-sized (a bounded number of examples, well under a minute); the long form
(`pytest --long`) runs many more.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from agent import tools
from agent.bootstrap import Components, assemble, build
from agent.config.loader import load_config
from agent.daemon import AgentDaemon
from tests.integration.queue_fixtures import QUEUES

CI_EXAMPLES = 30
LONG_EXAMPLES = 1000
QUEUE_IDS = ("advice", "pickup")


@dataclass
class ThreadedAgent:
    """A real agent (build + AgentDaemon, as `retail-edge run` does) on an event loop in a
    thread of its own, so that synchronous schemathesis tests can call it over HTTP."""

    config_path: Path
    components: Components | None = None
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _daemon: AgentDaemon | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="fuzzed-agent", daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"agent did not start: {self._error!r}")

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            self.components = build(load_config(self.config_path))
            self._daemon = assemble(self.components)
            await self._daemon.start()
            self.port = self._daemon.web.port
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise
        self._ready.set()
        await self._daemon.wait_stopped()
        await self._daemon.stop()

    def stop(self) -> None:
        if self._loop is not None and self._daemon is not None:
            self._loop.call_soon_threadsafe(self._daemon.request_stop)
        if self._thread is not None:
            self._thread.join(timeout=30)


@dataclass
class Known:
    """Real values the fuzzer may substitute for generated ones."""

    agent: ThreadedAgent
    staff_token: str
    tickets: list[tuple[str, str]]  # (id, secret)

    @property
    def components(self) -> Components:
        assert self.agent.components is not None
        return self.agent.components

    def window_token(self, queue: str) -> str:
        queues = self.components.queues
        if queue not in queues.queue_ids():
            return "r1.nope"
        return (
            str(queues.tokens.rotating(queue, time.time()))
            if queue == "advice"
            else str(queues.static_token(queue))
        )


def write_config(directory: Path) -> Path:
    config = directory / "agent.toml"
    config.write_text(
        "\n".join(
            [
                "[store]",
                'id = "fuzz-01"',
                'name = "Fuzzed store"',
                'timezone = "Europe/Paris"',
                "[storage]",
                f'path = "{directory / "data" / "agent.db"}"',
                "[http]",
                'bind = "127.0.0.1"',
                "port = 0",
                'public_url = "http://127.0.0.1:8080"',
                # Let the fuzzer past the join rate limits (they are tested on their own).
                "joins_per_client = 10000",
                "joins_per_token_per_minute = 10000",
            ]
        )
        + "\n"
        + QUEUES.format(max_waiting=500),
        encoding="utf-8",
    )
    return config


def live_schema() -> dict[str, Any]:
    """The agent's own /openapi.json, from a real agent started for a moment at collection
    (so every operation it serves today is fuzzed, with no copy of the schema to go stale)."""
    with tempfile.TemporaryDirectory(prefix="retail-edge-schema-") as directory:
        agent = ThreadedAgent(write_config(Path(directory)))
        agent.start()
        try:
            document = httpx.get(f"{agent.base_url}/openapi.json", timeout=10).json()
        finally:
            agent.stop()
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Known]:
    config = write_config(tmp_path_factory.mktemp("fuzz"))
    agent = ThreadedAgent(config)
    agent.start()
    try:
        assert agent.components is not None
        with httpx.Client(base_url=agent.base_url, timeout=10) as client:
            code = tools.pairing_code(agent.components.config, "fuzz-tablet")
            paired = client.post("/api/v1/pair", json={"code": code, "device_name": "fuzz"})
            known = Known(agent, paired.json()["token"], [])
            for queue in (*QUEUE_IDS, "advice", "advice"):
                joined = client.post(
                    f"/api/v1/queues/{queue}/tickets",
                    json={"window_token": known.window_token(queue)},
                )
                assert joined.status_code == 201, joined.text
                known.tickets.append((joined.json()["ticket"]["id"], joined.json()["secret"]))
        yield known
    finally:
        agent.stop()


schema = schemathesis.openapi.from_dict(
    live_schema(),
    config=SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all"},  # valid and invalid inputs
            # An event stream is read until its first event: enough to see its status.
            "max-stream-events": 1,
            "request-timeout": 10,
        }
    ),
)


# Operations a ticket holder calls (`Authorization: Ticket <secret>`); the other protected
# ones take the staff tablet's `Authorization: Bearer <token>`.
CUSTOMER_OPERATIONS = {
    ("GET", "/api/v1/tickets/{ticket_id}"),
    ("DELETE", "/api/v1/tickets/{ticket_id}"),
    ("POST", "/api/v1/tickets/{ticket_id}/snooze"),
    ("GET", "/api/v1/tickets/{ticket_id}/stream"),
}
FORGED = ("Bearer ", "Ticket ", "Basic ", "Bearer\t", "")


def personalise(case: Any, known: Known) -> dict[str, str]:
    """Substitute real values into some examples; return the credential headers to send.

    The choices are derived from the generated example itself (so a failing example replays
    the same way): most examples carry the right credential and real ids, to get past
    authentication into the queue's state machine; the rest go in anonymous, with a forged
    credential, or with generated ids."""
    generated = repr((case.method, case.path, case.path_parameters, case.query, case.body))
    dice = zlib.crc32(generated.encode("utf-8", "surrogatepass"))
    params = case.path_parameters if case.path_parameters is not None else {}
    if dice % 3:
        if "queue" in params:
            params["queue"] = QUEUE_IDS[dice % len(QUEUE_IDS)]
        if "ticket_id" in params:
            params["ticket_id"] = known.tickets[dice % len(known.tickets)][0]
        body = case.body
        if isinstance(body, dict) and "window_token" in body:
            body["window_token"] = known.window_token(str(params.get("queue", "advice")))
        if isinstance(body, dict) and "code" in body:
            body["code"] = tools.pairing_code(known.components.config, "fuzz")
    who = (dice >> 8) % 6
    if who == 0:
        return {}
    if who == 1:
        forged = FORGED[dice % len(FORGED)] + generated[-40:].encode("ascii", "ignore").hex()
        return {"Authorization": forged}
    if (case.method.upper(), case.path) in CUSTOMER_OPERATIONS:
        ticket_id = str(params.get("ticket_id"))
        secret = dict(known.tickets).get(ticket_id, known.tickets[0][1])
        return {"Authorization": f"Ticket {secret}"}
    return {"Authorization": f"Bearer {known.staff_token}"}


def assert_contract_error(case: Any, response: Any) -> None:
    """A 4xx says what went wrong the contract's way: `{"error": {"code", "message"}}`."""
    if response.status_code < 400:
        return
    where = f"{case.operation.label} answered {response.status_code}: {response.text[:200]}"
    # schemathesis' Response keeps every header as a list of values.
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), where
    error = response.json().get("error")
    assert isinstance(error, dict), where
    assert isinstance(error.get("code"), str) and error["code"], where
    assert isinstance(error.get("message"), str) and error["message"], where


def fuzz_one(case: Any, known: Known) -> None:
    headers = personalise(case, known)
    response = case.call(base_url=known.agent.base_url, headers=headers)
    # Every answer is one /openapi.json documents for that operation (agent/web/openapi.py):
    # its status, its media type, and its body (a success's response model, or the error
    # envelope on every error status).
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    case.validate_response(response, checks=checks, headers=headers)
    assert_contract_error(case, response)


FUZZ_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "database": None,  # every run explores afresh; failures are printed with a curl line
}


@schema.parametrize()
@settings(max_examples=CI_EXAMPLES, **FUZZ_SETTINGS)
def test_no_operation_answers_5xx(case: Any, fuzzed: Known) -> None:
    fuzz_one(case, fuzzed)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@schema.parametrize()
@settings(max_examples=LONG_EXAMPLES, **FUZZ_SETTINGS)
def test_no_operation_answers_5xx_long(case: Any, fuzzed: Known) -> None:
    fuzz_one(case, fuzzed)
