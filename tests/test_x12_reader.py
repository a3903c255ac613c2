from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scrubber.models import Claim
from scrubber.readers import ReadError, read_path, read_stream
from scrubber.readers import x12_tokens
from scrubber.readers.x12 import read_x12

DATA = Path(__file__).parent / "data" / "837p"
ALL = sorted(p for p in DATA.glob("*/*") if p.name not in ("LICENSE", "README.md"))
#: Files that are not readable 837P at all (ReadError) or not 837P claims.
NOT_X12 = {"x12_bad_first_line.txt", "x12_no_isa_line.txt"}
NOT_837P = {"x12_999_accepted.txt", "x12_999_rejected.txt", "x223-test.txt"}
VALID = [p for p in ALL if p.name not in NOT_X12 | NOT_837P]
BROKEN_IMSWEB = sorted(
    p for p in (DATA / "imsweb").glob("x12_*")
    if re.search(r"bad_|missing_|out_of_order|no_isa|segment_errors|loop_errors", p.name)
)


def read(path: Path):
    return list(read_path(str(path)))


def clm_count(path: Path) -> int:
    text = path.read_bytes().decode("latin-1")
    elem, term = text[3], text[105]
    return sum(1 for seg in text.split(term) if seg.strip().split(elem, 1)[0] == "CLM")


def by_id(records, claim_id):
    return next(r for r in records if r.data and r.data["claim_id"] == claim_id)


def strip_sources(data: dict) -> dict:
    data = dict(data)
    data.pop("source")
    data["lines"] = [{k: v for k, v in ln.items() if k != "source"} for ln in data["lines"]]
    return data


# --- counts and structure -------------------------------------------------------

@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_one_record_per_clm(path: Path):
    records = read(path)
    claims = [r for r in records if r.data is not None]
    assert len(claims) == clm_count(path)
    for r in records:
        assert r.source.file == str(path)
        for e in r.errors:
            assert e.source is not None and e.source.file == str(path) and e.source.segment
            assert f"segment {e.source.segment}" in e.message


def test_synthetic_500_claims_all_clean_and_valid():
    records = read(DATA / "generated" / "synthetic-500-claims.837")
    assert len(records) == 500
    assert all(r.data is not None and not r.errors for r in records)
    for r in records:
        Claim.model_validate(r.data)


def test_many_claims_and_multiple_envelopes():
    assert len(read(DATA / "imsweb" / "x12_many_claims.txt")) == 820
    assert len(read(DATA / "imsweb" / "x12_multiple_transactions.txt")) == 624
    for name in ("x12_multiple_isa.txt", "x12_multiple_gs.txt", "x12_multiple_st.txt"):
        records = read(DATA / "imsweb" / name)
        ids = [r.data["claim_id"] for r in records]
        assert len(ids) == clm_count(DATA / "imsweb" / name) and ids[:2] == ["A37YH556", "A37YH667"]
        assert all(r.data["lines"] for r in records)


# --- field mapping, checked by hand against the files ------------------------------

def test_dry_needling_commercial_by_hand():
    path = DATA / "generated" / "dry-needling-commercial.837"
    [rec] = read(path)
    assert not rec.errors
    assert rec.source.segment == 27 and rec.source.line == 27
    data = rec.data
    assert data["source"] == {"file": str(path), "segment": 27, "line": 27}
    assert strip_sources(data) == {
        "claim_id": "26463774",
        "total_charge": "180.00",
        "filing_indicator": "CI",
        "payer": {"id": "999996666", "name": "KEY INSURANCE COMPANY"},
        # the patient loop 2010CA has no ID: the subscriber's member ID; DMG of the patient
        "patient": {"id": "JS00111223333", "birth_date": "1973-05-01", "sex": "M"},
        "billing_provider": {"npi": "1912301953", "taxonomy": "203BF0100Y"},
        "rendering_provider": None,
        "place_of_service": "11",
        "frequency": "1",
        "diagnoses": ["M7918", "M5416"],
        "lines": [
            {"number": 1, "code": "20561", "modifiers": ["GP"], "charge": "120.00", "units": 1,
             "diagnosis_pointers": [1], "service_date": "2024-01-03"},
            {"number": 2, "code": "97140", "modifiers": ["GP", "59"], "charge": "60.00", "units": 2,
             "diagnosis_pointers": [1, 2], "service_date": "2024-01-03"},
        ],
    }
    assert [ln["source"]["segment"] for ln in data["lines"]] == [30, 33]
    # The TR3 example taxonomy 203BF0100Y (an older code that does not end
    # in X) is accepted: real files carry such codes.
    claim = Claim.model_validate(data)
    assert claim.billing_provider.taxonomy == "203BF0100Y"
    assert claim.lines[1].modifiers == ["GP", "59"] and claim.source.segment == 27


