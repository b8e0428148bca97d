"""Issue 12, items 9 and 10 (a-c), from the outside: what a refused join costs a phone, who may
say where a request comes from, which cookies get `Secure`, and what a join body may hold.

Every test runs the real agent on its own HTTP port and talks to it over loopback with httpx;
phones are told apart by `X-Forwarded-For` only where the config trusts 127.0.0.1 to send it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent import tools
from agent.config.loader import load_config
from agent.config.model import AgentConfig
from tests.integration.queue_fixtures import queue_config, token

JOIN = "/api/v1/queues/advice/tickets"
TRUST_LOOPBACK = 'trusted_proxies = ["127.0.0.1"]'


def phone(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.100.{n}"}


def https_config(write_config: Any, http: str = "") -> AgentConfig:
    """The queue config with an https public URL (a TLS-terminating proxy in front)."""
    path = queue_config(write_config, http=http).source
    text = path.read_text().replace('"http://127.0.0.1:8080"', '"https://shop.example"')
    path.write_text(text)
    return load_config(path)


async def post_join(client: httpx.AsyncClient, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return await client.post(JOIN, json=body, **kw)


# --- item 9: refused joins and the join quota -------------------------------------------------


async def test_joins_refused_for_a_stale_code_do_not_use_up_the_join_quota(
    write_config, start_agent
) -> None:
    """Before: after 5 joins with a stale code, the phone's next valid join got 429."""
    agent = await start_agent(queue_config(write_config))  # joins_per_client = 5
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        for _ in range(8):
            r = await post_join(client, {"window_token": "a-photo-of-yesterdays-code"})
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "window_token_expired"
        # The phone scans the window again: its five joins are all still there.
        for _ in range(5):
            r = await post_join(client, {"window_token": token(agent)})
            assert r.status_code == 201, r.text
        r = await post_join(client, {"window_token": token(agent)})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"


async def test_wrong_codes_have_their_own_bound_per_address(write_config, start_agent) -> None:
    http = f"wrong_tokens_per_client = 3\n{TRUST_LOOPBACK}"
    agent = await start_agent(queue_config(write_config, http=http))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        for n in range(3):
            r = await post_join(client, {"window_token": f"guess-{n}"}, headers=phone(1))
            assert r.status_code == 403, r.text
        # Past the bound nothing this address sends is evaluated, a right code included.
        for value in ("guess-4", token(agent)):
            r = await post_join(client, {"window_token": value}, headers=phone(1))
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == "too_many_attempts"
            assert (
                r.json()["error"]["message"] == "Too many wrong codes. Please wait and try again."
            )
        # Another phone is not affected; the refusals are counted under their own reason.
        r = await post_join(client, {"window_token": token(agent)}, headers=phone(2))
        assert r.status_code == 201, r.text
        metrics = (await client.get("/metrics")).text
    assert 'reason="wrong_tokens"' in metrics


async def test_concurrent_wrong_codes_cannot_exceed_their_bound(write_config, start_agent) -> None:
    """Counted before the join awaits anything: a burst cannot all pass the check first."""
    http = "joins_per_client = 4\nwrong_tokens_per_client = 6"
    agent = await start_agent(queue_config(write_config, http=http))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=30) as client:
        wrong = await asyncio.gather(
            *(post_join(client, {"window_token": f"guess-{n}"}) for n in range(60))
        )
        statuses = sorted(r.status_code for r in wrong)
        assert statuses.count(403) == 6 and statuses.count(403) + statuses.count(429) == 60
        assert all(
            r.json()["error"]["code"] in ("window_token_expired", "too_many_attempts")
            for r in wrong
        )


async def test_concurrent_valid_joins_cannot_exceed_the_quota(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config, http="joins_per_client = 4"))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=30) as client:
        valid = token(agent)
        right = await asyncio.gather(
            *(post_join(client, {"window_token": valid}) for _ in range(40))
        )
        assert sum(r.status_code == 201 for r in right) == 4
        assert {r.status_code for r in right} == {201, 429}


# --- item 10b: trusted proxies ----------------------------------------------------------------


async def _joins_from_three_forged_addresses(agent: Any) -> list[int]:
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        return [
            (await post_join(client, {"window_token": token(agent)}, headers=phone(n))).status_code
            for n in range(3)
        ]


async def test_a_forged_forwarded_for_does_not_change_the_bucket_by_default(
    write_config, start_agent
) -> None:
    """Before: uvicorn believed X-Forwarded-For from 127.0.0.1, i.e. from any local process."""
    agent = await start_agent(queue_config(write_config, http="joins_per_client = 2"))
    assert agent.components.config.http.trusted_proxies == ()
    assert await _joins_from_three_forged_addresses(agent) == [201, 201, 429]


