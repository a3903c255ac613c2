"""Streaming X12 tokenizer shared by the 837P reader and the fix writer.

The file is decoded as Latin-1, so every character is exactly one byte and
character offsets are byte offsets: the writer can splice the original bytes
back together unchanged. Separators come from each ISA segment (fixed width,
106 characters including the segment terminator), so a file may hold several
interchanges with different separators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Iterator, Optional

CHUNK = 1 << 20
#: Widths of ISA01..ISA16 (fixed-length elements).
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LEN = 106  # including the segment terminator
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    repetition: Optional[str]
    segment: str


class IsaError(ValueError):
    """The ISA segment cannot be parsed (message names elements, not values)."""


def parse_isa(text: str) -> Separators:
    """Separators from the first 106 characters of an interchange."""
    if len(text) < ISA_LEN:
        raise IsaError(f"ISA segment is truncated ({len(text)} characters, expected {ISA_LEN})")
    if text[:3] != "ISA":
        raise IsaError("interchange does not start with ISA")
    elem = text[3]
    if elem.isalnum() or elem in _WHITESPACE:
        raise IsaError("ISA element separator (character 4) is a letter, digit or space")
    fields = text[: ISA_LEN - 1].split(elem)
    if len(fields) != 17:
        raise IsaError(
            f"ISA segment has {len(fields) - 1} elements within its fixed {ISA_LEN} characters, expected 16 "
            "(an element is too long or too short)"
        )
    for number, (value, width) in enumerate(zip(fields[1:], ISA_WIDTHS), start=1):
        if len(value) != width:
            raise IsaError(f"ISA{number:02d} is {len(value)} characters long, expected {width} (ISA is fixed length)")
    component = fields[16]
    segment = text[ISA_LEN - 1]
    rep = fields[11]
    repetition = None if (rep.isalnum() or rep == " ") else rep
    if component.isalnum() or component in _WHITESPACE:
        raise IsaError("ISA16 component separator is a letter, digit or space")
    if segment.isalnum() or segment == " ":
        raise IsaError("segment terminator (character after ISA16) is a letter, digit or space")
    seps = [elem, component, segment] + ([repetition] if repetition else [])
    if len(set(seps)) != len(seps):
        raise IsaError("ISA separators are not distinct (element, component, repetition, segment terminator)")
    return Separators(elem, component, repetition, segment)


class SegmentTooLong(ValueError):
    """A segment longer than the tokenizer's limit (its terminator is missing
    or the file is not X12): refused before it fills memory."""


class Tokenizer:
    """Yields ``(index, line, start, end, text)`` for every segment.

    ``index`` is the 1-based segment position in the file, ``line`` the
    1-based text line (None when the first MiB of the file has no newline:
    a single-line file), ``start``/``end``
    character (= byte) offsets of the segment text without its terminator.
    ``seps`` holds the separators of the current interchange; after a new ISA
    that could not be parsed, ``isa_error`` holds the reason (the previous
    separators stay in force) until the next good ISA.
    """

    def __init__(self, stream: IO[bytes], max_segment: int = 1 << 30):
        self.stream = stream
        self.max_segment = max_segment
        self.seps: Optional[Separators] = None
        self.isa_error: Optional[str] = None
        self.has_newlines = False

    def __iter__(self) -> Iterator[tuple[int, Optional[int], int, int, str]]:
        read = self.stream.read
        buf = read(CHUNK).decode("latin-1")
        eof = not buf
        has_nl = self.has_newlines = "\n" in buf
        base = 0  # absolute offset of buf[0]
        pos = 3 if buf.startswith("\xef\xbb\xbf") else 0
        index = 0
        line = 1
        term: Optional[str] = None
        ws = _WHITESPACE
        bad_isa_at = -1

        while True:
            # --- at a segment start: skip whitespace, handle an ISA ------------
            while True:
                n = len(buf)
                while pos < n and buf[pos] in ws:
                    if buf[pos] == "\n":
                        line += 1
                    pos += 1
                if (pos < n and n - pos >= ISA_LEN) or eof:
                    break
                chunk = read(CHUNK)
                if not chunk:
                    eof = True
                    break
                base += pos
                buf = buf[pos:] + chunk.decode("latin-1")
                pos = 0
            if pos >= len(buf):
                if term is None:
                    raise IsaError("no ISA segment (empty input)")
                return
            if buf.startswith("ISA", pos):
                try:
                    seps = parse_isa(buf[pos : pos + ISA_LEN])
                except IsaError as exc:
                    if term is None:
                        raise
                    self.isa_error = str(exc)
                    bad_isa_at = base + pos
                    # fall through: read it as an ordinary segment with the old separators
                else:
                    self.seps = seps
                    self.isa_error = None
                    term = seps.segment
                    index += 1
                    yield index, (line if has_nl else None), base + pos, base + pos + ISA_LEN - 1, buf[pos : pos + ISA_LEN - 1]
                    pos += ISA_LEN
                    if term == "\n":
                        line += 1
                    continue
            elif term is None:
                raise IsaError("content does not start with an ISA segment")

            # --- bulk: split every complete segment in the buffer ------------------
            last_t = buf.rfind(term, pos)
            if last_t < 0:
                if len(buf) - pos > self.max_segment:
                    raise SegmentTooLong(
                        f"segment {index + 1} (at byte {base + pos}) is longer than {self.max_segment} bytes "
                        "without a segment terminator (SCRUBBER_MAX_SEGMENT_BYTES)"
                    )
                if not eof:
                    chunk = read(CHUNK)
                    if chunk:
                        base += pos
                        buf = buf[pos:] + chunk.decode("latin-1")
                        pos = 0
                        continue
                    eof = True
                # the final segment has no terminator
                last_t = len(buf)
            off = pos
            restart = False
            nl_term = term == "\n"
            for piece in buf[pos:last_t].split(term):
                start = off
                off += len(piece) + 1
                if not piece:
                    if nl_term:
                        line += 1
                    continue
                if piece[0] in ws:
                    stripped = piece.lstrip(ws)
                    lead = len(piece) - len(stripped)
                    if has_nl:
                        line += piece.count("\n", 0, lead)
                    if not stripped:
                        if nl_term:
                            line += 1
                        continue
                    start += lead
                    piece = stripped
                if piece[0] == "I" and piece.startswith("ISA") and base + start != bad_isa_at:
                    # a new interchange: separators may change, so re-split from here
                    pos = start
                    restart = True
                    break
                index += 1
                yield index, (line if has_nl else None), base + start, base + start + len(piece), piece
                if has_nl and "\n" in piece:
                    line += piece.count("\n")
                if nl_term:
                    line += 1
            if restart:
                continue
            pos = last_t + 1
            if pos >= len(buf) and eof:
                return
