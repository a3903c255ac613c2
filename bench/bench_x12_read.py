"""Throughput of the 837P reader (plain script, no test framework).

Reads the synthetic 500-claim file and imsweb's x12_many_claims.txt (the
copies under tests/data, so it runs from a clean clone) repeatedly for a few
seconds each and prints claims per second for the plain read path and for
read + Claim.model_validate, plus os.cpu_count().

    python3 bench/bench_x12_read.py [seconds-per-figure]
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import ValidationError  # noqa: E402

from scrubber.models import Claim  # noqa: E402
from scrubber.readers.x12 import read_x12  # noqa: E402

FILES = [
    ROOT / "tests" / "data" / "837p" / "generated" / "synthetic-500-claims.837",
    ROOT / "tests" / "data" / "837p" / "imsweb" / "x12_many_claims.txt",
]


def read_only(data: bytes, name: str) -> int:
    n = 0
    for _ in read_x12(io.BytesIO(data), name):
        n += 1
    return n


def read_validate(data: bytes, name: str) -> int:
    n = 0
    for record in read_x12(io.BytesIO(data), name):
        if record.data is not None:
            try:
                Claim.model_validate(record.data)
            except ValidationError:
                pass  # invalid claims cost the same work; the scrubber reports them
        n += 1
    return n


def rate(func, data: bytes, name: str, seconds: float) -> float:
    func(data, name)  # warm up
    claims = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        claims += func(data, name)
        elapsed = time.perf_counter() - start
    return claims / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    for path in FILES:
        data = path.read_bytes()
        label = f"{path.parent.name}/{path.name}"
        print(f"{label}: read: {rate(read_only, data, label, seconds):,.0f} claims/s")
        print(f"{label}: read+validate: {rate(read_validate, data, label, seconds):,.0f} claims/s")
    print(f"os.cpu_count(): {os.cpu_count()}")


if __name__ == "__main__":
    main()
