"""Window screens are paired devices (contract 8.1), checked from the outside over HTTP: an
unpaired client never gets a window token from any answer; a display's token opens the
display pages and nothing else."""

from __future__ import annotations

import asyncio
import html
import re
import sys
import time
from pathlib import Path

import httpx
import pytest
import segno
from fastapi.routing import APIRoute
from starlette.routing import Route

from agent.core.window_token import ROTATION_PERIOD_S
from agent.web.i18n import strings
from tests.integration.queue_fixtures import (
    display_headers,
    join,
    queue_config,
    staff_headers,
)

FR = strings("fr")
# Anything shaped like a rotating or sticker token (r<period>.<mac>, s<generation>.<mac>).
TOKEN_SHAPE = re.compile(r"\b[rs][0-9]+\.[A-Za-z0-9_-]{8,}")


@pytest.fixture
async def agent(write_config, start_agent):  # type: ignore[no-untyped-def]
    return await start_agent(queue_config(write_config))


@pytest.fixture
async def client(agent):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as c:
        yield c


def window_tokens(agent) -> set[str]:  # type: ignore[no-untyped-def]
    """Every window token the agent accepts around now: rotating ones of the previous, current
    and next periods, and the sticker's."""
    tokens = agent.components.queues.tokens
    now = time.time()
    rotating = {tokens.rotating("advice", now + shift * ROTATION_PERIOD_S) for shift in (-1, 0, 1)}
    return rotating | {tokens.static("pickup", 1), tokens.static("advice", 1)}


_PATH = re.compile(r' d="([^"]+)"')


