"""`[push]`: the Web Push allow-list and sending rules, parsed like every other table."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from agent.config.model import PushConfig
from agent.config.reader import Table, describe_kind
from agent.core.push import parse_host_rule

# What RFC 8292 asks of `sub`: a mailto: or an https: URL (py_vapid checks the same).
_SUBJECT = re.compile(r"(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)")


def parse_push(root: Table) -> PushConfig:
    t = root.table("push")
    defaults = PushConfig()
    if t is None:
        return defaults
    subject = t.string("subject", defaults.subject)
    if t.ok("subject") and not _SUBJECT.fullmatch(subject):
        t.bad("subject", f"must be a mailto: address or an https:// URL, got {subject!r}")
    config = PushConfig(
        endpoint_hosts=_endpoint_hosts(t, defaults.endpoint_hosts),
        subject=subject,
        timeout_s=t.number("timeout_s", defaults.timeout_s, minimum=0.5, maximum=30.0),
        retry_initial_s=t.number(
            "retry_initial_s", defaults.retry_initial_s, minimum=0.05, maximum=600.0
        ),
        retry_max_delay_s=t.number(
            "retry_max_delay_s", defaults.retry_max_delay_s, minimum=0.05, maximum=3600.0
        ),
        retry_for_s=t.number("retry_for_s", defaults.retry_for_s, minimum=0.0, maximum=86400.0),
        proxy=_proxy(t),
    )
    t.finish()
    return config


def _endpoint_hosts(t: Table, default: tuple[str, ...]) -> tuple[str, ...]:
    if not t.has("endpoint_hosts"):
        return default
    raw = t.raw("endpoint_hosts")
    if not isinstance(raw, list):
        t.bad("endpoint_hosts", f"must be an array of host names, got {describe_kind(raw)}")
        return default
    hosts: list[str] = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, str):
            t.bad("endpoint_hosts", f"entry {n + 1}: must be a string, got {describe_kind(entry)}")
            continue
        try:
            parse_host_rule(entry)
        except ValueError as exc:
            t.bad("endpoint_hosts", f"entry {n + 1}: {exc}")
            continue
        hosts.append(entry.strip().lower())
    return tuple(hosts)


def _proxy(t: Table) -> str | None:
    if not t.has("proxy"):
        return None
    text = t.string("proxy", "")
    if not t.ok("proxy"):
        return None
    problem = _proxy_problem(text)
    if problem:
        t.bad("proxy", f"{problem}, got {text!r}")
        return None
    return text


def _proxy_problem(text: str) -> str:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return "must be http://HOST:PORT or https://HOST:PORT"
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        return "must be http://HOST:PORT or https://HOST:PORT"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must have no path, query or fragment"
    return ""
