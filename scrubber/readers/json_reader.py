"""JSON input: one claim object, an array of claims, or NDJSON (one per line).

NDJSON is streamed line by line so memory stays bounded by one claim; a single
object or an array is parsed whole (such files are small by nature).
"""

from __future__ import annotations

import json
from typing import IO, Iterator, NamedTuple, Union

from ..models import MAX_LINES, InputError, Source
from . import ClaimRecord, ReadError, limit



def _record(obj: object, source: Source) -> ClaimRecord:
    if isinstance(obj, dict):
        lines = obj.get("lines")
        if isinstance(lines, list) and len(lines) > MAX_LINES:
            # refused here, before validation builds thousands of line models
            raw_id = obj.get("claim_id")
            claim_id = str(raw_id)[:48] if isinstance(raw_id, (str, int)) else None
            return ClaimRecord({"claim_id": claim_id} if claim_id else None, source, [InputError(
                claim_id=claim_id, field="lines",
                message=f"claim has {len(lines)} service lines; at most {MAX_LINES} are allowed (837P loop 2400)",
                source=source)])
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


def read_json(stream: IO[bytes], name: str, raw_ndjson: bool = False) -> Iterator[Union[ClaimRecord, "RawLine"]]:
    """Records; with ``raw_ndjson``, NDJSON lines come as :class:`RawLine` for
    the caller to parse later with :func:`parse_raw` (``--jobs`` parses in
    the workers, so the parent process only splits lines)."""
    try:
        first = stream.peek(64)[:64].lstrip(b"\xef\xbb\xbf \t\r\n")  # type: ignore[attr-defined]
        if first[:1] == b"[" or _single_document(stream):
            yield from _read_document(stream, name)
        else:
            yield from _read_ndjson(stream, name, raw_ndjson)
    except ReadError:
        raise
    except (OSError, MemoryError) as exc:
        raise ReadError(f"{name}: cannot read: {type(exc).__name__}") from None
    except Exception as exc:  # a reader bug must not crash the run with a traceback
        raise ReadError(f"{name}: internal error while reading JSON ({type(exc).__name__}); please report it") from None


def _single_document(stream: IO[bytes]) -> bool:
    # A pretty-printed single object spans many lines; NDJSON has one object
    # per line. Peek: if the first non-blank line is not a whole JSON value,
    # treat the file as one document.
    head = stream.peek(1 << 16)  # type: ignore[attr-defined]
    lines = head.split(b"\n")
    for number, raw in enumerate(lines):
        if raw.strip():
            if number == len(lines) - 1 and len(head) >= 4096:
                # the first line does not end within the peek (the buffer is
                # often only 8 KiB): a long first line is NDJSON (or a
                # one-line document, which the NDJSON reader reads the same)
                return False
            try:
                json.loads(raw)
                return False
            except Exception:
                return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"
    return False


def _read_document(stream: IO[bytes], name: str) -> Iterator[ClaimRecord]:
    maximum = limit("document_bytes")
    raw = stream.read(maximum + 1)
    if len(raw) > maximum:
        raise ReadError(f"{name}: a single JSON document (object or array) larger than {maximum} bytes "
                        "(SCRUBBER_MAX_DOCUMENT_BYTES); use NDJSON, one claim per line")
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
    """Parse a line the reader already checked against the line limit."""
    return _parse(item.raw, Source(file=item.file, index=item.index, line=item.line), bom=item.line == 1)


def _read_ndjson(stream: IO[bytes], name: str, raw_ndjson: bool = False) -> Iterator[Union[ClaimRecord, RawLine]]:
    index = 0
    maximum = limit("line_bytes")
    lineno = 0
    while True:
        raw = stream.readline(maximum + 1)  # never holds more than one line's limit
        if not raw:
            break
        lineno += 1
        if not raw.strip():
            continue
        index += 1
        if len(raw) > maximum and not (len(raw) == maximum + 1 and raw.endswith(b"\n")):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a chunk at a time
                raw = stream.readline(1 << 16)
            source = Source(file=name, index=index, line=lineno)
            yield ClaimRecord(None, source, [InputError(
                field="<json>", message=f"line longer than {maximum} bytes (SCRUBBER_MAX_LINE_BYTES)", source=source)])
            continue
        item = RawLine(raw, name, index, lineno)
        yield item if raw_ndjson else parse_raw(item)


def ndjson_record(raw: bytes, source: Source, bom: bool = False) -> ClaimRecord:
    """One NDJSON line (not blank, within the line limit) as a record; also
    used on partitions of a file scrubbed on a cluster (``scrubber.partitions``)."""
    maximum = limit("line_bytes")
    if len(raw) > maximum + 1:
        return ClaimRecord(None, source, [InputError(
            field="<json>", message=f"line longer than {maximum} bytes (SCRUBBER_MAX_LINE_BYTES)", source=source)])
    return _parse(raw, source, bom)


def _parse(raw: bytes, source: Source, bom: bool) -> ClaimRecord:
    try:
        obj = json.loads(raw.decode("utf-8-sig" if bom else "utf-8"))
    except (ValueError, RecursionError) as exc:
        return _decode_error(exc, source)
    return _record(obj, source)