def window_codes(agent) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The QR codes a window would show for those tokens, as the path data of their SVG (a
    token on a window page is in the picture, not in the text)."""
    base = agent.components.config.http.public_url
    codes = {}
    for token in window_tokens(agent):
        for queue in ("advice", "pickup"):
            svg = segno.make_qr(f"{base}/j/{queue}?w={token}", error="m").svg_inline(
                scale=1, border=4
            )
            found = _PATH.search(svg)
            assert found is not None
            codes[found.group(1)] = token
    return codes


def get_routes(agent) -> set[str]:  # type: ignore[no-untyped-def]
    """Every GET route of the running agent's app (included routers walked: FastAPI keeps
    them as a tree)."""
    found: set[str] = set()
    pending = list(agent.daemon.web._config.app.routes)
    while pending:
        route = pending.pop()
        original = getattr(route, "original_router", None)
        if original is not None:
            pending += original.routes
        elif isinstance(route, APIRoute | Route) and "GET" in (route.methods or ()):
            found.add(route.path)
    return found


async def test_no_answer_to_an_unpaired_client_carries_a_window_token(agent, client) -> None:
    """Round 1: /window/{q} and /window/{q}/qr.svg handed the current rotating code (and a
    static queue's sticker token) to anyone who could reach public_url."""
    created = await join(client, agent)
    ticket = created["ticket"]["id"]
    given = agent.components.queues.tokens.rotating("advice", time.time())
    requests = {
        "/healthz": ["/healthz"],
        "/metrics": ["/metrics"],
        "/openapi.json": ["/openapi.json"],
        "/static/{name}": ["/static/window.js"],
        "/j/{queue}": ["/j/advice", "/j/advice?w=nonsense", "/j/pickup", f"/j/advice?w={given}"],
        "/t/{ticket_id}": [f"/t/{ticket}"],
        "/window/{queue}": ["/window/advice", "/window/pickup", "/window/advice?lang=en"],
        "/window/{queue}/qr.svg": ["/window/advice/qr.svg", "/window/pickup/qr.svg"],
        "/staff": ["/staff"],
        "/api/v1/queues/{queue}/summary": [
            "/api/v1/queues/advice/summary",
            "/api/v1/queues/pickup/summary",
        ],
        "/api/v1/queues/{queue}": ["/api/v1/queues/advice"],
        "/api/v1/tickets/{ticket_id}": [f"/api/v1/tickets/{ticket}"],
        "/api/v1/footfall/hours": ["/api/v1/footfall/hours"],
        "/api/v1/push/key": ["/api/v1/push/key"],
        "/sw.js": ["/sw.js"],
        "/board": ["/board", "/board?theme=light"],
        "/api/v1/board": ["/api/v1/board"],
        "/api/v1/queues/{queue}/serving": [
            "/api/v1/queues/advice/serving",
            "/api/v1/queues/pickup/serving",
        ],
        "/t/{ticket_id}/open": [f"/t/{ticket}/open?s=nonsense", f"/t/{ticket}/open"],
        "/api/v1/printer": ["/api/v1/printer"],
        "/manager": ["/manager", "/manager?days=7"],
        "/api/v1/manager/report": ["/api/v1/manager/report"],
        "/api/v1/manager/report.csv": ["/api/v1/manager/report.csv"],
    }
    # Streams are read for a moment below; every other GET route must be listed here, so a
    # new public route is checked too.
    streams = {
        "/api/v1/tickets/{ticket_id}/stream",
        "/api/v1/staff/stream",
        "/api/v1/board/stream",
    }
    assert get_routes(agent) - streams == set(requests), "a GET route this test does not visit"
    secret = {"Authorization": f"Ticket {created['secret']}"}
    for paths in requests.values():
        for path in paths:
            response = await client.get(path, headers=secret)
            seen = set(TOKEN_SHAPE.findall(response.text + str(response.headers)))
            seen |= {
                token for path_, token in window_codes(agent).items() if path_ in response.text
            }
            # The join page may repeat the code the phone itself brought (its FR/EN links keep
            # the query): that gives nobody a code they did not have.
            leaked = (seen & window_tokens(agent)) - ({given} if given in path else set())
            assert not leaked, f"{path} answered {response.status_code} with {leaked}"
    # The detector itself: it does see the code a paired screen is shown.
    screen = await display_headers(client, agent.components.config)
    shown = (await client.get("/window/advice", headers=screen)).text
    assert any(path in shown for path in window_codes(agent)), "the detector is blind"
    async with client.stream("GET", f"/api/v1/tickets/{ticket}/stream", headers=secret) as s:
        async for chunk in s.aiter_text():
            assert not set(TOKEN_SHAPE.findall(chunk)) & window_tokens(agent)
            break


async def test_unpaired_window_page_is_a_pairing_form_and_qr_svg_is_refused(agent, client) -> None:
    page = await client.get("/window/advice")
    assert page.status_code == 200
    assert 'id="window-pair-form"' in page.text and 'id="window-pair-code"' in page.text
    assert "<svg" not in page.text and 'id="qr"' not in page.text
    assert "Pair this screen" in page.text and "Appairer cet écran" in page.text
    qr = await client.get("/window/advice/qr.svg")
    assert qr.status_code == 401
    assert qr.json()["error"]["code"] == "unauthorized"
    assert "<svg" not in qr.text
    # A forged or revoked credential is no better than none.
    forged = {"Authorization": "Bearer not-a-token"}
    assert (await client.get("/window/advice/qr.svg", headers=forged)).status_code == 401
    assert 'id="window-pair-form"' in (await client.get("/window/advice", headers=forged)).text


async def test_pairing_a_display_sets_a_cookie_that_opens_the_window_page(agent) -> None:
    config = agent.components.config
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as screen:
        code = await _code(config, "window-1", "display")
        paired = await screen.post("/api/v1/pair", json={"code": code, "device_name": "w"})
        assert paired.status_code == 200
        cookie = paired.headers["set-cookie"]
        assert cookie.startswith("display_token=") and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower() and "Path=/" in cookie
        assert "staff_token" not in cookie
        page = await screen.get("/window/advice")  # the cookie alone
        assert page.status_code == 200 and '<svg viewBox="0 0' in page.text
        assert (await screen.get("/window/advice/qr.svg")).status_code == 200
        # The screen's cookie opens no staff page.
        assert (await screen.get("/staff")).status_code == 401
        assert (await screen.get("/api/v1/staff/stream")).status_code == 401
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as tablet:
        await staff_headers(tablet, config)  # the tablet's cookie opens the window page too
        assert (await tablet.get("/window/advice/qr.svg")).status_code == 200


async def test_a_display_token_opens_no_staff_route(agent, client) -> None:
    screen = await display_headers(client, agent.components.config)
    staff = await staff_headers(client, agent.components.config)
    created = await join(client, agent)
    ticket = created["ticket"]["id"]
    staff_routes = [
        ("GET", "/api/v1/queues/advice"),
        ("POST", "/api/v1/queues/advice/call-next"),
        ("POST", f"/api/v1/tickets/{ticket}/served"),
        ("POST", f"/api/v1/tickets/{ticket}/no-show"),
        ("POST", f"/api/v1/tickets/{ticket}/recall"),
        ("GET", "/api/v1/footfall/hours"),
        ("POST", "/api/v1/alerts/al-1/ack"),
        ("POST", "/api/v1/customers/c-1/notes"),
        ("GET", "/staff"),
        ("GET", "/api/v1/printer"),
        ("POST", f"/api/v1/tickets/{ticket}/print"),
        ("GET", "/manager"),
        ("GET", "/api/v1/manager/report"),
        ("GET", "/api/v1/manager/report.csv"),
    ]
    for method, path in staff_routes:
        body = {"text": "hello"} if path.endswith("/notes") else None
        response = await client.request(method, path, headers=screen, json=body)
        assert response.status_code == 403, (method, path, response.status_code)
    async with client.stream("GET", "/api/v1/staff/stream", headers=screen) as stream:
        assert stream.status_code == 403
    # The staff page says what the device is, in the visitor's language.
    page = await client.get("/staff", headers=screen | {"Accept-Language": "fr"})
    assert html.escape(FR["display_only_title"]) in page.text
    # Nothing was changed by the display; the same calls work for a tablet.
    assert (await client.get("/api/v1/queues/advice", headers=staff)).status_code == 200
    called = await client.post("/api/v1/queues/advice/call-next", headers=staff)
    assert called.status_code == 200 and called.json()["id"] == ticket
    # The display pages answer a display's token.
    assert (await client.get("/window/advice/qr.svg", headers=screen)).status_code == 200


async def _code(config, name: str, role: str) -> str:  # type: ignore[no-untyped-def]
    out = await _cli(config.source, "pair", "--name", name, "--role", role)
    return out.split(": ", 1)[1][:6]


async def _cli(config_path: Path, *args: str, status: int = 0) -> str:
    """`retail-edge` in its own process (asyncio's, so the agent under test keeps serving)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent",
        args[0],
        "-c",
        str(config_path),
        *args[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == status, err.decode()
    assert b"Traceback" not in err
    return (out + err).decode()


async def test_pair_role_display_on_the_command_line_and_in_devices(agent, client) -> None:
    path = agent.components.config.source
    out = await _cli(path, "pair", "--name", "window-9", "--role", "display")
    assert out.startswith("Display pairing code for 'window-9': ")
    assert "/window/QUEUE (QUEUE: advice, pickup)" in out
    code = out.split(": ", 1)[1][:6]
    paired = await client.post("/api/v1/pair", json={"code": code, "device_name": "x"})
    assert paired.status_code == 200
    token = {"Authorization": f"Bearer {paired.json()['token']}"}
    assert (await client.get("/api/v1/queues/advice", headers=token)).status_code == 403
    await staff_headers(client, agent.components.config, "tablet-3")
    listing = await _cli(path, "devices")
    lines = {line.split()[1]: line.split()[2] for line in listing.splitlines()}
    assert lines == {"window-9": "display", "tablet-3": "staff"}
    bad = await _cli(path, "pair", "--role", "admin", status=2)
    assert "invalid choice" in bad
