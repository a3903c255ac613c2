"""JSON input: one claim object, an array of claims, or NDJSON (one per line).

NDJSON is streamed line by line so memory stays bounded by one claim; a single
object or an array is parsed whole (such files are small by nature).
"""

from __future__ import annotations

import json
from typing import IO, Iterator, NamedTuple, Union

from ..models import InputError, Source
from . import ClaimRecord, ReadError

MAX_LINE_BYTES = 4 * 1024 * 1024


def _record(obj: object, source: Source) -> ClaimRecord:
    if isinstance(obj, dict):
        return ClaimRecord(obj, source)
    return ClaimRecord(
        None,
        source,
        [InputError(field="<claim>", message=f"expected a JSON object, got {type(obj).__name__}", source=source)],
    )


def _decode_error(exc: Exception, source: Source) -> ClaimRecord:
    if isinstance(exc, json.JSONDecodeError):
        message = f"invalid JSON: {exc.msg} at column {exc.colno}"
    elif isinstance(exc, UnicodeDecodeError):
        message = f"invalid UTF-8 at byte {exc.start}"
    elif isinstance(exc, RecursionError):
        message = "JSON nested too deeply"
    else:
        message = f"invalid JSON: {exc}"
    return ClaimRecord(None, source, [InputError(field="<json>", message=message, source=source)])


def read_json(stream: IO[bytes], name: str, raw_ndjson: bool = False) -> Iterator[Union[ClaimRecord, RawLine]]:
    """Records; with ``raw_ndjson``, NDJSON lines come as :class:`RawLine` for
    the caller to parse later with :func:`parse_raw` (``--jobs`` parses in
    the workers, so the parent process only splits lines)."""
    first = stream.peek(64)[:64].lstrip(b"\xef\xbb\xbf \t\r\n")  # type: ignore[attr-defined]
    if first[:1] == b"[" or _single_document(stream):
        yield from _read_document(stream, name)
    else:
        yield from _read_ndjson(stream, name, raw_ndjson)


def _single_document(stream: IO[bytes]) -> bool:
    # A pretty-printed single object spans many lines; NDJSON has one object
    # per line. Peek: if the first non-blank line is not a whole JSON value,
    # treat the file as one document.
    head = stream.peek(1 << 16)  # type: ignore[attr-defined]
    for raw in head.split(b"\n"):
        if raw.strip():
            try:
                json.loads(raw)
                return False
            except Exception:
                return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
    return False


def _read_document(stream: IO[bytes], name: str) -> Iterator[ClaimRecord]:
    raw = stream.read()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:
        raise ReadError(f"{name}: {_decode_error(exc, Source(file=name)).errors[0].message}") from None
    if isinstance(doc, list):
        for index, obj in enumerate(doc, start=1):
            yield _record(obj, Source(file=name, index=index))
    else:
        yield _record(doc, Source(file=name, index=1))


class RawLine(NamedTuple):
    """An NDJSON line not parsed yet, with where it came from."""

    raw: bytes
    file: str
    index: int
    line: int


def parse_raw(item: RawLine) -> ClaimRecord:
    return ndjson_record(item.raw, Source(file=item.file, index=item.index, line=item.line), bom=item.line == 1)


def _read_ndjson(stream: IO[bytes], name: str, raw_ndjson: bool = False) -> Iterator[Union[ClaimRecord, RawLine]]:
    index = 0
    for lineno, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        index += 1
        item = RawLine(raw, name, index, lineno)
        yield item if raw_ndjson else parse_raw(item)


def ndjson_record(raw: bytes, source: Source, bom: bool = False) -> ClaimRecord:
    """One NDJSON line (not blank) as a record; also used on partitions of
    a file scrubbed on a cluster (``scrubber.partitions``)."""
    if len(raw) > MAX_LINE_BYTES:
        return ClaimRecord(None, source, [InputError(field="<json>", message=f"line longer than {MAX_LINE_BYTES} bytes", source=source)])
    try:
        obj = json.loads(raw.decode("utf-8-sig" if bom else "utf-8"))
    except (ValueError, RecursionError) as exc:
        return _decode_error(exc, source)
    return _record(obj, source)
