"""No secret ever reaches a log line or the terminal: the MQTT password, pairing codes, staff
device tokens, ticket secrets, window tokens and the key that signs them.

The agent runs in-process with every logger at DEBUG (aiomqtt/paho included), goes through
pairing, joining, staff calls, wrong credentials and a refused broker login, and the whole
captured log is searched for each secret. The console script is run too, on bad configs and
against a broker that refuses its password, and its stdout/stderr are searched the same way.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent import tools
from agent.config.loader import load_config
from simulators.mosquitto import MosquittoBroker
from tests.helpers import eventually
from tests.integration.queue_fixtures import QUEUES

CLI = [sys.executable, "-m", "agent"]
USERNAME = "test-01"
# Loggers of the test's own HTTP client, not of the agent: they print request URLs, which
# carry the window token of a join page by design (it is in the QR code).
CLIENT_LOGGERS = ("httpx", "httpcore")


def found(secret: str, text: str) -> bool:
    """``secret`` appears in ``text`` (a 6-digit code only as a number of its own)."""
    if secret.isdigit():
        return re.search(rf"(?<!\d){secret}(?!\d)", text) is not None
    return secret in text


def leaks(secrets_: dict[str, str], text: str) -> list[str]:
    return [name for name, value in secrets_.items() if found(value, text)]


def password_file(directory: Path, username: str, password: str) -> Path:
    """The broker's password file for ``username`` (hashed by mosquitto_passwd)."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd not installed")
    broker_side = directory / "mosquitto.passwd"
    subprocess.run(
        [tool, "-b", "-c", str(broker_side), username, password], check=True, capture_output=True
    )
    return broker_side


@pytest.fixture
def mqtt_password() -> str:
    return "pw-" + secrets.token_urlsafe(18)


@pytest.fixture
def auth_broker(tmp_path: Path, mqtt_password: str) -> Iterator[MosquittoBroker]:
    """A broker that accepts USERNAME only with the right password."""
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    users = password_file(workdir, USERNAME, mqtt_password)
    broker = MosquittoBroker(workdir=workdir, extra_config=f"password_file {users}")
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


def agent_password_file(tmp_path: Path, password: str) -> Path:
    path = tmp_path / "mqtt.pass"
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


