"""A mosquitto that asks what a store's broker asks: TLS (the test CA), a client certificate
and a username with a password. Doctor and device-adapter tests log in to it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from simulators.mosquitto import MosquittoBroker
from tests.tls import Pki, make_pki

USERNAME = "door-scanners"
PASSWORD = "s3cret-door"


@dataclass(frozen=True)
class SecureBroker:
    broker: MosquittoBroker
    pki: Pki
    password_file: Path  # holds PASSWORD, as an agent's password_file does
    wrong_password_file: Path

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.broker.port}"


def start_secure_broker(directory: Path) -> SecureBroker:
    pki = make_pki(directory / "pki")
    hashed = directory / "mosquitto.passwd"
    hashed.touch(mode=0o600)
    subprocess.run(
        ["mosquitto_passwd", "-b", str(hashed), USERNAME, PASSWORD],
        check=True,
        capture_output=True,
    )
    password_file = directory / "mqtt.pass"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    wrong = directory / "wrong.pass"
    wrong.write_text("not-the-password\n", encoding="utf-8")
    workdir = directory / "mosquitto-secure"
    workdir.mkdir()
    broker = MosquittoBroker(
        workdir=workdir,
        persistence=False,
        extra_config="\n".join(
            [
                f"cafile {pki.ca_cert}",
                f"certfile {pki.server_cert}",
                f"keyfile {pki.server_key}",
                "require_certificate true",
                f"password_file {hashed}",
                # The base config allows anonymous clients; the last setting wins.
                "allow_anonymous false",
            ]
        ),
    )
    broker.start()
    return SecureBroker(broker, pki, password_file, wrong)