async def test_a_trusted_proxy_names_the_client(write_config, start_agent) -> None:
    http = f"joins_per_client = 2\n{TRUST_LOOPBACK}"
    agent = await start_agent(queue_config(write_config, http=http))
    assert await _joins_from_three_forged_addresses(agent) == [201, 201, 201]
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        # The client's own entries left of the proxy's are not believed: the rightmost
        # address that is not a trusted proxy is the bucket, here 203.0.113.7 twice.
        for forged in ("192.0.2.1", "192.0.2.2"):
            xff = {"X-Forwarded-For": f"{forged}, 203.0.113.7"}
            r = await post_join(client, {"window_token": token(agent)}, headers=xff)
            assert r.status_code == 201, r.text
        xff = {"X-Forwarded-For": "192.0.2.3, 203.0.113.7"}
        r = await post_join(client, {"window_token": token(agent)}, headers=xff)
        assert r.status_code == 429


async def test_an_https_public_url_trusts_loopback_unless_told_otherwise(
    write_config, start_agent
) -> None:
    config = https_config(write_config, http="joins_per_client = 2")
    assert [str(n) for n in config.http.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    agent = await start_agent(config)
    assert await _joins_from_three_forged_addresses(agent) == [201, 201, 201]


async def test_an_explicit_empty_list_trusts_nobody_even_behind_https(
    write_config, start_agent
) -> None:
    config = https_config(write_config, http="joins_per_client = 2\ntrusted_proxies = []")
    agent = await start_agent(config)
    assert await _joins_from_three_forged_addresses(agent) == [201, 201, 429]


def test_check_config_names_a_bad_trusted_proxy(write_config) -> None:
    path = write_config()
    text = path.read_text().replace(
        "[http]\n", '[http]\ntrusted_proxies = ["127.0.0.1", "10.0.0.1/8", "proxy.lan", 3]\n'
    )
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "agent", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{path}: http.trusted_proxies: entry 2: 10.0.0.1/8 has host bits set",
        (
            f"{path}: http.trusted_proxies: entry 3: "
            "'proxy.lan' does not appear to be an IPv4 or IPv6 network"
        ),
        f"{path}: http.trusted_proxies: entry 4: must be a string, got int 3",
    ]
    path.write_text(text.replace('["127.0.0.1", "10.0.0.1/8", "proxy.lan", 3]', '"127.0.0.1"'))
    result = subprocess.run(
        [sys.executable, "-m", "agent", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stderr.strip() == (
        f"{path}: http.trusted_proxies: must be an array of IP addresses or networks, "
        "got the string '127.0.0.1'"
    )


# --- item 10a: Secure follows public_url ------------------------------------------------------


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


async def test_cookies_are_secure_when_the_public_url_is_https(write_config, start_agent) -> None:
    """Before: the local proxy's plain-http request gave the ticket cookie no `Secure`."""
    agent = await start_agent(https_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        r = await post_join(client, {"window_token": token(agent)})
        assert r.status_code == 201, r.text
        (ticket_cookie,) = _set_cookies(r)
        assert ticket_cookie.startswith("rt_") and "; secure" in ticket_cookie.lower()
        code = tools.pairing_code(agent.components.config, "tablet-1")
        r = await client.post("/api/v1/pair", json={"code": code, "device_name": "tablet-1"})
        assert r.status_code == 200, r.text
        (staff_cookie,) = _set_cookies(r)
        assert staff_cookie.startswith("staff_token=") and "; secure" in staff_cookie.lower()


async def test_cookies_are_not_secure_for_a_plain_http_public_url(
    write_config, start_agent
) -> None:
    """The other side: a store on plain http must still get its cookies back."""
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        r = await post_join(client, {"window_token": token(agent)})
        (ticket_cookie,) = _set_cookies(r)
        assert "secure" not in ticket_cookie.lower()


# --- item 10c: strict integers and booleans in bodies -----------------------------------------


@pytest.mark.parametrize("party_size", ["3", True, 3.0])
async def test_a_join_body_refuses_a_party_size_that_is_not_an_integer(
    write_config, start_agent, party_size: object
) -> None:
    """Before: "3", true and 3.0 became 3, 1 and 3."""
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        r = await post_join(client, {"window_token": token(agent), "party_size": party_size})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_body" and "party_size" in error["message"]
        # The contract's body still works.
        r = await post_join(client, {"window_token": token(agent), "party_size": 3})
        assert r.status_code == 201 and r.json()["ticket"]["party_size"] == 3


async def test_other_bodies_refuse_numbers_for_strings(write_config, start_agent) -> None:
    agent = await start_agent(queue_config(write_config))
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        r = await client.post("/api/v1/pair", json={"code": 123456, "device_name": "t"})
        assert r.status_code == 422 and "code" in r.json()["error"]["message"]
        r = await post_join(client, {"window_token": 12345})
        assert r.status_code == 422 and "window_token" in r.json()["error"]["message"]


def test_the_config_examples_still_load(tmp_path: Path) -> None:
    """A [http] table without the new keys gets their documented defaults."""
    path = tmp_path / "a.toml"
    path.write_text(
        '[store]\nid = "s"\nname = "S"\n[storage]\npath = "a.db"\n'
        '[http]\npublic_url = "http://shop.lan:8080"\n'
    )
    http = load_config(path).http
    assert http.trusted_proxies == () and http.wrong_tokens_per_client == 20
