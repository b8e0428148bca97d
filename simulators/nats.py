"""Start a private NATS server with its MQTT listener (a second, MQTT 3.1.1-only broker).

NATS speaks MQTT 3.1.1 only, and refuses an MQTT 5 CONNECT properly: the agent's fallback to
3.1.1 is exercised against it, and the sync suite runs against a broker that is not mosquitto.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from simulators.mosquitto import free_port
from simulators.server_process import terminate, wait_listening


class NatsUnavailable(RuntimeError):
    """No `nats-server` executable (Debian package `nats-server`)."""


class NatsMqttBroker:
    def __init__(
        self, workdir: Path | None = None, *, tls: tuple[Path, Path] | None = None
    ) -> None:
        """`tls`: (certificate, key) files for the NATS client port (`tls://`); the MQTT
        listener stays plain."""
        executable = shutil.which("nats-server") or (
            "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
        )
        if executable is None:
            raise NatsUnavailable("nats-server not found on PATH")
        self.executable = executable
        self.port = free_port()
        self.client_port = free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="retail-edge-nats-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.tls = tls

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def nats_url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.client_port}"

    def start(self, timeout_s: float = 15.0) -> None:
        config = self.workdir / "nats.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.client_port}\n"
            "server_name: retail-edge-test\n"
            f'jetstream {{ store_dir: "{self.workdir / "js"}" }}\n'
            f"mqtt {{ listen: 127.0.0.1:{self.port} }}\n"
            + (
                f'tls {{ cert_file: "{self.tls[0]}", key_file: "{self.tls[1]}" }}\n'
                if self.tls
                else ""
            ),
            encoding="utf-8",
        )
        with (self.workdir / "nats.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary path
                [self.executable, "-c", str(config)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        problem = wait_listening(self.process, self.port, timeout_s)
        if problem is None:
            return
        if self.process.poll() is None:
            self.stop()
        raise NatsUnavailable(f"nats-server {problem}")

    def stop(self) -> None:
        terminate(self.process, grace_s=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
