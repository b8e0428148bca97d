"""Start a private 3-node NATS cluster with JetStream and an MQTT listener on every node.

Each node has its own client, route and MQTT ports on loopback and its own JetStream store
directory, so a node killed with SIGKILL comes back with what it had written, as a real node
would after a crash. This is the clustered broker of docs/central.md, on one machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from simulators.mosquitto import free_port
from simulators.nats import NatsUnavailable


@dataclass
class NatsNode:
    name: str
    client_port: int
    route_port: int
    mqtt_port: int
    monitor_port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def nats_address(self) -> str:
        return f"127.0.0.1:{self.client_port}"


class NatsCluster:
    def __init__(self, size: int = 3, workdir: Path | None = None) -> None:
        executable = shutil.which("nats-server") or (
            "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
        )
        if executable is None:
            raise NatsUnavailable("nats-server not found on PATH")
        self.executable = executable
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="retail-edge-nats-cluster-"))
        self.nodes = [self._new_node(i) for i in range(size)]

    def _new_node(self, index: int) -> NatsNode:
        name = f"n{index + 1}"
        return NatsNode(
            name, free_port(), free_port(), free_port(), free_port(), self.workdir / name
        )

    @property
    def nats_url(self) -> str:
        """Every node as a seed: `nats://a:1,b:2,c:3` (central.nats_source splits it)."""
        return "nats://" + ",".join(node.nats_address for node in self.nodes)

    def _config(self, node: NatsNode) -> Path:
        node.workdir.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats-route://127.0.0.1:{n.route_port}" for n in self.nodes)
        config = node.workdir / "nats.conf"
        config.write_text(
            f"server_name: {node.name}\n"
            f"listen: 127.0.0.1:{node.client_port}\n"
            f"http: 127.0.0.1:{node.monitor_port}\n"
            f'jetstream {{ store_dir: "{node.workdir / "js"}" }}\n'
            "cluster {\n"
            "  name: retail-edge\n"
            f"  listen: 127.0.0.1:{node.route_port}\n"
            f"  routes: [{routes}]\n"
            "}\n"
            # Deep per-client queues: a resyncing store may get many retained records at once.
            f"mqtt {{ listen: 127.0.0.1:{node.mqtt_port}, max_ack_pending: 10000 }}\n",
            encoding="utf-8",
        )
        return config

    def start(self, timeout_s: float = 20.0, attempts: int = 3) -> None:
        """Start every node and wait until each is in the cluster. A free port found by
        `free_port` can be taken by another process before the node binds it (seen with two
        test suites on one machine): then every node is stopped and the cluster tries again on
        new ports. Whatever fails, no node is left running."""
        for attempt in range(attempts):
            try:
                for node in self.nodes:
                    self.start_node(node, wait=False)
                for node in self.nodes:
                    self._wait(node, timeout_s)
            except NatsUnavailable:
                self.stop()
                if attempt + 1 == attempts or not self._lost_a_port():
                    raise
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.nodes = [self._new_node(i) for i in range(len(self.nodes))]
            else:
                return

    def _lost_a_port(self) -> bool:
        for node in self.nodes:
            log = node.workdir / "nats.log"
            if log.exists() and "address already in use" in log.read_text(errors="replace"):
                return True
        return False

    def start_node(self, node: NatsNode, *, wait: bool = True, timeout_s: float = 60.0) -> None:
        """Start (or restart) one node; with ``wait``, until its JetStream server is up and
        in the cluster's meta group (`/healthz?js-server-only=true`). A node restarted after
        SIGKILL then catches up on the streams by itself: the full /healthz waits for that
        too, which took over 20 s in a CI run and over 60 s on a loaded machine, and nothing
        a client does needs it (clients of that node are served meanwhile)."""
        config = self._config(node)
        with (node.workdir / "nats.log").open("ab") as log:
            node.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
                [self.executable, "-c", str(config)],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        if wait:
            self._wait(node, timeout_s, query="?js-server-only=true")

    def _wait(self, node: NatsNode, timeout_s: float, query: str = "") -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if node.process is None or node.process.poll() is not None:
                raise NatsUnavailable(f"nats-server {node.name} exited")
            # /healthz answers 200 once this node's JetStream is up and in the cluster (with a
            # meta leader); before that a stream cannot be created.
            try:
                url = f"http://127.0.0.1:{node.monitor_port}/healthz{query}"
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except urllib.error.HTTPError as exc:  # 503 with the reason in its body
                last = exc.read(300).decode(errors="replace")
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise NatsUnavailable(
            f"nats-server {node.name} not healthy in {timeout_s} s (last /healthz{query}: {last})"
        )

    def kill_node(self, node: NatsNode) -> None:
        """SIGKILL: no goodbye to the cluster, nothing flushed."""
        if node.process is not None and node.process.poll() is None:
            os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(timeout=10)
        node.process = None

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
                node.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
