"""ESC/POS receipt printers: over the network (raw TCP, port 9100) or a USB printer class
device (`/dev/usb/lp0`, the kernel's usblp driver).

Both take the bytes from agent.core.printing and give the printer one attempt within a
deadline: a printer that is off, out of paper behind a full buffer, or unplugged costs at
most ``timeout_s`` and an OSError, never a hung walk-in (the service prints in its own task).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from agent.core.printing import TicketPrint, encode_ticket


class NetworkEscPos:
    """A printer on the LAN speaking raw ESC/POS on a TCP port (JetDirect style, 9100)."""

    def __init__(self, host: str, port: int, *, timeout_s: float, module_size: int = 6) -> None:
        self.name = f"tcp://{host}:{port}"
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._module_size = module_size

    async def print_ticket(self, ticket: TicketPrint) -> None:
        data = encode_ticket(ticket, module_size=self._module_size)
        async with asyncio.timeout(self._timeout_s):
            _, writer = await asyncio.open_connection(self._host, self._port)
            try:
                writer.write(data)
                # drain() returns once the kernel took the bytes; closing then waits for the
                # FIN to go out, so a printer that accepted the connection got the job.
                await writer.drain()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


class UsbEscPos:
    """A USB printer the kernel exposes as a character device (usblp: `/dev/usb/lp0`).

    The write is blocking, so it runs in a worker thread; a printer that stops taking bytes
    leaves that thread blocked in the kernel until the device goes away, but the ticket's
    deadline still ends the attempt for the agent. Opened non-blocking so a missing or busy
    device fails at once instead of waiting."""

    def __init__(self, path: Path, *, timeout_s: float, module_size: int = 6) -> None:
        self.name = f"usb:{path}"
        self._path = path
        self._timeout_s = timeout_s
        self._module_size = module_size

    async def print_ticket(self, ticket: TicketPrint) -> None:
        data = encode_ticket(ticket, module_size=self._module_size)
        async with asyncio.timeout(self._timeout_s):
            await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        descriptor = os.open(self._path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            os.set_blocking(descriptor, True)
            view = memoryview(data)
            while view:
                written = os.write(descriptor, view)
                view = view[written:]
        finally:
            os.close(descriptor)
