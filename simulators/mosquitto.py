"""Start a private mosquitto broker on a free loopback port (demo and tests).

Tests need a broker they own so they can stop, kill and restart it; the demo needs one when
no `--mqtt-url` is given. Both use this class.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from simulators.server_process import terminate, wait_listening


class MosquittoUnavailable(RuntimeError):
    """No `mosquitto` executable on PATH (or it would not start)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MosquittoBroker:
    def __init__(
        self,
        port: int | None = None,
        *,
        persistence: bool = True,
        workdir: Path | None = None,
        extra_config: str = "",
    ) -> None:
        executable = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if executable is None:
            raise MosquittoUnavailable("mosquitto not found on PATH")
        self.executable = executable
        self.port = port or free_port()
        self.persistence = persistence
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="retail-edge-mosquitto-"))
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        # set_tcp_nodelay: mosquitto leaves Nagle's algorithm on by default, which holds a
        # small message to a client for ~40 ms behind a delayed ACK (see docs/operations.md).
        lines = [
            "set_tcp_nodelay true",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # a private broker; no need to drop to `mosquitto`
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/"]
        else:
            lines.append("persistence false")
        lines.append("log_dest stderr")
        lines.append("log_type error")
        lines.append("log_type warning")
        if self.extra_config:
            lines.append(self.extra_config)
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def start(self, timeout_s: float = 10.0) -> None:
        config = self._write_config()
        log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [self.executable, "-c", str(config)],
            stdout=log,
            stderr=log,
            # Its own session: Ctrl+C in the terminal must reach the agent, which then says
            # `offline` through this broker before stopping it.
            start_new_session=True,
        )
        log.close()
        problem = wait_listening(self.process, self.port, timeout_s)
        if problem is None:
            return
        if self.process.poll() is not None:
            raise MosquittoUnavailable(f"mosquitto {problem}: {self.log_tail()}")
        self.stop()
        raise MosquittoUnavailable(f"mosquitto {problem}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): mosquitto saves its persistence file."""
        terminate(self.process, grace_s=5)
        self.process = None

    def kill(self) -> None:
        """Abrupt stop (SIGKILL): whatever was not yet saved is lost, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 5) -> str:
        path = self.workdir / "mosquitto.log"
        if not path.exists():
            return ""
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
