"""A paper queue ticket: what goes on it, and its ESC/POS bytes.

Pure: the layout and the byte encoding are decisions, sending them is the adapter's job
(agent/adapters/printer_escpos.py). The encoding is the small subset of ESC/POS every
receipt printer sold for counters understands (Epson TM-T20/T88, Star in ESC/POS mode,
the common 80 mm clones): initialise, code page, alignment, emphasis, character size, the
QR code function `GS ( k` (model 2), feed and cut. Written here rather than taken from
python-escpos (3.1), whose required dependencies are Pillow, qrcode, python-barcode, PyYAML,
six, appdirs, argcomplete and importlib-resources (pyusb on top for USB), on a device that
only ever prints one kind of ticket.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC = b"\x1b"
GS = b"\x1d"
LF = b"\n"

# `ESC t 19` selects code page 858 (PC850 plus the euro sign): Latin-1 letters, which the
# stores' queue labels and names use ("Conseil / Advice", "Retrait"). Anything outside it
# prints as "?" instead of failing the ticket.
CODE_PAGE = "cp858"
CODE_PAGE_NUMBER = 19

# `GS ( k` error correction levels, as the printer numbers them.
QR_ERROR_LEVELS = {"L": 48, "M": 49, "Q": 50, "H": 51}
# What a QR symbol (model 2, version 40) can hold in byte mode at level L; printers refuse
# more, and a URL that long is a bug, not a ticket.
QR_MAX_BYTES = 2953


@dataclass(frozen=True, slots=True)
class TicketPrint:
    """The words and the link on one paper ticket, already in the customer's language."""

    store: str
    queue_label: str
    number: int
    issued: str  # the local time, as the store reads it ("14:32")
    url: str | None  # the ticket page (None: printed without a QR code)
    heading: str = "Ticket"
    hint: str = ""  # a line under the QR code ("Scan to follow your turn")


def _align(where: int) -> bytes:
    return ESC + b"a" + bytes([where])  # 0 left, 1 centre, 2 right


def _size(width: int, height: int) -> bytes:
    """`GS !`: character magnification, 1 to 8 in each direction."""
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


BOLD_ON = ESC + b"E\x01"
BOLD_OFF = ESC + b"E\x00"


def _text(line: str) -> bytes:
    return line.encode(CODE_PAGE, errors="replace") + LF


def _qr_function(function: bytes, parameters: bytes) -> bytes:
    """`GS ( k pL pH cn=49 fn ...`: pL/pH count the bytes after themselves."""
    body = b"1" + function + parameters
    return GS + b"(k" + len(body).to_bytes(2, "little") + body


def qr_code(payload: str, *, module_size: int = 6, error_level: str = "M") -> bytes:
    """Model 2 QR code of ``payload``: select the model, the module size and the error
    correction, store the data, then print what is stored."""
    data = payload.encode("utf-8")
    if not data or len(data) > QR_MAX_BYTES:
        raise ValueError(f"a QR payload holds 1 to {QR_MAX_BYTES} bytes, got {len(data)}")
    if not 1 <= module_size <= 16:
        raise ValueError(f"module size is 1 to 16 dots, got {module_size}")
    return (
        _qr_function(b"A", b"2\x00")  # fn 65: model 2
        + _qr_function(b"C", bytes([module_size]))  # fn 67: dots per module
        + _qr_function(b"E", bytes([QR_ERROR_LEVELS[error_level]]))  # fn 69
        + _qr_function(b"P", b"0" + data)  # fn 80: store the data
        + _qr_function(b"Q", b"0")  # fn 81: print it
    )


def encode_ticket(ticket: TicketPrint, *, module_size: int = 6, cut: bool = True) -> bytes:
    """The whole ticket: store name, queue, the number big, the time, the QR code."""
    out = bytearray(ESC + b"@")  # initialise: a previous job's sizes do not carry over
    out += ESC + b"t" + bytes([CODE_PAGE_NUMBER])
    out += _align(1)
    out += BOLD_ON + _text(ticket.store) + BOLD_OFF
    out += _text(ticket.queue_label)
    out += LF
    out += _text(ticket.heading)
    out += _size(4, 4) + BOLD_ON + _text(str(ticket.number)) + BOLD_OFF + _size(1, 1)
    out += LF + _text(ticket.issued)
    if ticket.url:
        out += LF + qr_code(ticket.url, module_size=module_size) + LF
        if ticket.hint:
            out += _text(ticket.hint)
    out += ESC + b"d" + bytes([4])  # feed past the cutter
    if cut:
        out += GS + b"V" + bytes([66, 0])  # partial cut after feeding (function B)
    return bytes(out)
