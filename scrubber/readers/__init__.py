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

#: Refuse inputs larger than this before reading them (bytes).
MAX_FILE_BYTES = int(os.environ.get("SCRUBBER_MAX_FILE_BYTES", 2 * 1024**3))


class ReadError(Exception):
    """The input as a whole could not be read (exit status 2)."""


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

        yield from read_x12(buffered, name)
    else:
        from .json_reader import read_json

        yield from read_json(buffered, name, raw_ndjson)


def read_path(path: str, raw_ndjson: bool = False) -> Iterator[Any]:
    """Read claims from a file path, or standard input for ``-``."""
    if path == "-":
        import sys

        yield from read_stream(sys.stdin.buffer, "<stdin>", raw_ndjson)
        return
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise ReadError(f"{path}: file is {size} bytes, over the limit of {MAX_FILE_BYTES} (SCRUBBER_MAX_FILE_BYTES)")
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise ReadError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        yield from read_stream(handle, path, raw_ndjson)