def test_imsweb_valid_by_hand():
    records = read(DATA / "imsweb" / "x12_valid.txt")
    first, second = records
    assert strip_sources(first.data) == {
        "claim_id": "A37YH556", "total_charge": "500", "filing_indicator": "CI",
        "payer": {"id": "11122333", "name": "HEALTH INSURANCE COMPANY"},
        "patient": {"id": "123456", "birth_date": None, "sex": None},
        "billing_provider": {"npi": "1234567890", "taxonomy": None},
        "rendering_provider": None, "place_of_service": "11", "frequency": "1", "diagnoses": [],
        "lines": [{"number": 1, "code": "99211", "modifiers": ["25"], "charge": "12.25", "units": 1,
                   "place_of_service": "11", "diagnosis_pointers": [1],
                   "service_date": "2005-03-14", "service_date_end": "2005-03-25"}],
    }
    # HI*BK*8901*BF*87200: the qualifier and code are separate elements, not a composite
    assert [(e.field, e.source.segment) for e in first.errors] == [("HI01", 23)]
    Claim.model_validate(first.data)
    # second subscriber: HL*2*3*22*1 names a parent HL 3 that does not exist
    assert [(e.field, e.source.segment) for e in second.errors] == [("HL02", 27), ("HI01", 32)]
    assert second.data["lines"][0]["number"] == 2
    assert second.data["lines"][0]["diagnosis_pointers"] == [1, 2, 3]
    with pytest.raises(ValidationError) as info:
        Claim.model_validate(second.data)  # SV101-2 478331 is six characters
    assert [e["loc"] for e in info.value.errors()] == [("lines", 0, "code")]


def test_different_separators_read_the_same():
    plain = read(DATA / "imsweb" / "x12_valid.txt")
    other = read(DATA / "imsweb" / "x12_valid_different_separators.txt")
    assert [strip_sources(r.data) for r in plain] == [strip_sources(r.data) for r in other]


def test_linuxforhealth_cob_example4_by_hand():
    [rec] = read(DATA / "linuxforhealth" / "demo.cob.example4.837")
    assert not rec.errors
    data = strip_sources(rec.data)
    assert data["filing_indicator"] == "MB"
    assert data["payer"] == {"id": "10234", "name": "MEDICARE"}
    assert data["patient"] == {"id": "102200221B1", "birth_date": "1956-01-10", "sex": "M"}
    assert data["rendering_provider"] == {"npi": "9090909090", "taxonomy": "207X00000X"}
    assert data["diagnoses"] == [] and data["diagnoses_icd9"] == ["71516", "71906"]
    assert data["lines"] == [{"number": 1, "code": "99203", "modifiers": ["25"], "charge": "120.00", "units": 1,
                              "diagnosis_pointers": [1, 2], "service_date": "2005-01-19"}]
    claim = Claim.model_validate(rec.data)
    assert claim.rendering_provider.taxonomy == "207X00000X"


