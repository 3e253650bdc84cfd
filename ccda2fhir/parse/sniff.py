"""What an input the XML parser refused actually is: gzip, JSON, an HL7 v2 message, a PDF, a file name...

Consulted only after parsing failed, so it costs nothing on documents that parse. The signatures
are data (``ccda2fhir/data/input_signatures.json``).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

_LEAD = b"\xef\xbb\xbf \t\r\n"
_PATHISH = re.compile(r"^[^<>\r\n]{1,4096}$")
_PATH_HINT = re.compile(r"[/\\]|\.\w{1,6}$")


@lru_cache(maxsize=1)
def _signatures() -> list[tuple[int, bytes, bool, str]]:
    data = json.loads(resources.files("ccda2fhir.data").joinpath("input_signatures.json").read_text())
    out = []
    for s in data["signatures"]:
        if "hex" in s:
            out.append((s.get("offset", 0), bytes.fromhex(s["hex"]), False, s["is"]))
        else:
            out.append((0, s["text"].lower().encode("ascii"), True, s["is"]))
    return out


def what_it_is(data: bytes) -> str | None:
    """'a gzip stream', 'JSON', 'an HL7 v2 message', ... for input that is clearly not XML; else None."""
    text_head = data[:64].lstrip(_LEAD).lower()
    for offset, sig, is_text, name in _signatures():
        if is_text:
            if text_head.startswith(sig):
                return name
        elif data[offset:offset + len(sig)] == sig:
            return name
    return None


def looks_like_a_path(data: bytes) -> bool:
    """True for a short one-line input with no markup that reads like a file name."""
    if len(data) > 4096:
        return False
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False
    return bool(_PATHISH.match(text) and _PATH_HINT.search(text))
