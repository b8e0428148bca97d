"""Eddystone service data frames (UUID 0xFEAA): only the EID frame matters here.

EID frame: `0x30, tx power at 0 m (signed byte), 8-byte EID` (contract §5). Other frame types
(UID 0x00, URL 0x10, TLM 0x20) and anything malformed give None.
"""

from __future__ import annotations

EID_FRAME_TYPE = 0x30
EID_FRAME_LENGTH = 10


def parse_eid_frame(service_data: bytes) -> tuple[int, bytes] | None:
    """(tx power in dBm, EID) of an Eddystone-EID frame, or None."""
    if len(service_data) != EID_FRAME_LENGTH or service_data[0] != EID_FRAME_TYPE:
        return None
    tx_power = service_data[1]  # a signed byte, without int.from_bytes' call overhead
    return tx_power - 256 if tx_power > 127 else tx_power, bytes(service_data[2:10])


def eid_service_data(tx_power: int, eid: bytes) -> bytes:
    """The frame a phone advertises (for simulators and tests)."""
    if len(eid) != 8 or not -128 <= tx_power <= 127:
        raise ValueError("an EID is 8 bytes and tx power a signed byte")
    return bytes([EID_FRAME_TYPE]) + tx_power.to_bytes(1, "big", signed=True) + eid