def test_linuxforhealth_date_ranges_and_line_pos():
    [rec] = read(DATA / "linuxforhealth" / "demo.drug.example10.2.837")
    assert not rec.errors
    lines = rec.data["lines"]
    assert len(lines) == 6
    assert {(ln["service_date"], ln["service_date_end"], ln["place_of_service"], ln["units"]) for ln in lines[:1]} == {
        ("2004-02-01", "2004-02-07", "12", 7)
    }
    assert [ln["units"] for ln in lines] == [7, 7, 14, 7, 14, 7]
    Claim.model_validate(rec.data)


def test_line_rendering_provider_2420a():
    [rec] = read(DATA / "imsweb" / "x12_ambiguous_loop.txt")
    assert rec.data["lines"][0]["rendering_provider"] == {"npi": "058895", "taxonomy": "2420A"}
    assert rec.data["rendering_provider"] is None
    data = (DATA / "generated" / "dry-needling-commercial.837").read_bytes().replace(
        b"DTP*472*D8*20240103~\nLX*2~",
        b"DTP*472*D8*20240103~\nNM1*82*1*DOE*JANE****XX*1234567893~\nPRV*PE*PXC*225100000X~\nLX*2~",
    ).replace(b"SE*34*", b"SE*36*")
    [rec] = list(read_x12(io.BytesIO(data), "x.837"))
    assert not rec.errors
    assert rec.data["lines"][0]["rendering_provider"] == {"npi": "1234567893", "taxonomy": "225100000X"}
    assert "rendering_provider" not in rec.data["lines"][1]


def test_valid_claims_pass_the_model_or_fail_for_a_known_reason():
    """Every claim without reader errors validates, except for sample data the
    model rightly rejects (the TR3 example taxonomy 203BF0100Y, a 6-digit NPI)."""
    known = {
        ("billing_provider", "taxonomy"),
        ("lines", 0, "rendering_provider", "npi"),  # x12_ambiguous_loop: NPI 058895
        ("lines", 0, "rendering_provider", "taxonomy"),  # ... and taxonomy "2420A"
    }
    checked = 0
    for path in VALID:
        for rec in read(path):
            if rec.data is None or rec.errors:
                continue
            try:
                Claim.model_validate(rec.data)
            except ValidationError as exc:
                assert {e["loc"] for e in exc.errors()} <= known, (path, exc)
            checked += 1
    assert checked > 500


# --- structural errors ------------------------------------------------------------

def test_malformed_sample():
    path = DATA / "generated" / "dry-needling-malformed.837"
    [rec] = read(path)
    assert [(e.field, e.line, e.source.segment, e.claim_id) for e in rec.errors] == [
        ("SV104", 1, 31, "26463774"),
        ("DTP*472", 1, 30, "26463774"),
    ]
    assert "not a number" in rec.errors[0].message
    assert rec.data["lines"][1]["units"] == 2  # the rest of the claim is read
    with pytest.raises(ValidationError) as info:
        Claim.model_validate(rec.data)
    locs = {e["loc"] for e in info.value.errors()}
    assert ("lines", 0, "modifiers", 0) in locs  # GPX
    assert ("lines", 0, "service_date") in locs


@pytest.mark.parametrize("path", BROKEN_IMSWEB, ids=lambda p: p.name)
def test_broken_imsweb_files_give_clear_errors(path: Path):
    try:
        records = read(path)
    except ReadError as exc:
        assert str(path) in str(exc)
        return
    errors = [e for r in records for e in r.errors]
    assert errors, "a broken file must report something"
    for e in errors:
        assert e.source.file == str(path) and e.source.segment >= 1
        assert e.field and e.message