async def exercise(agent, client: httpx.AsyncClient) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Use every secret-bearing path once, rightly and wrongly; return the secrets seen."""
    c = agent.components
    found_secrets: dict[str, str] = {}
    # Staff pairing: a wrong code, the right one, then the token; a revoked token.
    r = await client.post("/api/v1/pair", json={"code": "000000", "device_name": "bad"})
    assert r.status_code in (403, 429)
    code = tools.pairing_code(c.config, "tablet-1")
    found_secrets["pairing code"] = code
    r = await client.post("/api/v1/pair", json={"code": code, "device_name": "tablet-1"})
    assert r.status_code == 200
    token = r.json()["token"]
    found_secrets["staff token"] = token
    staff = {"Authorization": f"Bearer {token}"}
    # Window tokens: rotating, static sticker, and the form token of the join page.
    rotating = c.queues.window_token("advice")
    found_secrets["rotating window token"] = rotating
    found_secrets["static window token"] = c.queues.static_token("pickup")
    found_secrets["form token"] = c.queues.form_token("advice")
    found_secrets["window-token key"] = await c.runner.run(c.database.meta, "window_secret")
    assert (await client.get(f"/j/advice?w={rotating}")).status_code == 200
    # A customer joins and reads the ticket (header, then cookie); a wrong secret and a forged
    # window token are refused; staff call the ticket, then the tablet is revoked.
    r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": rotating})
    assert r.status_code == 201
    ticket, secret = r.json()["ticket"], r.json()["secret"]
    found_secrets["ticket secret"] = secret
    auth = {"Authorization": f"Ticket {secret}"}
    assert (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=auth)).status_code == 200
    assert (await client.get(f"/t/{ticket['id']}")).status_code == 200  # the cookie
    wrong = {"Authorization": "Ticket " + secret[::-1]}
    assert (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=wrong)).status_code == 403
    forged = rotating.partition(".")[0] + ".forged"
    r = await client.post("/api/v1/queues/advice/tickets", json={"window_token": forged})
    assert r.status_code == 403
    assert (await client.post("/api/v1/queues/advice/call-next", headers=staff)).status_code == 200
    assert (await client.get("/staff")).status_code == 200
    assert tools.revoke_device(c.config, "tablet-1") == 1
    assert (await client.get("/api/v1/queues/advice", headers=staff)).status_code == 401
    return found_secrets


async def test_the_running_agent_logs_no_secret_even_at_debug(
    tmp_path: Path,
    auth_broker: MosquittoBroker,
    mqtt_password: str,
    write_config,
    start_agent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # aiomqtt keeps paho's packet log at WARNING; open it up too, as someone debugging would.
    caplog.set_level(logging.DEBUG, logger="mqtt")
    config = load_config(
        write_config(
            auth_broker.url,
            extra=QUEUES.format(max_waiting=200),
            username=USERNAME,
            password_file=str(agent_password_file(tmp_path, mqtt_password)),
        )
    )
    agent = await start_agent(config)
    link = agent.components.link
    assert link is not None
    await asyncio.wait_for(link.connected.wait(), 10)  # the password was right
    async with httpx.AsyncClient(base_url=agent.base_url, timeout=10) as client:
        seen = await exercise(agent, client) | {"MQTT password": mqtt_password}
    await eventually(lambda: agent.components.outbox.stats().depth == 0, message="synced")
    await agent.daemon.stop()
    records = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert any("Sending CONNECT" in r.getMessage() for r in records), "no paho DEBUG log"
    assert any("pairing code" in r.getMessage() for r in records)  # the wrong code was logged
    text = "\n".join(caplog.handler.format(r) for r in records)
    assert leaks(seen, text) == []


async def test_a_refused_mqtt_login_does_not_log_the_password(
    tmp_path: Path,
    auth_broker: MosquittoBroker,
    write_config,
    start_agent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="mqtt")
    wrong = "wrong-" + secrets.token_urlsafe(18)
    path = write_config(
        auth_broker.url,
        username=USERNAME,
        password_file=str(agent_password_file(tmp_path, wrong)),
    )
    agent = await start_agent(load_config(path))
    metrics = agent.components.metrics.registry
    await eventually(
        lambda: (metrics.get_sample_value("retail_edge_mqtt_connect_failures_total") or 0) >= 1,
        message="a refused login",
    )
    await agent.daemon.stop()
    text = "\n".join(caplog.handler.format(r) for r in caplog.records)
    assert "refused" in text and "Sending CONNECT" in text
    assert not found(wrong, text)


def bad_config(tmp_path: Path, password: str, port: int, *, valid: bool) -> Path:
    """A config with an MQTT password file. Unless ``valid``, it also has an operator's
    classic mistakes: the password pasted under a key of its own, and other bad values."""
    pass_file = agent_password_file(tmp_path, password)
    lines = [
        "[store]",
        'id = "test-01"',
        'name = "Test"',
        'timezone = "Europe/Paris"',
        "[storage]",
        f'path = "{tmp_path / "data" / "agent.db"}"',
        "[http]",
        'bind = "127.0.0.1"',
        "port = 0",
        'public_url = "http://127.0.0.1:8080"',
        "[mqtt]",
        f'url = "mqtt://127.0.0.1:{port}"',
        f'username = "{USERNAME}"',
        f'password_file = "{pass_file}"',
        "keepalive_s = 5",
        "[queues.advice]",
        'label = "Advice"',
    ]
    if not valid:
        lines.insert(lines.index("keepalive_s = 5"), f'password = "{password}"')
        lines[lines.index('timezone = "Europe/Paris"')] = 'timezone = "Mars/Olympus"'
        lines.append('window_token = "sometimes"')
    path = tmp_path / "agent.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "command",
    [["check-config", "{config}"], ["--log-level", "DEBUG", "run", "-c", "{config}"]],
    ids=["check-config", "run"],
)
def test_the_cli_does_not_echo_a_password_from_a_bad_config(
    tmp_path: Path, mqtt_password: str, command: list[str]
) -> None:
    config = bad_config(tmp_path, mqtt_password, 1, valid=False)
    args = [part.format(config=config) for part in command]
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done.stderr
    assert "mqtt.password: unknown key" in done.stderr  # the problem is named...
    assert "store.timezone" in done.stderr and "window_token" in done.stderr
    assert not found(mqtt_password, done.stdout + done.stderr)  # ...its value is not


def test_run_against_a_broker_that_refuses_the_password_does_not_print_it(
    tmp_path: Path, auth_broker: MosquittoBroker
) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(18)
    config = bad_config(tmp_path, wrong, auth_broker.port, valid=True)
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "--log-level", "DEBUG", "run", "-c", str(config)], stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 20
            while "refused the connection" not in log.read_text(errors="replace"):
                assert process.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, "no refused login in the log"
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text
    assert " DEBUG " in text and "refused the connection" in text
    assert not found(wrong, text)
