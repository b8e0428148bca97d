"""The doctor's checks of the machine and the network: data directory, brokers, clock."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from agent.adapters.mqtt_client import device_broker_client
from agent.config.model import (
    AgentConfig,
    BleMqttProxyDevice,
    BrokerCredentials,
    FootfallMqttDevice,
    MqttConfig,
)
from agent.doctor.report import Check, Outcome

BROKER_TIMEOUT_S = 10.0
PROBE_BYTES = 64 * 1024  # written and fsynced: a disk that takes this takes a commit


def storage_check(config: AgentConfig, min_free_mb: int) -> Check:
    """The database's folder takes a synced write and has room. The doctor changes nothing: a
    folder that is not there yet is a warning (made at the agent's first start)."""
    folder = config.storage.path.parent
    if not folder.is_dir():
        return _not_made_yet(folder, min_free_mb)
    try:
        probe = folder / f".retail-edge-doctor-{os.getpid()}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                probe.unlink()
    except OSError as exc:
        return Check(
            "storage", Outcome.FAIL, f"{folder}: {_why_unwritable(exc)}", _storage_fix(exc)
        )
    free_mb = shutil.disk_usage(folder).free // (1024 * 1024)
    if free_mb < min_free_mb:
        return Check(
            "storage",
            Outcome.FAIL,
            f"{folder}: only {free_mb} MiB free (at least {min_free_mb} MiB wanted: the outbox "
            "keeps events while the broker is away)",
            "free space on that file system or point [storage] path at a bigger one",
        )
    database = config.storage.path
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        return Check(
            "storage",
            Outcome.FAIL,
            f"{database}: exists but this user cannot read and write it",
            "chown it to the service user (retail-edge) or run doctor as that user",
        )
    return Check("storage", Outcome.OK, f"{folder}: writable, {free_mb} MiB free")


def _not_made_yet(folder: Path, min_free_mb: int) -> Check:
    existing = next(parent for parent in folder.parents if parent.is_dir())
    free_mb = shutil.disk_usage(existing).free // (1024 * 1024)
    if free_mb < min_free_mb:
        return Check(
            "storage",
            Outcome.FAIL,
            f"{folder}: not there yet, and only {free_mb} MiB free on {existing}",
            "free space on that file system or point [storage] path at a bigger one",
        )
    return Check(
        "storage",
        Outcome.WARN,
        f"{folder}: not there yet ({free_mb} MiB free on {existing})",
        "the unit's StateDirectory= makes /var/lib/retail-edge at start; anywhere else, "
        "create it writable for the service user",
    )


def _why_unwritable(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def _storage_fix(exc: OSError) -> str:
    if exc.errno == errno.EROFS:
        return "mount it read-write, or point [storage] path at a writable disk"
    if exc.errno == errno.ENOSPC:
        return "free space on that file system or point [storage] path at a bigger one"
    return (
        "let the service user write there (the unit's StateDirectory= makes "
        "/var/lib/retail-edge), or change [storage] path"
    )


@dataclass(frozen=True, slots=True)
class _Broker:
    label: str  # "broker" for [mqtt], "broker devices[N]" for an adapter's own
    url: str
    credentials: BrokerCredentials
    key: str  # the config table to fix


async def broker_checks(config: AgentConfig) -> list[Check]:
    """The main link's broker and each device adapter's, logged in to as the agent would."""
    brokers: list[_Broker] = []
    if config.mqtt is None:
        results = [Check("broker", Outcome.SKIP, "no [mqtt] table: sync with the central side "
                         "is disabled")]  # fmt: skip
    else:
        results = []
        brokers.append(_Broker("broker", config.mqtt.url, _link_login(config.mqtt), "[mqtt]"))
    seen = {(b.url, b.credentials) for b in brokers}
    for device in config.devices:
        if isinstance(device, BleMqttProxyDevice | FootfallMqttDevice):
            if (device.url, device.credentials) in seen:
                continue  # the same broker, logged in to the same way: checked once
            seen.add((device.url, device.credentials))
            key = f"devices[{device.index}]"
            brokers.append(_Broker(f"broker {key}", device.url, device.credentials, key))
    for broker in brokers:
        results.append(await _broker_check(broker, config.store.id))
    return results


def _link_login(mqtt: MqttConfig) -> BrokerCredentials:
    return BrokerCredentials(
        username=mqtt.username,
        password_file=mqtt.password_file,
        ca_file=mqtt.ca_file,
        client_cert=mqtt.client_cert,
        client_key=mqtt.client_key,
    )


async def _broker_check(broker: _Broker, store_id: str) -> Check:
    who = f"as {broker.credentials.username!r}" if broker.credentials.username else "anonymously"
    where = f"{broker.url} {who}"
    # Its own client id: the agent's would take over (and end) a running agent's session.
    client_id = f"retail-edge-doctor-{store_id}-{os.getpid()}"
    try:
        client = device_broker_client(
            broker.url, broker.credentials, client_id=client_id, timeout_s=BROKER_TIMEOUT_S
        )
        async with client:
            pass
    except (aiomqtt.MqttError, OSError) as exc:
        return _connect_failure(broker, where, exc)
    tls = ", TLS verified" if broker.url.startswith("mqtts://") else ", no TLS"
    return Check(broker.label, Outcome.OK, f"{where}: connected{tls}")


def _connect_failure(broker: _Broker, where: str, exc: aiomqtt.MqttError | OSError) -> Check:
    # aiomqtt wraps socket and TLS errors in MqttError; the original is its __context__.
    cause = exc.__context__ if isinstance(exc, aiomqtt.MqttError) else exc
    if isinstance(cause, ssl.SSLError):
        return _tls_failure(broker, where, cause)
    if isinstance(exc, MqttConnectError):
        return Check(
            broker.label,
            Outcome.FAIL,
            f"{where}: the broker refused the login ({exc.rc})",
            f"check username and password_file in {broker.key} (and the broker's ACL)",
        )
    if isinstance(cause, OSError) or "timed out" in str(exc):
        return Check(
            broker.label,
            Outcome.FAIL,
            f"{where}: cannot reach it ({exc})",
            f"check the url in {broker.key}, that the broker runs and the firewall lets "
            "this device through; a broker that wants a client certificate waits for "
            "one silently (client_cert/client_key)",
        )
    return Check(broker.label, Outcome.FAIL, f"{where}: {exc}", "see the broker's log")


def _tls_failure(broker: _Broker, where: str, exc: ssl.SSLError) -> Check:
    ca = broker.credentials.ca_file or "the system's CAs"
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Check(
            broker.label,
            Outcome.FAIL,
            f"{where}: the broker's certificate is not trusted by {ca} ({reason})",
            f"set ca_file in {broker.key} to the CA that signed the broker's certificate, "
            "and use the host name the certificate names",
        )
    return Check(
        broker.label,
        Outcome.FAIL,
        f"{where}: TLS handshake failed ({reason})",
        f"check client_cert/client_key in {broker.key} and the broker's TLS settings",
    )


TIME_ERROR = 5  # adjtimex(2): the kernel's clock is not synchronised


def clock_check() -> Check:
    """Synchronised per systemd-timedated, or else per the kernel (adjtimex): window codes,
    EIDs and ticket times all depend on the clock."""
    synced = _timedatectl_synchronised()
    source = "timedatectl"
    if synced is None:
        state = _adjtimex_state()
        source = "adjtimex"
        synced = None if state is None else state != TIME_ERROR
    if synced is None:
        return Check(
            "clock",
            Outcome.WARN,
            "cannot tell whether the clock is synchronised (no timedatectl, no adjtimex)",
            "make sure NTP runs (systemd-timesyncd or chrony)",
        )
    if not synced:
        return Check(
            "clock",
            Outcome.FAIL,
            f"not synchronised ({source}); rotating window codes, phone recognition (EIDs) "
            "and ticket times need the right time",
            "enable NTP: `timedatectl set-ntp true` (systemd-timesyncd) or install chrony, "
            "and let UDP 123 out",
        )
    return Check("clock", Outcome.OK, f"synchronised ({source})")


def _timedatectl_synchronised() -> bool | None:
    executable = shutil.which("timedatectl")
    if executable is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command line
            [executable, "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    if done.returncode != 0 or answer not in ("yes", "no"):
        return None  # no systemd (a container): ask the kernel instead
    return answer == "yes"


def _adjtimex_state() -> int | None:
    """adjtimex(2) with modes = 0 only reads; its return value is the clock state."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        # struct timex is ~208 bytes on 64-bit Linux; a zeroed, larger buffer reads safely.
        buffer = ctypes.create_string_buffer(512)
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return None
    return state if state >= 0 else None
