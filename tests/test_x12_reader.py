from __future__ import annotations

import io
from pathlib import Path

import pytest

from scrubber.readers import ReadError, read_path
from scrubber.readers.x12 import read_x12

DATA = Path(__file__).parent / "data" / "837p"


def read(path: Path):
    return list(read_path(str(path)))


def test_synthetic_500_claims():
    records = read(DATA / "generated" / "synthetic-500-claims.837")
    assert len(records) == 500
    assert all(r.data is not None and not r.errors for r in records)


def test_not_x12_raises_read_error():
    with pytest.raises(ReadError, match="x.txt"):
        list(read_x12(io.BytesIO(b"hello world, this is not x12"), "x.txt"))
