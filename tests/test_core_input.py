"""Bad input gets a clear error naming claim, line and field; nothing is lost."""

from __future__ import annotations

import io
import json

from conftest import make_claim

from scrubber import Status
from scrubber.readers import ReadError, read_stream


def test_invalid_claim_names_claim_line_and_field(chain_scrubber):
    bad = make_claim({"units": 0, "charge": 1.5}, {"number": 7, "code": "2056", "service_date": "2024-02-30"})
    result = chain_scrubber.scrub(bad)
    assert result.status is Status.invalid
    where = {(e.claim_id, e.line, e.field) for e in result.errors}
    assert ("C1", 1, "lines[1].units") in where
    assert ("C1", 1, "lines[1].charge") in where
    assert ("C1", 7, "lines[2].code") in where
    assert ("C1", 7, "lines[2].service_date") in where
    assert all("float" in e.message for e in result.errors if e.field == "lines[1].charge")


def test_invalid_claim_level_fields(chain_scrubber):
    result = chain_scrubber.scrub({"claim_id": "X", "abn": "maybe", "diagnoses": ["M54.50"], "lines": []})
    fields = {e.field for e in result.errors}
    assert {"abn", "lines"} <= fields
    assert "diagnoses[1]" not in fields  # the dot is accepted and dropped
    assert chain_scrubber.scrub({"lines": "x"}).errors[0].claim_id is None


def test_one_bad_claim_does_not_stop_the_batch(chain_scrubber):
    claims = [make_claim(claim_id="A"), {"claim_id": "B"}, "not a claim", make_claim({"units": 5}, claim_id="D")]
    results = list(chain_scrubber.scrub_many(claims))
    assert [r.status for r in results] == [Status.rejected, Status.invalid, Status.invalid, Status.rejected]
    # The good claims around the bad ones get exactly their own results.
    assert results[0].model_dump() == chain_scrubber.scrub(claims[0]).model_dump()
    assert results[3].model_dump() == chain_scrubber.scrub(claims[3]).model_dump()


def test_money_is_exact(chain_scrubber):
    from scrubber import Claim

    claim = Claim.model_validate(make_claim({"charge": "120.10"}))
    assert str(claim.lines[0].charge) == "120.10"


def _read(data: bytes):
    return list(read_stream(io.BytesIO(data), "in.json"))


def test_json_reader_accepts_object_array_and_ndjson():
    one = make_claim()
    assert len(_read(json.dumps(one).encode())) == 1
    assert len(_read(json.dumps(one, indent=2).encode())) == 1
    assert len(_read(json.dumps([one, one]).encode())) == 2
    records = _read((json.dumps(one) + "\n\n" + json.dumps(one) + "\n").encode())
    assert [(r.source.index, r.source.line) for r in records] == [(1, 1), (2, 3)]


def test_ndjson_bad_line_is_reported_and_the_rest_read():
    good = json.dumps(make_claim())
    records = _read(f"{good}\n{{not json\n[1]\n\xff\n{good}\n".encode("latin-1"))
    assert len(records) == 5
    assert records[1].errors and records[1].source.line == 2 and "invalid JSON" in records[1].errors[0].message
    assert "expected a JSON object" in records[2].errors[0].message
    assert records[3].errors and records[4].data is not None


def test_broken_json_document_is_a_read_error():
    try:
        _read(b"[{\"claim_id\": ")
    except ReadError as exc:
        assert "in.json" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected ReadError")
