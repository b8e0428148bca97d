"""Run the atheris targets: a few seconds each in CI (so the harness never rots), a minute
each in the long form (`pytest --long`). A finding makes libFuzzer exit non-zero with the
crashing input, which the assertion message shows."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.core.eddystone import eid_service_data
from tests.fuzz.targets import NAMES

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None, reason="atheris is not installed here"
)

SEEDS: dict[str, list[bytes]] = {
    "bttomqtt": [
        json.dumps(
            {
                "id": "AA:BB:CC:DD:EE:FF",
                "rssi": -60,
                "servicedatauuid": "0xfeaa",
                "servicedata": eid_service_data(-20, bytes(8)).hex(),
            }
        ).encode()
    ],
    "eid_frame": [eid_service_data(-20, bytes(range(8)))],
    "customer": [
        (
            b'{"customer_id":"c-00001","version":3,"consent":{"recognition":true,'
            b'"staff_profile":false},"credentials":{"nfc_uids":["04A1B2C3"]}}'
        ),
        b'{"op":"erase","customer_id":"c-00001","version":4}',
    ],
    "checkin": [b'{"customer_id":"c-00001","at":"2026-01-05T09:00:00Z"}'],
    "resend": [b'{"from_seq":1,"to_seq":10}'],
    "qr_payload": [b"RE-T1.abc.def", b"RTL1.c-00001.1800000000." + b"A" * 86],
    # Topic selector byte first (0: customers, 1: checkins, 2: resend), then the payload.
    "inbound": [
        b"\x00\x00\x00\x01" + b'{"op":"erase","customer_id":"c-00001","version":4}',
        b"\x01\x00\x00\x01" + b'{"customer_id":"c-00001","at":"2026-01-05T09:00:00Z"}',
        b"\x02\x00\x00\x01" + b'{"from_seq":1,"to_seq":10}',
    ],
    "mqtt_wire": [
        b'\x05\x30\x0c\x00\x04home{}{}\x30\x09\x00\x01t{"a":1}\xd0\x00\x20\x02\x00\x00',
    ],
    "appointments": [
        (
            b'{"day":"2026-12-01","version":3,"appointments":[{"id":"a-1","queue":"advice",'
            b'"at":"2026-12-01T14:30:00+01:00","name":"Camille","party_size":2,'
            b'"customer_id":"c-1","checkin_code":"abcdefghijklmnop","status":"booked"}]}'
        )
    ],
}


def fuzz(name: str, seconds: int, corpus: Path) -> subprocess.CompletedProcess[str]:
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(SEEDS.get(name, [])):
        (corpus / f"seed-{index}").write_bytes(seed)
    return subprocess.run(
        [
            sys.executable, "-m", "tests.fuzz.targets", name, str(corpus),
            f"-max_total_time={seconds}", "-rss_limit_mb=1024", "-print_final_stats=1",
            f"-artifact_prefix={corpus.parent}/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_short_fuzz(name: str, tmp_path: Path) -> None:
    result = fuzz(name, 2, tmp_path / name)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("name", NAMES)
def test_long_fuzz(name: str, tmp_path: Path) -> None:
    result = fuzz(name, 60, tmp_path / name)
    assert result.returncode == 0, result.stderr[-4000:]
    runs = [line for line in result.stderr.splitlines() if "stat::number_of_executed_units" in line]
    print(f"{name}: {runs[-1] if runs else result.stderr.splitlines()[-1]}")
