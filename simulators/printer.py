"""A network receipt printer on a TCP port, as the agent's ESC/POS adapter finds one.

It listens where a real printer would (raw port 9100 style), takes each connection's bytes
as one job, and reads them back the way the printer's firmware would: text lines with their
size, emphasis and alignment, the QR code stored and printed with `GS ( k`, feeds and cuts.
A byte it does not understand is kept in ``unknown`` (a real printer would print garbage or
ignore it; a test wants to know). ``render_png`` draws a job as the paper would look, QR
modules included, so a test can decode the code from the picture with zxing-cpp.

This parser is written from the ESC/POS command reference, independently of the agent's
encoder (agent/core/printing.py), so a wrong byte there shows up here.

``silent()`` is a printer that is switched on at the socket but never answers: its listen
queue is full, so a connection attempt hangs until the client's own deadline, as with a
printer that is off behind a switch that still routes to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ESC, GS, LF = 0x1B, 0x1D, 0x0A
_CODE_PAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 19: "cp858"}
_ERROR_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H"}
PAPER_DOTS = 576  # 80 mm paper at 203 dpi
_FONT_DOTS = 24  # Font A: 12 x 24 dots


@dataclass(frozen=True, slots=True)
class PrintedLine:
    text: str
    width: int = 1  # character magnification (GS !)
    height: int = 1
    bold: bool = False
    align: str = "left"


@dataclass(frozen=True, slots=True)
class PrintedQr:
    payload: str
    module_size: int
    error_level: str
    model: int


@dataclass
class PrintJob:
    """One connection's worth of paper, top to bottom."""

    items: list[PrintedLine | PrintedQr] = field(default_factory=list)
    cut: bool = False
    initialised: bool = False
    unknown: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, PrintedLine) and item.text]

    @property
    def qr_codes(self) -> list[PrintedQr]:
        return [item for item in self.items if isinstance(item, PrintedQr)]

    def line_with(self, text: str) -> PrintedLine:
        return next(i for i in self.items if isinstance(i, PrintedLine) and i.text == text)


@dataclass
class _QrState:
    """What `GS ( k` has set so far: model, module size, error level, stored data."""

    model: int = 2
    size: int = 3
    level: str = "L"
    data: bytes = b""


