"""`[printer]`: the counter's ticket printer (ESC/POS over the network or USB), optional."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from agent.config.reader import Table

DEFAULT_PORT = 9100  # raw printing (JetDirect), what every network receipt printer listens on


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    """Where tickets print. `host`/`port` for `tcp://`, `device` for `usb:`."""

    url: str
    host: str = ""
    port: int = DEFAULT_PORT
    device: Path | None = None
    timeout_s: float = 3.0  # one attempt: connect and send the whole ticket
    print_walk_ins: bool = True  # every walk-in prints; off: only "Print" on the tablet
    module_size: int = 6  # QR code dots per module (6 is ~25 mm for a ticket URL on 80 mm)

    @property
    def usb(self) -> bool:
        return self.device is not None


def parse_printer(root: Table) -> PrinterConfig | None:
    t = root.table("printer")
    if t is None:
        return None  # no printer: walk-ins are told by voice from the tablet, as before
    url = t.string("url")
    host, port, device = "", DEFAULT_PORT, None
    parts = urlsplit(url)
    if not t.ok("url"):
        pass
    elif parts.scheme == "tcp" and parts.hostname:
        host = parts.hostname
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            t.bad("url", f"bad port in {url!r}")
        if parts.path not in ("", "/"):
            t.bad("url", f"a tcp:// printer URL is tcp://host[:port], got {url!r}")
    elif parts.scheme == "usb":
        if parts.netloc or not parts.path.startswith("/"):
            t.bad("url", f"a USB printer is usb:/dev/usb/lpN (an absolute path), got {url!r}")
        else:
            device = Path(parts.path)
    else:
        t.bad("url", f'must be "tcp://host[:port]" or "usb:/dev/usb/lpN", got {url!r}')
    config = PrinterConfig(
        url=url,
        host=host,
        port=port,
        device=device,
        timeout_s=t.number("timeout_s", 3.0, minimum=0.2, maximum=30.0),
        print_walk_ins=t.boolean("print_walk_ins", default=True),
        module_size=t.integer("module_size", 6, minimum=1, maximum=16),
    )
    t.finish()
    return config