def test_specific_broken_files():
    def fields(name):
        return [(e.field, e.source.segment) for r in read(DATA / "imsweb" / name) for e in r.errors]

    with pytest.raises(ReadError, match=r"x12_bad_first_line.txt: .*ISA02 is 9 characters"):
        read(DATA / "imsweb" / "x12_bad_first_line.txt")
    with pytest.raises(ReadError, match=r"x12_no_isa_line.txt"):
        list(read_x12(io.BytesIO((DATA / "imsweb" / "x12_no_isa_line.txt").read_bytes()), str(DATA / "imsweb" / "x12_no_isa_line.txt")))
    assert ("<segment>", 6) in fields("x12_bad_segment_identifier.txt")  # "*IC*..." has no ID
    assert ("<segment>", 11) in fields("x12_bad_segment_identifier.txt")  # Nd4
    assert ("<segment>", 20) in fields("x12_bad_segment_identifier.txt")  # NM31
    assert ("NM101", 9) in fields("x12_bad_valid_code.txt")  # NM1*117
    assert ("NM101", 15) in fields("x12_loop_errors1_exceeds_max_1_parent.txt")  # second NM1*85
    assert ("NM1*85", 16) in fields("x12_loop_errors3_missing_loops.txt")
    assert ("CLM05", 31) in fields("x12_missing_elements.txt")
    assert ("NM1*IL", 21) in fields("x12_missing_required_loop_in_one_repeat.txt")
    assert ("SV1", 33) in fields("x12_missing_required_loops_mult_repeats.txt")
    assert ("N4", 12) in fields("x12_segments_out_of_order.txt")
    assert ("N3", 17) in fields("x12_segments_out_of_order.txt")
    assert ("HI", 21) in fields("x12_segment_errors.txt")
    assert fields("x12_999_accepted.txt") == [("ST01", 3)]
    assert fields("x223-test.txt") == [("ST03", 3)]


def test_errors_affect_only_their_claim():
    data = (DATA / "imsweb" / "x12_multiple_isa.txt").read_bytes()
    broken = data.replace(b"SV1*HC:99211:25*12.25*UN*1*11", b"SV1*HC:99211:25*12.25*UN*X*11", 1)
    records = list(read_x12(io.BytesIO(broken), "m.txt"))
    assert len(records) == 4
    assert [e.field for e in records[0].errors if e.field.startswith("SV")] == ["SV104"]
    assert not [e for r in records[1:] for e in r.errors if e.field.startswith("SV")]


def test_bad_second_isa_skips_only_that_interchange():
    data = (DATA / "imsweb" / "x12_multiple_isa.txt").read_bytes()
    second = data.index(b"ISA", 10)
    broken = data[:second] + data[second:].replace(b"*00*          *01*", b"*00*         *01*", 1)
    records = list(read_x12(io.BytesIO(broken), "m.txt"))
    assert [r.data["claim_id"] for r in records if r.data] == ["A37YH556", "A37YH667"]
    [envelope] = [r for r in records if r.data is None]
    assert envelope.errors[0].field == "ISA" and "ISA02" in envelope.errors[0].message


def test_several_interchanges_with_different_separators():
    a = (DATA / "imsweb" / "x12_valid.txt").read_bytes().rstrip(b"\n")
    b = (DATA / "imsweb" / "x12_valid_different_separators.txt").read_bytes()
    records = list(read_x12(io.BytesIO(a + b), "ab.txt"))
    assert len(records) == 4
    assert records[0].data["lines"] == [{**records[2].data["lines"][0], "source": records[0].data["lines"][0]["source"]}]


def test_non_837_transaction_is_skipped_and_reading_goes_on():
    ack = (DATA / "imsweb" / "x12_999_accepted.txt").read_bytes()
    claims = (DATA / "imsweb" / "x12_valid.txt").read_bytes()
    inst = (DATA / "imsweb" / "x223-test.txt").read_bytes()
    records = list(read_x12(io.BytesIO(ack + claims + inst + claims), "mix.txt"))
    assert [r.data["claim_id"] if r.data else r.errors[0].field for r in records] == [
        "ST01", "A37YH556", "A37YH667", "ST03", "A37YH556", "A37YH667"
    ]
    # a 999 without its SE: the next ISA closes it and the claims are still read
    cut = ack[: ack.index(b"SE*")]
    records = list(read_x12(io.BytesIO(cut + claims), "mix.txt"))
    assert [r.data["claim_id"] for r in records if r.data] == ["A37YH556", "A37YH667"]


