"""Readers turn input files into claim records, one at a time.

A reader never validates claims (the scrubber does, so that every claim gets
a result) and never stops at a bad claim: it yields a record with errors and
goes on. Only a file that cannot be read at all raises :class:`ReadError`.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from typing import IO, Any, Iterator, Optional

from ..models import InputError, Source

#: Input limits: (environment variable, default). Each is read when a file
#: is opened, so a process can change them between files. Inputs beyond a
#: limit are refused with an error naming the file, the position and the
#: variable, before the excess is held in memory.
LIMITS = {
    #: bytes in one input file (checked before reading; counted on standard input)
    "file_bytes": ("SCRUBBER_MAX_FILE_BYTES", 2 * 1024**3),
    #: bytes in a single JSON document (one object or an array), parsed whole
    "document_bytes": ("SCRUBBER_MAX_DOCUMENT_BYTES", 256 * 1024**2),
    #: bytes in one NDJSON line (one claim)
    "line_bytes": ("SCRUBBER_MAX_LINE_BYTES", 4 * 1024**2),
    #: bytes in one X12 segment
    "segment_bytes": ("SCRUBBER_MAX_SEGMENT_BYTES", 1024**2),
    #: claims in one input file
    "claims": ("SCRUBBER_MAX_CLAIMS", 10_000_000),
}

#: Kept for compatibility: the file size limit at import time.
MAX_FILE_BYTES = int(os.environ.get("SCRUBBER_MAX_FILE_BYTES", 2 * 1024**3))


class ReadError(Exception):
    """The input as a whole could not be read (exit status 2)."""


def limit(name: str) -> int:
    """The current value of one of :data:`LIMITS` (its environment variable,
    else the default). A value that is not a positive integer is a ReadError."""
    var, default = LIMITS[name]
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ReadError(f"{var} must be a positive whole number")
    return value


class _Counted(io.RawIOBase):
    """A raw stream that refuses to deliver more than ``limit`` bytes (for
    standard input, whose size is not known in advance)."""

    def __init__(self, raw: IO[bytes], name: str, maximum: int):
        self._raw, self._name, self._max, self._seen = raw, name, maximum, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data) if data else 0
        self._seen += n
        if self._seen > self._max:
            raise ReadError(f"{self._name}: input is larger than {self._max} bytes (SCRUBBER_MAX_FILE_BYTES)")
        buffer[:n] = data or b""
        return n


def _count_claims(records: Iterator[Any], name: str) -> Iterator[Any]:
    maximum = limit("claims")
    for n, record in enumerate(records, start=1):
        if n > maximum:
            raise ReadError(f"{name}: more than {maximum} claims in one file, claim #{n} refused (SCRUBBER_MAX_CLAIMS)")
        yield record


@dataclass
class ClaimRecord:
    """One claim as read from a file: raw fields, where it came from, and
    any structural errors the reader found for it."""

    data: Optional[dict[str, Any]]
    source: Source
    errors: list[InputError] = field(default_factory=list)


def sniff(head: bytes) -> str:
    """'x12' when the content starts with an ISA header (or another X12
    segment such as GS*, so the X12 reader can report the missing ISA), else 'json'."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:3] == b"ISA" or re.match(rb"[A-Z][A-Z0-9]{1,2}[^A-Za-z0-9\s\"\[\]{}]", text[:4]):
        return "x12"
    return "json"


def read_stream(stream: IO[bytes], name: str, raw_ndjson: bool = False) -> Iterator[Any]:
    """Read claims from a binary stream, detecting the format by content."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    head = buffered.peek(512)[:512]
    if sniff(head) == "x12":
        from .x12 import read_x12

        yield from _count_claims(read_x12(buffered, name), name)
    else:
        from .json_reader import read_json

        yield from _count_claims(read_json(buffered, name, raw_ndjson), name)


def read_path(path: str, raw_ndjson: bool = False) -> Iterator[Any]:
    """Read claims from a file path, or standard input for ``-``."""
    if path == "-":
        import sys

        stdin = sys.stdin.buffer
        raw = getattr(stdin, "raw", stdin)
        yield from read_stream(io.BufferedReader(_Counted(raw, "<stdin>", limit("file_bytes"))), "<stdin>", raw_ndjson)
        return
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    maximum = limit("file_bytes")
    if size > maximum:
        raise ReadError(f"{path}: file is {size} bytes, over the limit of {maximum} (SCRUBBER_MAX_FILE_BYTES)")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise ReadError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        yield from read_stream(handle, path, raw_ndjson)
