"""Implementation-guide validation of 837P files with pyx12 (``check --validate``).

The everyday read path is our own streaming reader (fast, per-claim errors);
pyx12 checks the whole file against the X12 implementation guide and writes a
999 acknowledgement, which is slower but far more thorough. pyx12's messages
quote the offending element value, which may be patient data, so values are
cut from every message before it is shown.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from typing import Optional

_QUOTED = re.compile(r'"[^"]*"\)?\s*=\s*\d+\s*>|\([^()]*\)\s*$')
_LEN = re.compile(r'len\("[^"]*"\)')
_TRAILING_VALUE = re.compile(r"\s*\([^()]*\)\s*$")
_CHAR = re.compile(r"invalid character\([^)]*\)")


def scrub_message(message: str) -> str:
    """Remove element values that pyx12 quotes in its messages."""
    message = _LEN.sub("len(value)", message)
    message = _CHAR.sub("invalid character", message)
    return _TRAILING_VALUE.sub("", message)


@dataclass
class Validation:
    path: str
    ok: bool
    errors: list[str] = field(default_factory=list)
    ack_999: Optional[str] = None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(scrub_message(record.getMessage()))


def validate_x12(path: str) -> Validation:
    try:
        import pyx12.params
        import pyx12.x12n_document
    except ImportError:
        return Validation(path, False, ["pyx12 is not installed: pip install 'claim-scrubber[x12]'"])
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.ERROR)
    ack = io.StringIO()
    try:
        param = pyx12.params.params()
        ok = pyx12.x12n_document.x12n_document(param=param, src_file=path, fd_997=ack, fd_html=None)
    except Exception as exc:  # pyx12 raises on files it cannot parse at all
        ok = False
        handler.messages.append(f"pyx12 could not read the file: {type(exc).__name__}")
    finally:
        logger.handlers, logger.level, logger.propagate = saved
    return Validation(path, bool(ok) and not handler.messages, handler.messages, ack.getvalue() or None)
