"""What the store knows of each article file, for the index decider: `Known`, and
`KnownFiles`, every file's `Known` kept compactly.

The indexer holds one `Known` per article file for as long as the daemon runs (its
re-scans compare each file's size and mtime with it). As objects — the record, two
strings and two integers each — they take ~280 bytes a file; `KnownFiles` keeps each
as one bytes value (~70), and builds the `Known` when it is asked for one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass

__all__ = ["Known", "KnownFiles"]

# size, mtime_ns, then the content hash's length in bytes with two flags, then the hash,
# then the id (UTF-8, lone surrogates kept). `_HEX`: the hash is lowercase hex digits,
# kept as the bytes they spell; `_STEM`: the id is the file name without ``.txt`` (as the
# parser makes it), not kept.
_HEAD = struct.Struct("<qqI")
_STAT = struct.Struct("<qq")
_HEX = 1 << 31
_STEM = 1 << 30
_LENGTH = _STEM - 1


@dataclass(frozen=True, slots=True)
class Known:
    """What the store knows about one article file (for the index decider)."""

    article_id: str
    size: int
    mtime_ns: int
    content_hash: str


def _hex_bytes(digits: str) -> bytes | None:
    """The bytes that ``digits`` spell when it is lowercase hex and nothing else, else None."""
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    return raw if raw.hex() == digits else None


def _pack(name: str, known: Known) -> bytes:
    flags = 0
    raw = _hex_bytes(known.content_hash)
    if raw is None:
        raw = known.content_hash.encode(errors="surrogatepass")
    else:
        flags |= _HEX
    if len(raw) > _LENGTH:
        raise ValueError(f"{name}: a content hash of {len(raw)} bytes")
    article_id = known.article_id.encode(errors="surrogatepass")
    if name.endswith(".txt") and name[:-4] == known.article_id:
        flags |= _STEM
        article_id = b""
    return _HEAD.pack(known.size, known.mtime_ns, flags | len(raw)) + raw + article_id


def _unpack(name: str, packed: bytes) -> Known:
    size, mtime_ns, length = _HEAD.unpack_from(packed)
    start = _HEAD.size
    end = start + (length & _LENGTH)
    raw = packed[start:end]
    content_hash = raw.hex() if length & _HEX else raw.decode(errors="surrogatepass")
    article_id = name[:-4] if length & _STEM else packed[end:].decode(errors="surrogatepass")
    return Known(article_id, size, mtime_ns, content_hash)


class KnownFiles(MutableMapping[str, Known]):
    """File name → `Known`, each kept packed in one bytes value (see the module docstring)."""

    __slots__ = ("_packed",)

    def __init__(self, items: Iterable[tuple[str, Known]] = ()) -> None:
        self._packed: dict[str, bytes] = {}
        for name, known in items:
            self[name] = known

    def __getitem__(self, name: str) -> Known:
        return _unpack(name, self._packed[name])

    def get(self, name: str, default: Known | None = None) -> Known | None:  # type: ignore[override]
        packed = self._packed.get(name)
        return default if packed is None else _unpack(name, packed)

    def stat(self, name: str) -> tuple[int, int] | None:
        """The known (size, mtime_ns) of ``name``, or None: a re-scan's test, no `Known` built."""
        packed = self._packed.get(name)
        return None if packed is None else _STAT.unpack_from(packed)

    def __setitem__(self, name: str, known: Known) -> None:
        self._packed[name] = _pack(name, known)

    def __delitem__(self, name: str) -> None:
        del self._packed[name]

    def __contains__(self, name: object) -> bool:
        return name in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)
