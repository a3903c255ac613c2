"""837P files end to end: scrubbing every sample, and --fix on an 837P."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from scrubber.cli import main
from scrubber.readers import ReadError, read_path
from scrubber.readers.x12 import read_x12

DATA = Path(__file__).parent / "data" / "837p"
SAMPLES = sorted(p for p in DATA.glob("*/*") if p.name not in ("LICENSE", "README.md"))
COMMERCIAL = DATA / "generated" / "dry-needling-commercial.837"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_the_reader_accepts_is_scrubbed_without_failure(dn_scrubber, path):
    try:
        records = list(read_path(str(path)))
    except ReadError as exc:
        assert path.name in str(exc)
        return
    results = list(dn_scrubber.scrub_many(records))
    assert len(results) == len(records)
    assert not [r for r in results if r.status.value == "failed"]


def _medicare_pt_file(tmp_path: Path) -> Path:
    """The commercial sample turned into a Medicare claim from a physical
    therapist with 20561 x2 and 20560 on the same day (a new file; the sample
    itself is not edited)."""
    text = COMMERCIAL.read_text()
    text = text.replace("SBR*P**2222-SJ******CI~", "SBR*P**2222-SJ******MB~")
    text = text.replace("PRV*BI*PXC*203BF0100Y~", "PRV*BI*PXC*225100000X~")
    text = text.replace("SV1*HC:20561:GP*120.00*UN*1***1~", "SV1*HC:20561:GP*120.00*UN*2***1~")
    text = text.replace("SV1*HC:97140:GP:59*60.00*UN*2***1:2~", "SV1*HC:20560:GP*60.00*UN*1***1:2~")
    path = tmp_path / "medicare-pt.837"
    path.write_text(text)
    return path


def _run(*argv: str) -> tuple[int, str, str]:
    import sys

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(list(argv))
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_fix_writes_a_corrected_837_that_scrubs_clean_of_the_fixed_findings(tmp_path):
    source = _medicare_pt_file(tmp_path)
    fixed = tmp_path / "fixed.837"
    code, out, err = _run("check", "--format", "json", "--fix", "--fix-output", str(fixed), str(source))
    assert code == 1, err
    [result] = [json.loads(line) for line in out.splitlines()]
    before = {(f["rule_id"], f["line"]) for f in result["findings"]}
    assert {("DN-UNITS-LINE", 1), ("DN-PAIR-SAMEDAY", 2), ("DN-MCR-EXCLUDED", 1)} <= before
    # Structurally valid: the reader finds no error in the corrected file.
    [record] = list(read_x12(io.BytesIO(fixed.read_bytes()), str(fixed)))
    assert record.errors == []
    lines = record.data["lines"]
    assert [(ln["number"], ln["code"], ln["units"], ln["modifiers"]) for ln in lines] == [(1, "20561", 1, ["GP", "GY"])]
    assert record.data["total_charge"] == "120.00"  # CLM02 less the dropped 20560 line
    code, out, err = _run("check", "--format", "json", str(fixed))
    after = {(f["rule_id"], f["line"]) for f in json.loads(out)["findings"]}
    assert not after & before and code == 0, after
    audit = [json.loads(line) for line in (tmp_path / "fixed.837.audit.ndjson").read_text().splitlines()]
    assert {a["rule_id"] for a in audit if a.get("rule_id")} >= {"DN-UNITS-LINE", "DN-PAIR-SAMEDAY", "DN-MCR-EXCLUDED"}
    assert source.read_bytes() != fixed.read_bytes()


def test_fix_output_needs_fix_and_one_input(tmp_path):
    code, _, err = _run("check", "--fix-output", str(tmp_path / "x"), str(COMMERCIAL))
    assert code == 2 and "--fix-output needs --fix" in err


def test_validate_reports_implementation_guide_errors_without_values(tmp_path):
    malformed = DATA / "generated" / "dry-needling-malformed.837"
    ack = tmp_path / "ack.999"
    code, out, err = _run("check", "--validate", "--ack-999", str(ack), str(malformed))
    assert code == 1
    assert "SV104" in err and "implementation-guide validation failed" in err
    assert "GPX" not in err  # pyx12 quotes element values; they are cut
    assert ack.read_text().startswith("ISA") and "ST*999" in ack.read_text()
    code, out, err = _run("check", "--validate", str(COMMERCIAL))
    assert code == 0 and "implementation-guide validation passed" in err
