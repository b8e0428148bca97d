"""`retail-edge doctor`: real brokers (right and wrong login, TLS with the test CA), a data
directory on a read-only and on a full file system, a camera that delivers frames (a video
file) and one that does not, and what this machine lacks (a Bluetooth adapter, nfcpy)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.doctor import Check, Outcome, run_doctor
from simulators.mosquitto import MosquittoBroker, free_port
from tests.secure_broker import USERNAME, SecureBroker, start_secure_broker


def config_file(directory: Path, body: str, data: Path | None = None) -> Path:
    if data is None:
        (directory / "data").mkdir(exist_ok=True)
    path = directory / "agent.toml"
    path.write_text(
        '[store]\nid = "doc-01"\nname = "Doctor"\n'
        f'[storage]\npath = "{(data or directory / "data") / "agent.db"}"\n'
        '[http]\npublic_url = "http://127.0.0.1:8080"\n' + body,
        encoding="utf-8",
    )
    return path


def by_name(results: list[Check], name: str) -> Check:
    found = [check for check in results if check.name == name]
    assert len(found) == 1, [check.line() for check in results]
    return found[0]


def secure_mqtt(secure: SecureBroker, password_file: Path, ca: Path) -> str:
    return (
        f'[mqtt]\nurl = "{secure.url}"\nusername = "{USERNAME}"\n'
        f'password_file = "{password_file}"\nca_file = "{ca}"\n'
        f'client_cert = "{secure.pki.client_cert}"\nclient_key = "{secure.pki.client_key}"\n'
    )


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureBroker]:
    broker = start_secure_broker(tmp_path / "secure")
    yield broker
    broker.broker.close()


async def test_broker_login_and_tls_right_and_wrong(
    tmp_path: Path, secure: SecureBroker, broker: MosquittoBroker
) -> None:
    skip = ("storage", "clock")
    good = config_file(tmp_path, secure_mqtt(secure, secure.password_file, secure.pki.ca_cert))
    check = by_name(await run_doctor(good, skip=skip), "broker")
    assert check.outcome is Outcome.OK, check.line()
    assert f"{secure.url} as {USERNAME!r}: connected, TLS verified" in check.detail

    wrong_password = secure_mqtt(secure, secure.wrong_password_file, secure.pki.ca_cert)
    check = by_name(await run_doctor(config_file(tmp_path, wrong_password), skip=skip), "broker")
    assert check.outcome is Outcome.FAIL
    assert "refused the login" in check.detail and "password_file in [mqtt]" in check.fix

    wrong_ca = secure_mqtt(secure, secure.password_file, secure.pki.other_ca_cert)
    check = by_name(await run_doctor(config_file(tmp_path, wrong_ca), skip=skip), "broker")
    assert check.outcome is Outcome.FAIL
    assert f"not trusted by {secure.pki.other_ca_cert}" in check.detail
    assert "ca_file in [mqtt]" in check.fix

    # A door counter on another (plain, anonymous) broker is checked as well, by its entry.
    plain = secure_mqtt(secure, secure.password_file, secure.pki.ca_cert) + (
        f'[[devices]]\nkind = "footfall"\nadapter = "mqtt"\nurl = "{broker.url}"\n'
        f'[[devices]]\nkind = "ble"\nadapter = "mqtt-proxy"\nurl = "mqtt://127.0.0.1:{free_port()}"\n'
    )
    results = await run_doctor(config_file(tmp_path, plain), skip=skip)
    assert by_name(results, "broker devices[0]").outcome is Outcome.OK
    unreachable = by_name(results, "broker devices[1]")
    assert unreachable.outcome is Outcome.FAIL and "cannot reach it" in unreachable.detail


def _mount_tmpfs(target: Path, *options: str) -> None:
    target.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(("size=1m", *options)), "tmpfs", str(target)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")


@pytest.fixture
def small_mounts(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "mounts"
    yield root
    for target in (root / "ro", root / "full"):
        subprocess.run(["umount", str(target)], capture_output=True, check=False)


async def test_a_read_only_or_full_data_directory_fails(tmp_path: Path, small_mounts: Path) -> None:
    _mount_tmpfs(small_mounts / "ro", "ro")
    _mount_tmpfs(small_mounts / "full")
    filler = small_mounts / "full" / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass  # ENOSPC: the file system is full
    read_only = config_file(tmp_path, "", data=small_mounts / "ro")
    check = by_name(await run_doctor(read_only, skip=("broker", "clock")), "storage")
    assert check.outcome is Outcome.FAIL and "read-only file system" in check.detail
    assert "[storage] path" in check.fix
    full = config_file(tmp_path, "", data=small_mounts / "full")
    check = by_name(await run_doctor(full, skip=("broker", "clock")), "storage")
    assert check.outcome is Outcome.FAIL and "no space left" in check.detail
    filler.unlink()  # 1 MiB free now: writable, but below what the outbox may need
    check = by_name(await run_doctor(full, skip=("broker", "clock")), "storage")
    assert check.outcome is Outcome.FAIL and "MiB free (at least 100 MiB" in check.detail
    writable = config_file(tmp_path, "")
    check = by_name(await run_doctor(writable, skip=("broker", "clock")), "storage")
    assert check.outcome is Outcome.OK and "writable" in check.detail
    # Not made yet (before the first start): a warning, and the doctor does not make it.
    later = config_file(tmp_path, "", data=tmp_path / "not" / "yet")
    check = by_name(await run_doctor(later, skip=("broker", "clock")), "storage")
    assert check.outcome is Outcome.WARN and "not there yet" in check.detail
    assert not (tmp_path / "not").exists()


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    for n in range(10):
        writer.write(np.full((240, 320, 3), n * 20, dtype=np.uint8))
    writer.release()
    return path


async def test_devices_this_machine_has_and_lacks(tmp_path: Path) -> None:
    devices = (
        '[[devices]]\nkind = "ble"\nadapter = "bleak"\n'
        f'[[devices]]\nkind = "qr-camera"\nadapter = "opencv"\nsource = "{_video(tmp_path / "cam.avi")}"\n'
        '[[devices]]\nkind = "qr-camera"\nadapter = "opencv"\nsource = "/dev/video97"\n'
        '[[devices]]\nkind = "nfc"\nadapter = "nfcpy"\n'
    )
    results = await run_doctor(config_file(tmp_path, devices), skip=("storage", "clock"))
    ble = by_name(results, "ble")
    if Path("/sys/class/bluetooth").is_dir() and any(Path("/sys/class/bluetooth").iterdir()):
        pytest.skip("this machine has a Bluetooth adapter")
    assert ble.outcome is Outcome.FAIL
    assert ble.detail == "devices[0]: no Bluetooth adapter (/sys/class/bluetooth lists no hciN)"
    cameras = [check for check in results if check.name == "camera"]
    assert cameras[0].outcome is Outcome.OK and "5 frames 320x240" in cameras[0].detail
    assert cameras[1].outcome is Outcome.FAIL and "/dev/video97" in cameras[1].detail
    nfc = by_name(results, "nfc")
    try:
        import nfc as _nfc  # noqa: F401
    except ImportError:
        assert nfc.outcome is Outcome.FAIL and "nfcpy is not installed" in nfc.detail
    else:
        assert nfc.outcome is Outcome.FAIL and "no reader at 'usb'" in nfc.detail


async def test_an_adapter_listed_but_no_bluez_fails_naming_it(tmp_path: Path) -> None:
    from agent.config.loader import load_config
    from agent.doctor.hardware import ble_checks

    sysfs = tmp_path / "sys-bluetooth"
    (sysfs / "hci0").mkdir(parents=True)
    config = load_config(config_file(tmp_path, '[[devices]]\nkind = "ble"\nadapter = "bleak"\n'))
    (check,) = await ble_checks(config, sysfs)
    if check.outcome is Outcome.OK:
        pytest.skip("this machine's BlueZ answers for hci0")
    assert check.outcome is Outcome.FAIL and "hci0 is present but" in check.detail


def test_the_command_prints_one_line_per_check_and_fails_on_any_failure(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    def doctor(config: Path, *skip: str) -> subprocess.CompletedProcess[str]:
        extra = [arg for name in skip for arg in ("--skip", name)]
        return subprocess.run(
            [sys.executable, "-m", "agent", "doctor", "-c", str(config), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    healthy = config_file(tmp_path, f'[mqtt]\nurl = "{broker.url}"\n')
    done = doctor(healthy, "clock")  # this machine's clock may well not be synchronised
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["ok", "config"],
        ["ok", "storage"],
        ["ok", "broker"],
    ]
    assert lines[-1] == "all checks passed"
    broken = config_file(tmp_path, f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\n')
    done = doctor(broken, "clock")
    assert done.returncode == 1
    assert "FAIL  broker" in done.stdout and "-> fix: check the url in [mqtt]" in done.stdout
    assert done.stdout.splitlines()[-1] == "1 of 3 checks failed"
    bad = config_file(tmp_path, "[mqtt]\nurl = 'http://x'\n")
    done = doctor(bad)
    assert done.returncode == 1
    assert (
        done.stdout.startswith("FAIL  config    ")
        and "agent.toml: mqtt.url: must be mqtt://" in done.stdout
    )


def test_the_clock_line_says_what_the_kernel_says(tmp_path: Path) -> None:
    import ctypes

    from agent.doctor.system import TIME_ERROR, clock_check

    check = clock_check()
    if "(timedatectl)" in check.detail:
        pytest.skip("timedatectl answered; the kernel fallback is not used here")
    state = ctypes.CDLL(None).adjtimex(ctypes.create_string_buffer(512))
    assert (check.outcome is Outcome.FAIL) == (state == TIME_ERROR), check.line()


def test_break_beam_pins_open_or_the_missing_chip_is_named(tmp_path: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from agent.config.loader import load_config
    from agent.doctor.hardware import gpio_checks

    beams = (
        '[[devices]]\nkind = "footfall"\nadapter = "gpio"\ndoor = "main"\n'
        'outer_pin = "GPIO17"\ninner_pin = "GPIO27"\n'
    )
    config = load_config(config_file(tmp_path, beams))
    no_chip = tmp_path / "dev"
    no_chip.mkdir()
    (check,) = gpio_checks(config, dev=no_chip)
    assert check.outcome is Outcome.FAIL and "no GPIO chip" in check.detail
    # gpiozero's own mock pins stand in for the header: both pins open as the adapter opens
    # them (pull-up: a clear beam reads high) and are released again.
    factory = MockFactory()
    (check,) = gpio_checks(config, pin_factory=factory)
    assert check.outcome is Outcome.OK, check.line()
    assert check.detail == "devices[0]: beams open: GPIO17 clear, GPIO27 clear"
    (again,) = gpio_checks(config, pin_factory=factory)  # released: they open a second time
    assert again.outcome is Outcome.OK, again.line()
    factory.reset()
    bad = load_config(config_file(tmp_path, beams.replace("GPIO27", "GPIO99")))
    (check,) = gpio_checks(bad, pin_factory=MockFactory())
    assert check.outcome is Outcome.FAIL and "cannot open GPIO17 and GPIO99" in check.detail
