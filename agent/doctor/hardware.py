"""The doctor's checks of the store's devices: the Bluetooth radio, cameras, NFC readers.

Each configured device is opened the way its adapter opens it, briefly; a simulated device is
a warning (fine for a demo, not for a store). Run the doctor with the agent stopped: a camera
or reader the agent holds cannot be opened twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from agent.config.model import (
    AgentConfig,
    BleBleakDevice,
    FootfallGpioDevice,
    NfcDevice,
    QrCameraDevice,
    SimulatedBleDevice,
    SimulatedNfcDevice,
    SimulatedQrCameraDevice,
)
from agent.doctor.report import Check, Outcome

SYS_BLUETOOTH = Path("/sys/class/bluetooth")
DEV = Path("/dev")
CAMERA_FRAMES = 5  # read in a row: one frame can be a stale buffer from the driver
CAMERA_TIMEOUT_S = 10.0
DBUS_TIMEOUT_S = 5.0


def _simulated(name: str, device_key: str) -> Check:
    return Check(
        name,
        Outcome.WARN,
        f"{device_key} is simulated: no real {name} is read",
        "fine for a demo; in a store set the entry's adapter to the real one",
    )


async def ble_checks(config: AgentConfig, sys_bluetooth: Path = SYS_BLUETOOTH) -> list[Check]:
    results: list[Check] = []
    for device in config.devices:
        if isinstance(device, SimulatedBleDevice):
            results.append(_simulated("ble", f"devices[{device.index}]"))
        elif isinstance(device, BleBleakDevice):
            results.append(await _bleak_adapter(f"devices[{device.index}]", sys_bluetooth))
    return results


async def _bleak_adapter(key: str, sys_bluetooth: Path) -> Check:
    """bleak scans with BlueZ's first adapter (hci0): the kernel must list it, and bluetoothd
    must report it powered."""
    names = _listed_adapters(sys_bluetooth)
    if not names:
        return Check(
            "ble",
            Outcome.FAIL,
            f"{key}: no Bluetooth adapter ({sys_bluetooth} lists no hciN)",
            "plug in a USB Bluetooth adapter or enable the built-in one (Raspberry Pi: remove "
            "dtoverlay=disable-bt; `rfkill unblock bluetooth`), or use the mqtt-proxy adapter",
        )
    adapter = names[0]
    try:
        powered = await asyncio.wait_for(_bluez_powered(adapter), DBUS_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - D-Bus fails in many ways; each is this line
        return Check(
            "ble",
            Outcome.FAIL,
            f"{key}: {adapter} is present but BlueZ did not answer over D-Bus ({exc})",
            "install and start BlueZ: `apt install bluez && systemctl enable --now bluetooth`",
        )
    if not powered:
        return Check(
            "ble",
            Outcome.FAIL,
            f"{key}: {adapter} is present but powered off",
            "`rfkill unblock bluetooth; bluetoothctl power on` (and AutoEnable=true in "
            "/etc/bluetooth/main.conf so it stays on after a reboot)",
        )
    return Check("ble", Outcome.OK, f"{key}: {adapter} present and powered (BlueZ)")


def _listed_adapters(sys_bluetooth: Path) -> list[str]:
    # sysfs answers from memory: no need for a thread.
    return sorted(p.name for p in sys_bluetooth.glob("hci*")) if sys_bluetooth.is_dir() else []


async def _bluez_powered(adapter: str) -> bool:
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path=f"/org/bluez/{adapter}",
                interface="org.freedesktop.DBus.Properties",
                member="Get",
                signature="ss",
                body=["org.bluez.Adapter1", "Powered"],
            )
        )
    finally:
        bus.disconnect()
    if reply is None or reply.message_type == MessageType.ERROR:
        error = reply.error_name if reply is not None else "no reply"
        raise ValueError(f"org.bluez: {error}")
    return bool(reply.body[0].value)


async def camera_checks(config: AgentConfig) -> list[Check]:
    results: list[Check] = []
    for device in config.devices:
        if isinstance(device, SimulatedQrCameraDevice):
            results.append(_simulated("camera", f"devices[{device.index}]"))
        elif isinstance(device, QrCameraDevice):
            key = f"devices[{device.index}]"
            try:
                found = await asyncio.wait_for(
                    asyncio.to_thread(_read_frames, device.source), CAMERA_TIMEOUT_S
                )
            except TimeoutError:
                found = f"no frame within {CAMERA_TIMEOUT_S:.0f} s"
            if isinstance(found, str):
                results.append(
                    Check(
                        "camera",
                        Outcome.FAIL,
                        f"{key}: source {device.source!r}: {found}",
                        "check the cable and `v4l2-ctl --list-devices`; the service user needs "
                        "the video group; stop the agent first (it holds the camera); a Pi "
                        "camera module needs a V4L2 source (docs/raspberry-pi.md)",
                    )
                )
            else:
                frames, width, height, seconds = found
                results.append(
                    Check(
                        "camera",
                        Outcome.OK,
                        f"{key}: source {device.source!r}: {frames} frames {width}x{height} "
                        f"in {seconds:.2f} s",
                    )
                )
    return results


def _read_frames(source: str) -> tuple[int, int, int, float] | str:
    """Open the source as the camera adapter does and read a few frames: (count, width,
    height, seconds), or why not."""
    from agent.adapters.qr_opencv import OpenCvFrames

    started = time.monotonic()
    try:
        frames = OpenCvFrames(source)
    except Exception as exc:  # noqa: BLE001 - OSError, or cv2.error from a backend
        return str(exc)
    try:
        shape: tuple[int, ...] = ()
        for n in range(CAMERA_FRAMES):
            frame = frames.read()
            if frame is None:
                return f"opened, but delivered {n} of {CAMERA_FRAMES} frames"
            shape = frame.shape
    except Exception as exc:  # noqa: BLE001 - cv2.error while reading
        return f"opened, but reading failed: {exc}"
    finally:
        frames.close()
    return CAMERA_FRAMES, shape[1], shape[0], time.monotonic() - started


def nfc_checks(config: AgentConfig) -> list[Check]:
    results: list[Check] = []
    for device in config.devices:
        if isinstance(device, SimulatedNfcDevice):
            results.append(_simulated("nfc", f"devices[{device.index}]"))
        elif isinstance(device, NfcDevice):
            results.append(_nfc_reader(f"devices[{device.index}]", device.path))
    return results


def _nfc_reader(key: str, path: str) -> Check:
    try:
        import nfc
    except ImportError:
        return Check(
            "nfc",
            Outcome.FAIL,
            f"{key}: nfcpy is not installed, so no reader can be opened",
            "install the nfc extra into the agent's venv: "
            "`/opt/retail-edge/venv/bin/pip install 'retail-edge[nfc]'`",
        )
    try:
        frontend = nfc.ContactlessFrontend(path)
    except Exception as exc:  # noqa: BLE001 - nfcpy raises IOError, ValueError, usb errors
        return Check(
            "nfc",
            Outcome.FAIL,
            f"{key}: no reader at {path!r} ({exc})",
            "plug the reader in; the service user needs access (plugdev group); unload the "
            "kernel's pn533 driver (`modprobe -r pn533_usb`), which holds USB readers",
        )
    try:
        return Check("nfc", Outcome.OK, f"{key}: reader at {path!r}: {frontend}")
    finally:
        frontend.close()


def gpio_checks(config: AgentConfig, pin_factory: Any = None, dev: Path = DEV) -> list[Check]:
    """Each break-beam pair's two pins open as the adapter opens them (gpiozero, pull-up);
    ``pin_factory`` is gpiozero's (None: the one GPIOZERO_PIN_FACTORY names, as the agent)."""
    results: list[Check] = []
    for device in config.devices:
        if isinstance(device, FootfallGpioDevice):
            key = f"devices[{device.index}]"
            pins = (device.outer_pin, device.inner_pin)
            results.append(_beam_pins(key, pins, pin_factory, dev))
    return results


