"""A progress line with a rate, on standard error, only when it is a terminal."""

from __future__ import annotations

import time
from typing import IO


class Progress:
    def __init__(self, stream: IO[str], mode: str = "auto", every: float = 0.25):
        self.stream = stream
        self.enabled = mode == "always" or (mode == "auto" and getattr(stream, "isatty", lambda: False)())
        self.count = 0
        self.start = self.last = time.monotonic()
        self.every = every

    def tick(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = self.count / max(now - self.start, 1e-9)
            self.stream.write(f"\rscrubbed {self.count:,} claims  {rate:,.0f} claims/s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.count:
            elapsed = max(time.monotonic() - self.start, 1e-9)
            self.stream.write(f"\rscrubbed {self.count:,} claims  {self.count / elapsed:,.0f} claims/s\n")
            self.stream.flush()
