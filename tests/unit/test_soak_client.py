"""The soak benchmark's load client stands for many phones: it must not gather their cookies."""

from __future__ import annotations

import httpx

from benchmarks.common import keep_no_cookies


async def test_the_soak_client_sends_no_ticket_cookies() -> None:
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        cookie = f"rt_{len(sent):012d}=secret; Max-Age=43200; HttpOnly; Path=/; SameSite=lax"
        return httpx.Response(201, headers={"set-cookie": cookie})

    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        keep_no_cookies(client)
        for _ in range(3):
            await client.post("/api/v1/queues/advice/tickets")
    # A client that kept them sent 1, then 2 cookies: ~50 bytes more with each join.
    assert sent == [None, None, None]
