"""The ESC/POS encoder, read back by the simulated printer's independent parser."""

from __future__ import annotations

import pytest

from agent.core.printing import TicketPrint, encode_ticket, qr_code
from simulators.printer import parse_escpos


def test_a_long_url_uses_both_length_bytes_of_the_qr_store_command() -> None:
    url = "https://store.example/t/" + "x" * 300
    data = qr_code(url, module_size=4, error_level="Q")
    # GS ( k pL pH 49 80 48 d...: pL + 256 * pH counts cn, fn, m and the data.
    store = data.index(b"1P0") - 5
    assert data[store : store + 3] == b"\x1d(k"
    assert int.from_bytes(data[store + 3 : store + 5], "little") == len(url) + 3
    [qr] = parse_escpos(data).qr_codes
    assert (qr.payload, qr.module_size, qr.error_level, qr.model) == (url, 4, "Q", 2)


def test_a_ticket_without_a_link_has_no_qr_and_latin_letters_survive() -> None:
    paper = TicketPrint("Café Rivoli", "Retrait / Pick-up", 7, "01/12 09:05", None, "Votre numéro")
    job = parse_escpos(encode_ticket(paper, cut=False))
    assert job.lines == ["Café Rivoli", "Retrait / Pick-up", "Votre numéro", "7", "01/12 09:05"]
    assert job.qr_codes == [] and not job.cut and job.unknown == []
    assert job.line_with("Café Rivoli").bold and job.line_with("7").height == 4


@pytest.mark.parametrize(("payload", "size"), [("", 6), ("x" * 3000, 6), ("ok", 0), ("ok", 17)])
def test_impossible_qr_codes_are_refused(payload: str, size: int) -> None:
    with pytest.raises(ValueError, match=r"QR payload|module size"):
        qr_code(payload, module_size=size)
