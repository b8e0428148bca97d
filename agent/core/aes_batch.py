"""AES-128 encryption of a few blocks under each of many keys at once, vectorised with numpy.

Written from FIPS-197 (the cipher of section 5.1, the key expansion of section 5.2). Why:
`cryptography` costs ~7 µs to create a cipher context per key, and the EID table needs two
fresh keys per customer (`agent.core.eid`); a resync of 20k customers spent ~0.3 s of event
loop on contexts alone. Here a batch of N keys is expanded together and every round is a
handful of numpy operations over all the batch's blocks, so the cost per key is a few table
lookups, paid for by a fixed ~0.3 ms of numpy calls per batch (small batches still go through
`cryptography`: the caller picks by size).

Layout: a block is 16 bytes in FIPS-197's input order, the state's column c being bytes
4c..4c+3 (rows 0-3). Each column is handled as one little-endian 32-bit word, byte r of the
word being row r, so `.view` switches between bytes and words without copying; the word dtype
is spelled `<u4` so that this holds on a big-endian host too.

Rounds 1-9 use four "T-tables" (SubBytes, ShiftRows and MixColumns folded into one lookup
per byte, the usual software form of the cipher; FIPS-197 5.1 describes the same steps), the
last round the S-box alone. The tables are derived at import from their definitions
(multiplicative inverse in GF(2^8) and the affine map), not typed in.

Not constant-time: table lookups index memory by key-dependent bytes. The keys are the
customers' EID keys, already held in this process; a local cache-timing attacker would be
on the store's computer already.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_WORD = np.dtype("<u4")
ROUNDS = 10  # AES-128
BLOCK = 16


def _xtime(value: int) -> int:
    """Multiplication by x (that is, 2) in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1."""
    value <<= 1
    return value ^ 0x11B if value & 0x100 else value


def _sbox() -> list[int]:
    # Powers of the generator 3 list every non-zero element once, which gives each element's
    # logarithm, and so its inverse: x^-1 = 3^(255 - log x). 0 maps to 0 (FIPS-197 5.1.1).
    exp, log = [0] * 255, [0] * 256
    power = 1
    for i in range(255):
        exp[i], log[power] = power, i
        power ^= _xtime(power)  # times 3 = times 2 plus once
    box = []
    for x in range(256):
        b = exp[(255 - log[x]) % 255] if x else 0
        # The affine map: bit i ^= bits i+4, i+5, i+6, i+7 (mod 8), then ^ 0x63; as rotations.
        rotated = b
        for _ in range(4):
            rotated = ((rotated << 1) | (rotated >> 7)) & 0xFF
            b ^= rotated
        box.append(b ^ 0x63)
    return box


def _tables(box: list[int]) -> list[int]:
    """T_r[x] for r = 0..3, flat: the column that byte S[x] in row r contributes to after
    MixColumns, as a little-endian word (byte j = row j of the output column)."""
    mix = (2, 3, 1, 1)  # the first row of MixColumns' matrix; row j is it rotated by j
    flat = []
    for r in range(4):
        for x in range(256):
            s = box[x]
            products = {1: s, 2: _xtime(s), 3: _xtime(s) ^ s}
            flat.append(sum(products[mix[(r - j) % 4]] << (8 * j) for j in range(4)))
    return flat


def _round_constants() -> list[int]:
    constants, value = [], 1
    for _ in range(ROUNDS):
        constants.append(value)
        value = _xtime(value)
    return constants


_SBOX_LIST = _sbox()
_SBOX = np.array(_SBOX_LIST, dtype=np.uint8)
_T = np.array(_tables(_SBOX_LIST), dtype=_WORD)
# Rcon[i] is the word (rc, 0, 0, 0): byte 0 of the little-endian word.
_RCON = np.array(_round_constants(), dtype=_WORD)
# ShiftRows: output byte r + 4c comes from input byte r + 4((c + r) mod 4).
_SHIFT = np.array([r + 4 * ((c + r) % 4) for c in range(4) for r in range(4)], dtype=np.intp)
# The same bytes ordered by row for the rounds with MixColumns, (r, c) at 4r + c: the four
# lookups to XOR for the columns are then four contiguous runs of 4 words.
_SHIFT_BY_ROW = np.array([r + 4 * ((c + r) % 4) for r in range(4) for c in range(4)], np.intp)
# Where each byte's row table starts in _T: 256 * row.
_ROW = np.array([256 * (q // 4) for q in range(16)], dtype=np.uint16)
# RotWord of the last word of a round key: its bytes 13, 14, 15, 12.
_ROT_LAST = np.array([13, 14, 15, 12], dtype=np.intp)


def expand_keys(keys: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """The round keys of N AES-128 keys ((N, 16) bytes) as (11, N, 4) words (FIPS-197 5.2)."""
    if keys.ndim != 2 or keys.shape[1] != BLOCK:
        raise ValueError("keys must be an (N, 16) array of bytes")
    # Built as (round, word, key): each step is then an operation on N contiguous words (an
    # (N, 4) layout made the running XOR below a slow loop over rows of 4), and transposed
    # once at the end.
    words = np.empty((ROUNDS + 1, 4, keys.shape[0]), dtype=_WORD)
    words[0] = np.ascontiguousarray(keys, dtype=np.uint8).view(_WORD).T
    for i in range(1, ROUNDS + 1):
        previous = words[i - 1]
        last = previous[3]
        # temp = SubWord(RotWord(w[4i-1])) ^ Rcon[i]. RotWord moves byte 0 to the end, which
        # on a little-endian word is a rotation right by 8 bits; SubWord is bytewise.
        rotated = (last >> 8) | (last << 24)
        temp = _SBOX[rotated.view(np.uint8)].view(_WORD) ^ _RCON[i - 1]
        # w[4i+j] = w[4i+j-4] ^ w[4i+j-1] (temp for j = 0).
        np.bitwise_xor(previous[0], temp, out=words[i, 0])
        for j in range(1, 4):
            np.bitwise_xor(previous[j], words[i, j - 1], out=words[i, j])
    return np.ascontiguousarray(words.transpose(0, 2, 1))


def encrypt_blocks(keys: NDArray[np.uint8], blocks: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """AES-128 of ``blocks`` ((N, B, 16) bytes: B blocks for each key) under ``keys`` ((N, 16)
    bytes), block b of row n under key n; returns the (N, B, 16) ciphertexts."""
    if blocks.ndim != 3 or blocks.shape[2] != BLOCK or blocks.shape[0] != keys.shape[0]:
        raise ValueError("blocks must be an (N, B, 16) array of bytes, N as many as keys")
    count, per_key = blocks.shape[0], blocks.shape[1]
    round_keys = expand_keys(keys)[:, :, np.newaxis, :]  # broadcast over each key's blocks
    state = np.ascontiguousarray(blocks, dtype=np.uint8).view(_WORD) ^ round_keys[0]
    state = np.ascontiguousarray(state)  # written in place by each round: C order, for .view
    for i in range(1, ROUNDS):
        # SubBytes + ShiftRows + MixColumns: the shifted bytes look up their row's table, and
        # the four lookups of each output column are XORed together.
        shifted = state.view(np.uint8)[..., _SHIFT_BY_ROW]
        looked_up = _T[shifted + _ROW].reshape(count, per_key, 4, 4)
        np.bitwise_xor.reduce(looked_up, axis=2, out=state)
        state ^= round_keys[i]
    # The last round has no MixColumns (FIPS-197 5.1).
    last: NDArray[np.uint8] = np.ascontiguousarray(_SBOX[state.view(np.uint8)[..., _SHIFT]])
    ciphertext: NDArray[np.uint32] = last.view(_WORD) ^ round_keys[ROUNDS]
    return ciphertext.view(np.uint8)


def encrypt(keys: bytes, blocks: bytes, blocks_per_key: int = 1) -> bytes:
    """The same on bytes: ``keys`` is N keys of 16 bytes, ``blocks`` N * blocks_per_key
    blocks, the first blocks_per_key under the first key and so on (ECB per key)."""
    if len(keys) % BLOCK or len(blocks) != len(keys) * blocks_per_key:
        raise ValueError("need 16 bytes a key and blocks_per_key blocks of 16 bytes a key")
    count = len(keys) // BLOCK
    key_array = np.frombuffer(keys, dtype=np.uint8).reshape(count, BLOCK)
    block_array = np.frombuffer(blocks, dtype=np.uint8).reshape(count, blocks_per_key, BLOCK)
    return encrypt_blocks(key_array, block_array).tobytes()