def _beam_pins(key: str, pins: tuple[str, str], pin_factory: Any, dev: Path) -> Check:
    if pin_factory is None and not any(dev.glob("gpiochip*")):
        return Check(
            "gpio",
            Outcome.FAIL,
            f"{key}: no GPIO chip ({dev}/gpiochip* absent): this machine has no GPIO header",
            'run on a Raspberry Pi, or count the door with an ESPHome node (adapter = "mqtt")',
        )
    opened: list[Any] = []
    try:
        from gpiozero import DigitalInputDevice

        for pin in pins:  # one at a time: a second pin that fails must not leak the first
            opened.append(DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory))  # noqa: PERF401
        states = ", ".join(
            f"{pin} {'broken' if d.value else 'clear'}" for pin, d in zip(pins, opened, strict=True)
        )
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds; each is this line
        return Check(
            "gpio",
            Outcome.FAIL,
            f"{key}: cannot open {pins[0]} and {pins[1]}: {type(exc).__name__}: {exc}",
            "pin names as gpiozero spells them (GPIO17); GPIOZERO_PIN_FACTORY=lgpio and the "
            "gpio extra installed (deploy/install.sh does both); the service user in the gpio "
            "group",
        )
    finally:
        for device in opened:
            device.close()
    return Check("gpio", Outcome.OK, f"{key}: beams open: {states}")
