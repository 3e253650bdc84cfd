"""gzip both ways: request bodies inflated under a size limit, responses compressed when accepted."""
from __future__ import annotations

import asyncio
import zlib

GZIP_CODINGS = ("gzip", "x-gzip")
_MIN_COMPRESS = 1024          # smaller answers are sent as they are: gzip would not pay for its header
_LEVEL = 6


class InflateError(ValueError):
    """The gzip stream is corrupt or truncated."""


class TooLarge(ValueError):
    """The inflated body passed the limit."""


class Inflater:
    """Inflates a gzip stream (one or more members) chunk by chunk, never past ``limit`` bytes out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        """The bytes ``data`` inflates to; TooLarge as soon as the total would pass the limit."""
        out = []
        while data:
            try:
                piece = self._z.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                raise InflateError(f"the gzip body is corrupt ({exc})") from None
            self.size += len(piece)
            if self.size > self.limit:
                raise TooLarge(f"the body inflates to over {self.limit} bytes, the limit")
            out.append(piece)
            if self._z.unconsumed_tail:
                data = self._z.unconsumed_tail
            elif self._z.eof and self._z.unused_data:   # another gzip member follows
                data = self._z.unused_data
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = b""
        return b"".join(out)

    def finish(self) -> None:
        """InflateError unless the stream ended where a gzip member ends."""
        if not self._z.eof:
            raise InflateError("the gzip body is truncated")


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when an Accept-Encoding header value allows gzip (explicitly or through '*', q > 0)."""
    if not accept_encoding:
        return False
    allowed: dict[str, bool] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[name.strip().lower()] = q > 0
    for coding in GZIP_CODINGS:
        if coding in allowed:
            return allowed[coding]
    return allowed.get("*", False)


async def compress(body: bytes) -> bytes | None:
    """``body`` gzip-compressed in a thread (zlib releases the GIL), or None when too small to gain."""
    if len(body) < _MIN_COMPRESS:
        return None
    return await asyncio.to_thread(zlib.compress, body, _LEVEL, 16 + zlib.MAX_WBITS)
