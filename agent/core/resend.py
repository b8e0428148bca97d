"""Resend requests from the central side (extension to contract v1, see docs/sync.md).

A broker restarted without persistence loses messages it had already acknowledged to the
agent, so the agent's outbox no longer holds them. The central side sees the hole in `seq`
and asks for the range on `{p}/stores/{store}/resend`; the agent answers from its sent log.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.customers import INT64_MAX, MalformedMessage, json_object

MAX_SPAN = 10_000  # one request asks for at most this many events; ask again for more


@dataclass(frozen=True, slots=True)
class ResendRequest:
    from_seq: int
    to_seq: int


def parse_resend_request(payload: bytes) -> ResendRequest:
    """`{"from_seq": N, "to_seq": M}` with 1 <= N <= M and M - N < MAX_SPAN."""
    doc = json_object(payload, 1024, "resend request")
    low, high = doc.get("from_seq"), doc.get("to_seq")
    # bool is an int in Python; `true` is not a sequence number.
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        raise MalformedMessage("from_seq and to_seq must be integers")
    assert isinstance(low, int) and isinstance(high, int)  # noqa: S101 - narrowed above
    if not 1 <= low <= high <= INT64_MAX:
        raise MalformedMessage("need 1 <= from_seq <= to_seq < 2**63")
    if high - low >= MAX_SPAN:
        raise MalformedMessage(f"at most {MAX_SPAN} events per request")
    return ResendRequest(low, high)
