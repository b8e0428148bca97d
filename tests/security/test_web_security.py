"""The staff and customer web surface, checked against the claims in docs/security.md.

Already proven elsewhere, and not repeated here:
- pairing codes are single use and staff tokens revocable:
  tests/integration/test_queue_api.py::test_pairing_codes_are_single_use_and_tokens_revocable
- wrong pairing codes are limited per client:
  tests/integration/test_queue_api.py::test_pairing_guesses_are_limited
- staff endpoints refuse a missing, unknown or non-Bearer credential:
  tests/integration/test_queue_api.py::test_staff_endpoints_refuse_without_a_valid_token
- a wrong ticket secret and an unknown ticket id get the same 403:
  tests/integration/test_queue_api.py::test_customer_auth_errors
- joins are limited per client:
  tests/integration/test_queue_api.py::test_joins_are_rate_limited_per_client
- an old rotating window token and another queue's sticker are refused:
  tests/integration/test_queue_api.py::test_expired_window_token_is_refused_with_a_human_message
- page headers (CSP without inline scripts, nosniff, no referrer, no framing):
  tests/browser/test_pages_http.py::assert_html_headers

Client addresses: these agents list 127.0.0.1 in `[http] trusted_proxies` (as a store with a
reverse proxy on the same machine would), which is where these tests connect from; they use
`X-Forwarded-For` to play several phones. A phone on the network cannot choose its address
that way, and without the key nobody can (tests/security/test_joins_and_proxies.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from agent import tools
from agent.bootstrap import Components, assemble, build
from agent.core.clock import ManualClock
from agent.core.window_token import FORM_TOKEN_PERIODS, ROTATION_PERIOD_S
from agent.daemon import AgentDaemon
from agent.services.staff import StaffService
from tests.integration.queue_fixtures import join, queue_config, staff_headers, token

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


TRUST_LOOPBACK = 'trusted_proxies = ["127.0.0.1"]'


def phone(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{n}"}


@pytest.fixture
async def agent(write_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config, http=TRUST_LOOPBACK))


@pytest.fixture
async def client(agent) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as c:
        yield c


@dataclass
class ClockedAgent:
    components: Components
    daemon: AgentDaemon
    clock: ManualClock

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.daemon.web.port}"


@pytest.fixture
async def clocked(write_config) -> AsyncIterator[ClockedAgent]:  # type: ignore[no-untyped-def]
    """An agent whose clock only moves when the test says so (starting at the real time, so
    that codes made by `retail-edge pair` and its clock agree)."""
    clock = ManualClock(datetime.now(UTC))
    components = build(queue_config(write_config, http=TRUST_LOOPBACK), clock=clock)
    daemon = assemble(components)
    await daemon.start()
    try:
        yield ClockedAgent(components, daemon, clock)
    finally:
        await daemon.stop()


# --- pairing ------------------------------------------------------------------------------


async def test_pairing_codes_expire_after_ten_minutes(clocked: ClockedAgent) -> None:
    config = clocked.components.config
    early, late = tools.pairing_code(config, "t-early"), tools.pairing_code(config, "t-late")
    async with httpx.AsyncClient(base_url=clocked.base_url, timeout=10) as client:
        clocked.clock.advance(9 * 60)
        r = await client.post("/api/v1/pair", json={"code": early, "device_name": "t-early"})
        assert r.status_code == 200
        clocked.clock.advance(2 * 60)  # 11 minutes after they were made
        r = await client.post("/api/v1/pair", json={"code": late, "device_name": "t-late"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_code"


async def test_pairing_guesses_are_limited_across_the_whole_network(agent, client) -> None:
    """Ten wrong codes from each of ten addresses: then nobody may try for a while, so a
    guesser with many addresses still gets at most 100 tries per 10 minutes out of 10^6."""
    overall = StaffService.FAILURES_OVERALL
    per_client = StaffService.FAILURES_PER_CLIENT
    attempts = 0
    for address in range(overall // per_client):
        for _ in range(per_client):
            guess = f"{attempts:06d}"
            r = await client.post(
                "/api/v1/pair", json={"code": guess, "device_name": "x"}, headers=phone(address)
            )
            assert r.status_code == 403, (attempts, r.text)
            attempts += 1
    good = tools.pairing_code(agent.components.config, "t")
    r = await client.post(
        "/api/v1/pair", json={"code": good, "device_name": "t"}, headers=phone(200)
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts"


# --- staff tokens and ticket secrets at rest ---------------------------------------------


def database_bytes(agent) -> bytes:  # type: ignore[no-untyped-def]
    path = Path(agent.components.config.storage.path)
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_tokens_secrets_and_codes_are_stored_only_as_hashes(agent, client) -> None:
    config = agent.components.config
    staff = await staff_headers(client, config)
    staff_token = staff["Authorization"].removeprefix("Bearer ")
    unused_code = tools.pairing_code(config, "later")
    created = [await join(client, agent) for _ in range(3)]
    stored = database_bytes(agent)
    for value in [staff_token, *(c["secret"] for c in created)]:
        assert value.encode() not in stored
        # ...and its SHA-256 is there: these bytes are where it would have been written.
        assert hashlib.sha256(value.encode()).hexdigest().encode() in stored
    assert hashlib.sha256(unused_code.encode()).hexdigest().encode() in stored


# --- CSRF: what a browser on another site could make a paired tablet do ------------------


async def test_state_changing_staff_calls_need_the_bearer_header_not_the_cookie(
    agent, client
) -> None:
    code = tools.pairing_code(agent.components.config, "tablet-1")
    paired = await client.post("/api/v1/pair", json={"code": code, "device_name": "tablet-1"})
    cookie = paired.headers["set-cookie"]
    assert cookie.startswith("staff_token=")
    assert re.search(r"(?i);\s*httponly", cookie) and re.search(r"(?i)samesite=strict", cookie)
    bearer = {"Authorization": f"Bearer {paired.json()['token']}"}
    ticket = (await join(client, agent))["ticket"]
    changes = [
        "/api/v1/queues/advice/call-next",
        f"/api/v1/tickets/{ticket['id']}/served",
        f"/api/v1/tickets/{ticket['id']}/no-show",
        f"/api/v1/tickets/{ticket['id']}/recall",
        "/api/v1/alerts/some-alert/ack",
        "/api/v1/customers/c-00001/notes",
    ]
    assert client.cookies.get("staff_token")  # the browser holds the cookie...
    for url in changes:
        r = await client.post(url, json={"text": "x"})
        assert r.status_code == 401, (url, r.text)  # ...and it is not enough
    # Reading is allowed with the cookie alone (the page and its live stream; SameSite=Strict
    # keeps it off requests started by other sites).
    assert (await client.get("/staff")).status_code == 200
    async with client.stream("GET", "/api/v1/staff/stream") as stream:
        assert stream.status_code == 200
    # The same calls with the header work (so the 401s above are about the cookie).
    assert (await client.post(changes[0], headers=bearer)).status_code == 200


async def test_json_bodies_cannot_come_from_a_cross_site_form(agent, client) -> None:
    """A form or no-CORS fetch on another site can only send text/plain, a urlencoded or a
    multipart body: none of them is accepted where the API expects JSON."""
    code = tools.pairing_code(agent.components.config, "t")
    bodies = {
        "/api/v1/queues/advice/tickets": {"window_token": token(agent)},
        "/api/v1/pair": {"code": code, "device_name": "t"},
    }
    for url, body in bodies.items():
        for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
            headers = {"content-type": content_type} if content_type else {}
            r = await client.post(url, content=json.dumps(body), headers=headers)
            assert r.status_code == 422, (url, content_type, r.text)
    assert agent.components.queues.summary("advice").waiting == 0


async def test_no_cross_origin_access_is_granted(agent, client) -> None:
    staff = await staff_headers(client, agent.components.config)
    preflight = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    r = await client.options("/api/v1/queues/advice/call-next", headers=preflight)
    assert r.status_code >= 400
    assert "access-control-allow-origin" not in r.headers
    r = await client.get(
        "/api/v1/queues/advice", headers=staff | {"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in r.headers


# --- security headers everywhere ----------------------------------------------------------


async def test_security_headers_on_pages_api_errors_and_streams(agent, client) -> None:
    created = await join(client, agent)
    ticket_id = created["ticket"]["id"]
    staff = await staff_headers(client, agent.components.config)
    requests = [
        ("GET", f"/j/advice?w={token(agent)}", {}),
        ("GET", f"/t/{ticket_id}", {}),
        ("GET", "/staff", {}),
        ("GET", "/window/advice", {}),
        ("GET", "/window/advice/qr.svg", {}),
        ("GET", "/api/v1/queues/advice/summary", {}),
        ("GET", f"/api/v1/tickets/{ticket_id}", {}),
        ("GET", "/api/v1/queues/advice", staff),
        ("POST", "/api/v1/queues/advice/call-next", staff),
        ("POST", "/api/v1/pair", {}),  # 422
        ("GET", "/api/v1/tickets/unknown", {"Authorization": "Ticket x"}),  # 403
        ("GET", "/api/v1/queues/advice", {}),  # 401
        ("GET", "/no/such/route", {}),  # 404
        ("PUT", "/api/v1/pair", {}),  # 405
        ("GET", "/healthz", {}),
        ("GET", "/metrics", {}),
        ("GET", "/static/common.js", {}),
    ]
    for method, url, headers in requests:
        r = await client.request(method, url, headers=headers)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (method, url, r.status_code, name)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], url
        if url.startswith("/api/"):
            assert r.headers["cache-control"] == "no-store", url
        if r.headers["content-type"].startswith("application/json"):
            # An answer that is data loads nothing at all.
            assert r.headers["content-security-policy"].startswith("default-src 'none'"), url
    for url, headers in (
        (f"/api/v1/tickets/{ticket_id}/stream", {}),
        ("/api/v1/staff/stream", staff),
    ):
        async with client.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            for name, value in SECURITY_HEADERS.items():
                assert stream.headers.get(name) == value, (url, name)
            assert stream.headers["cache-control"] == "no-store"


# --- tickets: secrets unguessable, no reading or changing another's ----------------------


async def test_ticket_ids_and_secrets_are_random_and_long(agent, client) -> None:
    created = []
    for n in range(20):
        r = await client.post(
            "/api/v1/queues/advice/tickets", json={"window_token": token(agent)}, headers=phone(n)
        )
        assert r.status_code == 201, r.text
        created.append(r.json())
    ids = [c["ticket"]["id"] for c in created]
    secrets_ = [c["secret"] for c in created]
    urlsafe = re.compile(r"^[A-Za-z0-9_-]+$")
    assert len(set(ids)) == len(ids) and len(set(secrets_)) == len(secrets_)
    # 32 base64url characters = 192 random bits; ids 12 characters = 72 bits, so that a ticket
    # is not found by counting (its number, 1, 2, 3..., is what the customer sees instead).
    assert all(len(s) >= 32 and urlsafe.match(s) for s in secrets_)
    assert all(len(i) >= 12 and urlsafe.match(i) for i in ids)
    assert [c["ticket"]["number"] for c in created] == list(range(1, 21))


async def test_one_customer_cannot_read_change_or_list_another_customers_ticket(agent) -> None:
    async with (
        httpx.AsyncClient(base_url=agent.base_url, timeout=10, headers=phone(1)) as alice,
        httpx.AsyncClient(base_url=agent.base_url, timeout=10, headers=phone(2)) as bob,
    ):
        mine = await join(alice, agent, name="Alice")
        theirs = await join(bob, agent, name="Bob", phone="+33612345678")
        url = f"/api/v1/tickets/{theirs['ticket']['id']}"
        my_secret = {"Authorization": f"Ticket {mine['secret']}"}
        # With her own secret on his ticket: refused, every operation.
        for method, path in (
            ("GET", url),
            ("DELETE", url),
            ("POST", f"{url}/snooze"),
            ("GET", f"{url}/stream"),
        ):
            r = await alice.request(method, path, headers=my_secret)
            assert r.status_code == 403, (method, path)
        # With her cookies only (the join set a cookie for her ticket, not his): refused.
        assert (await alice.get(url)).status_code == 401
        assert (await alice.delete(url)).status_code == 401
        page = await alice.get(f"/t/{theirs['ticket']['id']}")
        assert page.status_code in (401, 403) and "Bob" not in page.text
        # His ticket did not change.
        r = await bob.get(url)
        assert r.json()["state"] == "waiting" and r.json()["position"] == 2
        assert r.json().get("snoozed") in (None, False)
        # What anyone can read about the queue names nobody and holds no ticket id.
        public = [
            (await alice.get("/api/v1/queues/advice/summary")).text,
            (await alice.get(f"/j/advice?w={token(agent)}")).text,
            (await alice.get("/window/advice")).text,
        ]
        for text in public:
            assert theirs["ticket"]["id"] not in text and mine["ticket"]["id"] not in text
            assert "Bob" not in text and "+33612345678" not in text
        # The list of tickets is staff-only.
        assert (await alice.get("/api/v1/queues/advice")).status_code == 401


# --- joins: per window token, and old tokens -----------------------------------------------


async def test_joins_are_limited_per_window_token(write_config, start_agent) -> None:
    http = f"joins_per_client = 100\njoins_per_token_per_minute = 3\n{TRUST_LOOPBACK}"
    agent = await start_agent(queue_config(write_config, http=http))
    shared = token(agent)  # one photo of the window, passed around
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        for n in range(3):
            r = await client.post(
                "/api/v1/queues/advice/tickets", json={"window_token": shared}, headers=phone(n)
            )
            assert r.status_code == 201, r.text
        r = await client.post(
            "/api/v1/queues/advice/tickets", json={"window_token": shared}, headers=phone(9)
        )
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        # The same phone with another valid token is not blocked: the limit is the token's.
        r = await client.post(
            "/api/v1/queues/pickup/tickets",
            json={"window_token": token(agent, "pickup")},
            headers=phone(9),
        )
        assert r.status_code == 201


async def test_window_and_form_tokens_stop_working_when_they_age(clocked: ClockedAgent) -> None:
    queues = clocked.components.queues
    scanned = queues.window_token("advice")  # what the window shows now
    form = queues.form_token("advice")  # what the join page gives the phone that scanned it
    async with httpx.AsyncClient(base_url=clocked.base_url, timeout=10) as client:

        async def joins(value: str, n: int) -> int:
            r = await client.post(
                "/api/v1/queues/advice/tickets", json={"window_token": value}, headers=phone(n)
            )
            return r.status_code

        clocked.clock.advance(ROTATION_PERIOD_S)  # the window moved on: the last code still works
        assert await joins(scanned, 1) == 201
        clocked.clock.advance(ROTATION_PERIOD_S)  # two periods: a photo of the window is refused
        assert await joins(scanned, 2) == 403
        clocked.clock.advance((FORM_TOKEN_PERIODS - 2) * ROTATION_PERIOD_S)
        assert await joins(form, 3) == 201  # a slow form is fine for 15 minutes...
        clocked.clock.advance(ROTATION_PERIOD_S)
        assert await joins(form, 4) == 403  # ...and no longer
