"""A real receipt printer: run on a store device with `pytest --hardware -k printer`.

    RETAIL_EDGE_PRINTER=tcp://10.0.0.7:9100 pytest --hardware -k printer
    RETAIL_EDGE_PRINTER=usb:/dev/usb/lp0 pytest --hardware -k printer

It prints one test ticket through the agent's own adapter; a person checks the paper (the
number big, the QR code scans on a phone and opens https://example.invalid/t/test). Without
RETAIL_EDGE_PRINTER it is skipped even with --hardware: no printer is assumed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.core.printing import TicketPrint
from agent.devices import ticket_printer

pytestmark = pytest.mark.hardware


async def test_a_real_printer_prints_a_test_ticket(tmp_path: Path) -> None:
    url = os.environ.get("RETAIL_EDGE_PRINTER")
    if not url:
        pytest.skip("set RETAIL_EDGE_PRINTER=tcp://HOST:9100 or usb:/dev/usb/lpN")
    config = parse_config(
        tomllib.loads(
            '[store]\nid = "t"\nname = "T"\n[storage]\npath = "a.db"\n'
            f'[http]\npublic_url = "http://x"\n[printer]\nurl = "{url}"\ntimeout_s = 10\n'
        ),
        source=tmp_path / "agent.toml",
    )
    printer = ticket_printer(config.printer)
    assert printer is not None
    await printer.print_ticket(
        TicketPrint(
            "retail-edge",
            "Test / Essai",
            42,
            "01/12 12:00",
            "https://example.invalid/t/test",
            heading="Your number",
            hint="Scan: https://example.invalid/t/test",
        )
    )
