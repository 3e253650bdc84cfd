"""The set of resources already written, kept small: 16 bytes per distinct ``Type/id``.

Each resource is remembered by a 12-byte BLAKE2b digest of ``Type/id`` and a 4-byte digest of
its JSON, never by the strings: an open-addressing table in one bytearray, at most three
quarters full, so about 16 to 43 bytes per id (a Python set of the strings takes about 140).
Ten million distinct resources fit in about 256 MB (at its doubling, briefly 1.5 times that).
With 96 bits, two different ids share a digest with a probability of about n^2 / 2^97 (1e-11
for a billion ids); the 4-byte content digest only decides whether a repeated id is reported as
the same content or as a conflict.
"""
from __future__ import annotations

from hashlib import blake2b

_SLOT = 16
_KEY = 12
_EMPTY = bytes(_KEY)

NEW, SAME, CONFLICT = "new", "same", "conflict"


def id_digest(resource_type: str, resource_id: str) -> bytes:
    """The 12-byte digest a ``Type/id`` is remembered by (never all zeros: that marks a free slot)."""
    d = blake2b(f"{resource_type}/{resource_id}".encode(), digest_size=_KEY).digest()
    return d if d != _EMPTY else b"\x01" + d[1:]


def content_digest(data: bytes) -> bytes:
    """The 4-byte digest of a resource's JSON."""
    return blake2b(data, digest_size=4).digest()


class SeenIds:
    """Which ``Type/id`` digests were written, each with its content's digest."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        size = 1 << max(4, (capacity - 1).bit_length())
        self._table = bytearray(size * _SLOT)
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Memory held by the table."""
        return len(self._table)

    def add(self, key: bytes, content: bytes) -> str:
        """Remember ``key`` with ``content`` unless already there: NEW (now remembered), SAME
        (there, with this content) or CONFLICT (there, with other content: the first is kept)."""
        table, mask = self._table, self._mask
        i = int.from_bytes(key[:8], "little") & mask
        while True:
            at = i * _SLOT
            slot_key = table[at:at + _KEY]
            if slot_key == key:
                return SAME if table[at + _KEY:at + _SLOT] == content else CONFLICT
            if slot_key == _EMPTY:
                table[at:at + _SLOT] = key + content
                self._count += 1
                if self._count * 4 > (mask + 1) * 3:
                    self._grow()
                return NEW
            i = (i + 1) & mask

    def _grow(self) -> None:
        old = self._table
        size = (self._mask + 1) * 2
        self._table = bytearray(size * _SLOT)
        self._mask = size - 1
        table, mask = self._table, self._mask
        for at in range(0, len(old), _SLOT):
            key = old[at:at + _KEY]
            if key != _EMPTY:
                i = int.from_bytes(key[:8], "little") & mask
                while table[i * _SLOT:i * _SLOT + _KEY] != _EMPTY:
                    i = (i + 1) & mask
                table[i * _SLOT:i * _SLOT + _SLOT] = old[at:at + _SLOT]
