"""systemd's readiness and watchdog protocol (sd_notify(3)), written out instead of a dependency.

Under the unit in deploy/retail-edge.service (`Type=notify`, `WatchdogSec=`), systemd passes
`$NOTIFY_SOCKET` (a unix datagram socket) and `$WATCHDOG_USEC`. The daemon sends `READY=1`
once it serves requests, `WATCHDOG=1` regularly while it is healthy, and `STOPPING=1` when it
begins to shut down. If the pings stop (a hung event loop, or an unhealthy agent), systemd kills
the agent and `Restart=on-failure` starts it again. Outside systemd every call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

_LOGGER = logging.getLogger(__name__)


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify message; False if not under systemd or if the send failed.

    A failed send is logged, never raised: the agent keeps serving the store, and if the
    failure is lasting systemd notices the missing pings and restarts it.
    """
    address = _environ(environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    # "@name" is a socket in the abstract namespace (systemd's own form for it).
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(message.encode())
    except OSError as exc:
        _LOGGER.warning("could not notify systemd (%s): %s", address, exc)
        return False
    return True


def notify_ready(environ: Mapping[str, str] | None = None) -> bool:
    """The agent serves requests: with `Type=notify`, systemd counts it as started from here."""
    return notify("READY=1", environ)


def notify_stopping(environ: Mapping[str, str] | None = None) -> bool:
    """The agent is shutting down (so a slow stop is not taken for a hang)."""
    return notify("STOPPING=1", environ)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings (half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises), or
    None when systemd expects none, including when `$WATCHDOG_PID` names another process."""
    env = _environ(environ)
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


async def watchdog_loop(
    stop_event: asyncio.Event,
    healthy: Callable[[], Awaitable[bool]],
    environ: Mapping[str, str] | None = None,
) -> None:
    """Ping systemd's watchdog at half its timeout while `healthy()` says so, until stop_event.

    An unhealthy answer (or one that raises) skips the ping: if the agent stays unhealthy for
    the whole `WatchdogSec=`, systemd restarts it. Returns at once when no watchdog is set.
    """
    interval = watchdog_interval(environ)
    if interval is None:
        return
    while not stop_event.is_set():
        try:
            ok = await healthy()
        except Exception:
            _LOGGER.exception("the health check for systemd's watchdog failed")
            ok = False
        if ok:
            notify("WATCHDOG=1", environ)
        else:
            _LOGGER.warning("unhealthy: not pinging systemd's watchdog")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=interval)