class _Reader:
    """Reads one job's bytes, command by command."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.job = PrintJob()
        self.codec = "cp437"  # the power-on code page
        self.width = self.height = 1
        self.bold = False
        self.align = "left"
        self.text = bytearray()
        self.qr = _QrState()

    def take(self, count: int) -> bytes:
        chunk = self.data[self.at : self.at + count]
        if len(chunk) < count:
            raise EOFError("a command is cut short")
        self.at += count
        return chunk

    def end_line(self) -> None:
        self.job.items.append(
            PrintedLine(
                self.text.decode(self.codec, errors="replace"),
                self.width,
                self.height,
                self.bold,
                self.align,
            )
        )
        self.text.clear()

    def parse(self) -> PrintJob:
        try:
            while self.at < len(self.data):
                byte = self.take(1)[0]
                if byte == LF:
                    self.end_line()
                elif byte == ESC:
                    self._esc(self.take(1)[0])
                elif byte == GS:
                    self._gs(self.take(1)[0])
                elif byte >= 0x20:
                    self.text.append(byte)
                else:
                    self.job.unknown.append(f"control 0x{byte:02x}")
        except EOFError as exc:
            self.job.unknown.append(str(exc))
        if self.text:
            self.end_line()
        return self.job

    def _esc(self, command: int) -> None:
        if command == ord("@"):
            self.job.initialised = True
            self.width = self.height = 1
            self.bold, self.align = False, "left"
        elif command == ord("a"):
            self.align = {0: "left", 1: "centre", 2: "right", 48: "left", 49: "centre"}.get(
                self.take(1)[0], "left"
            )
        elif command == ord("E"):
            self.bold = bool(self.take(1)[0] & 1)
        elif command == ord("t"):
            page = self.take(1)[0]
            self.codec = _CODE_PAGES.get(page, self.codec)
            if page not in _CODE_PAGES:
                self.job.unknown.append(f"code page {page}")
        elif command == ord("d"):
            for _ in range(self.take(1)[0]):
                self.job.items.append(PrintedLine(""))
        else:
            self.job.unknown.append(f"ESC 0x{command:02x}")

    def _gs(self, command: int) -> None:
        if command == ord("!"):
            size = self.take(1)[0]
            self.width, self.height = (size >> 4) + 1, (size & 0x0F) + 1
        elif command == ord("V"):
            mode = self.take(1)[0]
            if mode in (65, 66):
                self.take(1)  # feed before the cut
            self.job.cut = True
        elif command == ord("("):
            self._function(self.take(1)[0])
        else:
            self.job.unknown.append(f"GS 0x{command:02x}")

    def _function(self, which: int) -> None:
        low, high = self.take(2)
        body = self.take(low + high * 256)
        if which != ord("k") or len(body) < 2 or body[0] != 49:
            self.job.unknown.append(f"GS ( {chr(which)} {body[:2]!r}")
            return
        function, parameters = body[1], body[2:]
        qr = self.qr
        if function == 65:  # select the model: 49 = model 1, 50 = model 2
            qr.model = 2 if parameters[:1] == b"2" else 1
        elif function == 67:
            qr.size = parameters[0]
        elif function == 69:
            qr.level = _ERROR_LEVELS.get(parameters[0], "?")
        elif function == 80:  # store: m = 48, then the data
            qr.data = bytes(parameters[1:])
        elif function == 81:  # print what is stored
            payload = qr.data.decode("utf-8", errors="replace")
            self.job.items.append(PrintedQr(payload, qr.size, qr.level, qr.model))
        else:
            self.job.unknown.append(f"QR function {function}")


def parse_escpos(data: bytes) -> PrintJob:
    return _Reader(data).parse()


class SimulatedPrinter:
    """A receipt printer listening on a loopback TCP port. ``async with`` starts it."""

    def __init__(self, host: str = "127.0.0.1", *, paper_dir: Path | None = None) -> None:
        """``paper_dir``: each job is also written there as a text file (the demo's paper)."""
        self._host = host
        self._paper_dir = paper_dir
        self._server: asyncio.Server | None = None
        self.port = 0
        self.jobs: list[PrintJob] = []
        self._printed = asyncio.Condition()

    @property
    def url(self) -> str:
        return f"tcp://{self._host}:{self.port}"

    async def __aenter__(self) -> SimulatedPrinter:
        self._server = await asyncio.start_server(self._job, self._host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.switch_off()

    async def switch_off(self) -> None:
        """Stop listening: connections are refused from now on (a printer switched off)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _job(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # a job is everything up to the client's close
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        job = parse_escpos(data)
        async with self._printed:
            self.jobs.append(job)
            self._printed.notify_all()
        if self._paper_dir is not None:
            self._paper_dir.mkdir(parents=True, exist_ok=True)
            lines = [*job.lines, *(f"[QR code] {qr.payload}" for qr in job.qr_codes)]
            paper = self._paper_dir / f"ticket-{len(self.jobs):04d}.txt"
            paper.write_text("\n".join(lines) + "\n", encoding="utf-8")

    async def wait_jobs(self, count: int, timeout_s: float = 5.0) -> list[PrintJob]:
        async with asyncio.timeout(timeout_s), self._printed:
            await self._printed.wait_for(lambda: len(self.jobs) >= count)
        return self.jobs[:count]


@contextlib.contextmanager
def silent(host: str = "127.0.0.1") -> Iterator[str]:
    """A port whose listen queue is full: connects hang until the caller's deadline. Yields
    the ``tcp://`` URL."""
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        # Fill the accept queue (backlog 0 holds one, the kernel allows one more), never
        # accepting: the kernel then drops new SYNs, as from a printer that is not there.
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)  # noqa: FBT003 - the socket API
            with contextlib.suppress(BlockingIOError):
                filler.connect((host, port))
            fillers.append(filler)
        yield f"tcp://{host}:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def render_png(job: PrintJob, path: Path) -> Path:
    """Draw the job as the paper would come out (text in a bitmap font, QR modules at their
    dot size) and save it as a PNG. Needs Pillow (a dev dependency)."""
    import segno
    from PIL import Image, ImageDraw, ImageFont

    blocks: list[tuple[Image.Image, str]] = []
    for item in job.items:
        if isinstance(item, PrintedQr):
            qr = segno.make_qr(item.payload, error=item.error_level.lower(), boost_error=False)
            width, height = qr.symbol_size(scale=item.module_size, border=0)
            image = Image.new("L", (int(width), int(height)), 255)
            draw = ImageDraw.Draw(image)
            for y, row in enumerate(qr.matrix):
                for x, dark in enumerate(row):
                    if dark:
                        s = item.module_size
                        draw.rectangle((x * s, y * s, x * s + s - 1, y * s + s - 1), fill=0)
            blocks.append((image, "centre"))
            continue
        size = _FONT_DOTS * item.height
        font = ImageFont.load_default(size=size)
        text = item.text or " "
        box = font.getbbox(text)
        image = Image.new("L", (min(PAPER_DOTS, max(1, int(box[2])) + 4), size + 6), 255)
        stroke = 1 if item.bold else 0
        ImageDraw.Draw(image).text((2, 0), text, fill=0, font=font, stroke_width=stroke)
        blocks.append((image, item.align))
    height = sum(b.height for b, _ in blocks) + 40
    paper = Image.new("L", (PAPER_DOTS, height), 255)
    y = 20
    for block, align in blocks:
        x = {"left": 8, "right": PAPER_DOTS - block.width - 8}.get(
            align, (PAPER_DOTS - block.width) // 2
        )
        paper.paste(block, (max(0, x), y))
        y += block.height
    paper.save(path)
    return path