def test_truncated_file_reports_missing_se():
    data = (DATA / "generated" / "dry-needling-commercial.837").read_bytes()
    cut = data[: data.index(b"LX*2")]
    [rec] = list(read_x12(io.BytesIO(cut), "cut.837"))
    assert rec.data["claim_id"] == "26463774"
    assert [e.field for e in rec.errors] == ["SE"]


def test_no_newlines_and_crlf():
    data = (DATA / "generated" / "dry-needling-commercial.837").read_bytes()
    [flat] = list(read_x12(io.BytesIO(data.replace(b"\n", b"")), "flat.837"))
    assert flat.source.line is None and flat.source.segment == 27
    [crlf] = list(read_x12(io.BytesIO(data.replace(b"\n", b"\r\n")), "crlf.837"))
    assert crlf.source.line == 27
    assert strip_sources(flat.data) == strip_sources(crlf.data)


def test_not_x12_raises_read_error():
    with pytest.raises(ReadError, match="x.txt"):
        list(read_x12(io.BytesIO(b"hello world, this is not x12"), "x.txt"))
    with pytest.raises(ReadError, match="e.txt"):
        list(read_x12(io.BytesIO(b""), "e.txt"))


def test_read_stream_routes_gs_without_isa_to_x12():
    path = DATA / "imsweb" / "x12_no_isa_line.txt"
    with pytest.raises(ReadError, match="x12_no_isa_line.txt: .*ISA"):
        list(read_stream(io.BytesIO(path.read_bytes()), str(path)))


def test_streaming_reads_lazily(monkeypatch):
    monkeypatch.setattr(x12_tokens, "CHUNK", 4096)
    path = DATA / "generated" / "synthetic-500-claims.837"
    stream = io.BytesIO(path.read_bytes())
    it = read_x12(stream, "s.837")
    first = next(it)
    assert first.data["claim_id"] == "PCN000001"
    assert stream.tell() < 20000
    assert sum(1 for _ in it) == 499


# --- privacy ----------------------------------------------------------------------

def _patient_values() -> set[str]:
    values: set[str] = set()
    for path in ALL:
        text = path.read_bytes().decode("latin-1")
        if len(text) < 106 or not text.startswith("ISA"):
            text = "ISA" + "*" * 102 + ":~" + text  # no ISA: assume * and ~
        elem, term = text[3], text[105]
        for seg in text.split(term):
            el = seg.strip().split(elem)
            if el[0] == "NM1" and len(el) > 1 and el[1] in ("IL", "QC"):
                values.update(v for v in el[3:5] if len(v) >= 3)
            if el[0] in ("N3", "N4"):
                values.update(v for v in el[1:3] if len(v) >= 4 and not v.isdigit())
    return values


def test_no_patient_names_in_error_messages():
    names = _patient_values()
    assert {"SMITH", "DOE", "JONES"} <= names
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")
    messages = []
    for path in ALL:
        try:
            messages += [e.message for r in read(path) for e in r.errors]
        except ReadError as exc:
            messages.append(str(exc).replace(str(path), ""))
    assert len(messages) > 100
    leaks = [m for m in messages if pattern.search(m)]
    assert leaks == []


def test_no_patient_names_in_claim_data():
    names = _patient_values()
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")
    for path in VALID:
        for rec in read(path):
            if rec.data:
                flat = repr({k: v for k, v in rec.data.items() if k not in ("payer", "source")})
                assert not pattern.search(flat), path


# --- robustness -------------------------------------------------------------------

_BASE = (DATA / "generated" / "dry-needling-commercial.837").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(_BASE) - 1), st.integers(0, 3), st.binary(max_size=3)), max_size=6))
def test_mutated_input_never_raises_anything_but_read_error(mutations):
    data = bytearray(_BASE)
    for pos, cut, insert in mutations:
        pos = min(pos, len(data))
        data[pos : pos + cut] = insert
    try:
        for rec in read_x12(io.BytesIO(bytes(data)), "fuzz.837"):
            for e in rec.errors:
                assert e.source is not None and e.source.file == "fuzz.837"
    except ReadError as exc:
        assert "fuzz.837" in str(exc)
