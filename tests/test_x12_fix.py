from __future__ import annotations

from pathlib import Path

import pytest

from scrubber.readers import ReadError, read_path
from scrubber.x12_fix import FixError, apply_fixes

DATA = Path(__file__).parent / "data" / "837p"
SAMPLES = sorted(p for p in DATA.glob("*/*") if p.name not in ("LICENSE", "README.md"))
COMMERCIAL = DATA / "generated" / "dry-needling-commercial.837"
CLM_SEGMENT = 27  # CLM*26463774 in dry-needling-commercial.837


def _reread(tmp_path: Path, data: bytes, name: str = "fixed.837"):
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_path(str(path)))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_edits_round_trip_identical(path: Path):
    data = path.read_bytes()
    try:
        out, audit = apply_fixes(data, {}, str(path))
    except ReadError:
        pytest.skip("file does not parse (ISA)")
    assert out == data
    assert audit == []


def test_add_modifier(tmp_path):
    data = COMMERCIAL.read_bytes()
    out, audit = apply_fixes(data, {CLM_SEGMENT: [{"rule_id": "R1", "line": 1, "action": "add_modifier", "modifier": "59"}]}, "c.837")
    assert b"SV1*HC:20561:GP:59*120.00*UN*1***1~" in out
    assert len(out) == len(data) + 3
    [entry] = audit
    assert entry["claim_id"] == "26463774" and entry["line"] == 1 and entry["segment"] == 31
    assert entry["before"] == "SV1*HC:20561:GP*120.00*UN*1***1"
    assert entry["after"] == "SV1*HC:20561:GP:59*120.00*UN*1***1"
    [rec] = _reread(tmp_path, out)
    assert rec.data["lines"][0]["modifiers"] == ["GP", "59"]
    assert not rec.errors


def test_remove_modifier_and_set_units(tmp_path):
    data = COMMERCIAL.read_bytes()
    edits = {
        str(CLM_SEGMENT): [
            {"rule_id": "R2", "line": 2, "action": "remove_modifier", "modifier": "59"},
            {"rule_id": "R3", "line": 2, "action": "set_units", "units": 1},
        ]
    }
    out, audit = apply_fixes(data, edits, "c.837")
    assert b"SV1*HC:97140:GP*60.00*UN*1***1:2~" in out
    assert [a["action"] for a in audit] == ["remove_modifier", "set_units"]
    [rec] = _reread(tmp_path, out)
    line = rec.data["lines"][1]
    assert line["modifiers"] == ["GP"] and line["units"] == 1


def test_set_units_keeps_decimal_style():
    path = DATA / "linuxforhealth" / "demo.example1.837"
    data = path.read_bytes()
    out, _ = apply_fixes(data, {27: [{"rule_id": "U", "line": 3, "action": "set_units", "units": 2}]}, str(path))
    assert b"SV1*HC:99214*35.00*UN*2.00***2~" in out


def test_drop_line_renumbers_and_updates_total_and_se(tmp_path):
    data = COMMERCIAL.read_bytes()
    out, audit = apply_fixes(data, {CLM_SEGMENT: [{"rule_id": "DROP", "line": 1, "action": "drop_line"}]}, "c.837")
    text = out.decode()
    assert "SV1*HC:20561" not in text
    assert "CLM*26463774*60.00***11:B:1*Y*A*Y*I~" in text
    assert "LX*1~\nSV1*HC:97140:GP:59*60.00" in text
    assert "LX*2" not in text
    assert "SE*31*0021~" in text
    # everything else is unchanged, line by line
    assert len(text.splitlines()) == len(data.decode().splitlines()) - 3
    actions = [a["action"] for a in audit]
    assert actions == ["drop_line", "update_total", "renumber_line", "update_segment_count"]
    assert audit[0]["after"] is None and audit[0]["before"].startswith("LX*1~SV1*HC:20561")
    [rec] = _reread(tmp_path, out)
    assert not rec.errors
    assert [(ln["number"], ln["code"]) for ln in rec.data["lines"]] == [(1, "97140")]
    assert rec.data["total_charge"] == "60.00"


def test_total_keeps_decimal_style():
    from decimal import Decimal

    from scrubber.x12_fix import _format_like

    assert _format_like("500", Decimal("487.75")) == "487.75"
    assert _format_like("500", Decimal("488.00")) == "488"
    assert _format_like("180.00", Decimal("60")) == "60.00"
    assert _format_like("79.04", Decimal("64.04")) == "64.04"


def test_dropping_the_only_line_is_refused():
    path = DATA / "imsweb" / "x12_writer_test.txt"
    data = path.read_bytes()
    # one line only: dropping it is refused, not applied
    out, audit = apply_fixes(data, {25: [{"rule_id": "D", "line": 1, "action": "drop_line"}]}, str(path))
    assert out == data
    assert audit[0]["applied"] is False


def test_drop_middle_line_of_four(tmp_path):
    path = DATA / "linuxforhealth" / "demo.example1.837"
    data = path.read_bytes()
    out, audit = apply_fixes(data, {27: [{"rule_id": "D", "line": 2, "action": "drop_line"}]}, str(path))
    [rec] = _reread(tmp_path, out)
    assert [(ln["number"], ln["code"]) for ln in rec.data["lines"]] == [(1, "99213"), (2, "99214"), (3, "86663")]
    assert rec.data["total_charge"] == "85.00"
    assert b"SE*37*0021~" in out


def test_add_modifier_limits():
    data = COMMERCIAL.read_bytes()
    edits = {CLM_SEGMENT: [
        {"rule_id": "A", "line": 2, "action": "add_modifier", "modifier": "59"},  # already there
        {"rule_id": "B", "line": 2, "action": "add_modifier", "modifier": "XS"},
        {"rule_id": "C", "line": 2, "action": "add_modifier", "modifier": "KX"},
        {"rule_id": "D", "line": 2, "action": "add_modifier", "modifier": "GA"},  # fifth: refused
    ]}
    out, audit = apply_fixes(data, edits, "c.837")
    assert b"SV1*HC:97140:GP:59:XS:KX*60.00" in out
    assert [a["applied"] for a in audit] == [False, True, True, False]


def test_bad_edits_raise_fix_error():
    data = COMMERCIAL.read_bytes()
    with pytest.raises(FixError, match="segment 28 is not a CLM"):
        apply_fixes(data, {28: []}, "c.837")
    with pytest.raises(FixError, match="no service line LX\\*9"):
        apply_fixes(data, {CLM_SEGMENT: [{"rule_id": "x", "line": 9, "action": "drop_line"}]}, "c.837")
    with pytest.raises(FixError, match="unknown action"):
        apply_fixes(data, {CLM_SEGMENT: [{"rule_id": "x", "line": 1, "action": "explode"}]}, "c.837")
    with pytest.raises(FixError, match="modifier"):
        apply_fixes(data, {CLM_SEGMENT: [{"rule_id": "x", "line": 1, "action": "add_modifier", "modifier": "X*Y"}]}, "c.837")


def test_other_separators_and_crlf_preserved(tmp_path):
    path = DATA / "imsweb" / "x12_valid_different_separators.txt"
    data = path.read_bytes().replace(b"\n", b"\r\n")
    out, audit = apply_fixes(data, {22: [{"rule_id": "M", "line": 1, "action": "add_modifier", "modifier": "59"}]}, "d.txt")
    assert b"SV1~HC^99211^25^59~12.25~UN~1~11~~1~~Y_\r\n" in out
    assert out.replace(b"^25^59~", b"^25~") == data
