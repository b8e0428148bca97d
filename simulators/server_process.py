"""What the private brokers the tests start (mosquitto, nats-server) share: waiting for a child
server to listen, and stopping it the way its persistence expects."""

from __future__ import annotations

import socket
import subprocess
import time


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> str | None:
    """None once 127.0.0.1:`port` accepts a connection; otherwise why not, for the error:
    `exited with N` (the process is gone) or `did not listen on port P` (it still runs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return None
        except OSError:
            time.sleep(0.05)
    return f"did not listen on port {port}"


def terminate(process: subprocess.Popen[bytes] | None, grace_s: float) -> None:
    """SIGTERM (a broker saves its state then), SIGKILL after `grace_s`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
