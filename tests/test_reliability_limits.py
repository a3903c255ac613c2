"""Limits and plugin trust (issue 7): inputs beyond sane bounds are refused
with a clear error before they cost memory; YAML rule and config files
cannot run code or expand alias bombs; only allowed plugins load."""

from __future__ import annotations

import io
import json
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from conftest import make_claim
from scrubber import Scrubber
from scrubber.config import ConfigError, load_config
from scrubber.models import Status
from scrubber.readers import ReadError, read_path, read_stream
from scrubber.rules import RuleFileError, load_yaml, parse_ruleset
from scrubber.scrubber import ScrubberError

from test_reliability_fuzz import _segments, _sv1_claim, run_cli

DATA = Path(__file__).parent / "data" / "837p"
X12 = (DATA / "generated" / "dry-needling-commercial.837").read_bytes()


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber(allow_plugins=["dry-needling"])


def _read(data: bytes, name: str = "in.json") -> list:
    return list(read_stream(io.BytesIO(data), name))


def _peak(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        value = fn()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- size limits ------------------------------------------------------------------------


def test_file_size_limit_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "claims.ndjson"
    path.write_text(json.dumps(make_claim()) + "\n")
    monkeypatch.setenv("SCRUBBER_MAX_FILE_BYTES", "100")
    with pytest.raises(ReadError, match=r"claims.ndjson: file is \d+ bytes, over the limit of 100 \(SCRUBBER_MAX_FILE_BYTES\)"):
        list(read_path(str(path)))
    code, out, err = run_cli(["check", str(path)])
    assert code == 2 and "SCRUBBER_MAX_FILE_BYTES" in err and "0 claims read" in err


def test_file_size_limit_counts_standard_input(monkeypatch):
    monkeypatch.setenv("SCRUBBER_MAX_FILE_BYTES", "40000")
    data = ("\n".join(json.dumps(make_claim(claim_id=f"S{n}")) for n in range(200)) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, err = run_cli(["check", "--format", "json", "-"])
    assert code == 2
    assert "<stdin>: input is larger than 40000 bytes (SCRUBBER_MAX_FILE_BYTES)" in err
    assert 0 < len(out.splitlines()) < 200  # what was read before the limit is reported


def test_bad_limit_value_is_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(make_claim()))
    for bad in ("lots", "0", "-5"):
        monkeypatch.setenv("SCRUBBER_MAX_CLAIMS", bad)
        code, _, err = run_cli(["check", str(path)])
        assert code == 2 and "SCRUBBER_MAX_CLAIMS must be a positive whole number" in err


def test_json_document_limit(monkeypatch):
    monkeypatch.setenv("SCRUBBER_MAX_DOCUMENT_BYTES", "1000")
    doc = json.dumps([make_claim(claim_id=f"D{n}") for n in range(10)]).encode()
    with pytest.raises(ReadError, match=r"in.json: a single JSON document .* larger than 1000 bytes \(SCRUBBER_MAX_DOCUMENT_BYTES\)"):
        _read(doc)
    monkeypatch.setenv("SCRUBBER_MAX_DOCUMENT_BYTES", str(len(doc)))
    assert len(_read(doc)) == 10


def test_ndjson_line_limit_skips_the_line_without_holding_it(monkeypatch):
    monkeypatch.setenv("SCRUBBER_MAX_LINE_BYTES", str(1 << 20))
    good = json.dumps(make_claim()).encode()
    huge = b'{"claim_id": "H", "x": "' + b"x" * (40 << 20) + b'"}'
    data = good + b"\n" + huge + b"\n" + good + b"\n"
    stream = io.BytesIO(data)
    records, peak = _peak(lambda: list(read_stream(stream, "big.ndjson")))
    assert [r.errors[0].message if r.errors else "ok" for r in records] == [
        "ok", f"line longer than {1 << 20} bytes (SCRUBBER_MAX_LINE_BYTES)", "ok"]
    assert records[1].source.line == 2 and records[2].source.line == 3
    assert peak < 8 << 20, peak


def test_ndjson_line_exactly_at_the_limit_is_read(monkeypatch):
    line = json.dumps(make_claim()).encode()
    monkeypatch.setenv("SCRUBBER_MAX_LINE_BYTES", str(len(line)))
    records = _read(line + b"\n" + line + b"\n" + line)
    assert [r.errors for r in records] == [[], [], []]


def test_x12_segment_limit_refuses_a_runaway_segment(monkeypatch):
    monkeypatch.setenv("SCRUBBER_MAX_SEGMENT_BYTES", "4096")
    data = X12[:300] + b"NTE*ADD*" + b"X" * (30 << 20)
    start = time.perf_counter()
    with pytest.raises(ReadError, match=r"runaway.837: segment \d+ \(at byte \d+\) is longer than 4096 bytes"):
        _peak(lambda: list(read_stream(io.BytesIO(data), "runaway.837")))
    assert time.perf_counter() - start < 5
    monkeypatch.delenv("SCRUBBER_MAX_SEGMENT_BYTES")
    # the default (1 MiB) also stops it, without holding 30 MiB of segment text
    with pytest.raises(ReadError, match="SCRUBBER_MAX_SEGMENT_BYTES"):
        _, peak = _peak(lambda: list(read_stream(io.BytesIO(data), "runaway.837")))


def test_claims_per_file_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRUBBER_MAX_CLAIMS", "3")
    ndjson = tmp_path / "five.ndjson"
    ndjson.write_text("\n".join(json.dumps(make_claim(claim_id=f"N{n}")) for n in range(5)) + "\n")
    array = tmp_path / "five.json"
    array.write_text(json.dumps([make_claim(claim_id=f"A{n}") for n in range(5)]))
    for path in (ndjson, array):
        code, out, err = run_cli(["check", "--format", "json", str(path)])
        assert code == 2
        assert f"{path}: more than 3 claims in one file, claim #4 refused (SCRUBBER_MAX_CLAIMS)" in err
        assert len(out.splitlines()) == 3 and "3 claims read" in err
    monkeypatch.setenv("SCRUBBER_MAX_CLAIMS", "1")
    with pytest.raises(ReadError, match="more than 1 claims"):
        list(read_path(str(DATA / "generated" / "synthetic-500-claims.837")))


# -- per-claim limits ---------------------------------------------------------------------


def test_x12_claim_over_50_lines_keeps_only_50(scrubber):
    records, peak = _peak(lambda: _read(_sv1_claim(3000), "long.837"))
    (record,) = records
    assert len(record.data["lines"]) == 50
    assert [e.message for e in record.errors if e.field == "LX"] == [
        f"claim has more than 50 service lines (LX); the 837P allows 50 (segment {record.errors[0].source.segment})"]
    assert scrubber.scrub(record).status is Status.invalid
    assert peak < 10 << 20, peak


def test_x12_50_lines_is_fine(scrubber):
    (record,) = _read(_sv1_claim(50), "fifty.837")
    assert record.errors == [] and len(record.data["lines"]) == 50
    assert scrubber.scrub(record).status is not Status.invalid


def test_x12_errors_per_claim_are_capped():
    data = _sv1_claim(40, modifiers=b"GP").replace(b"*UN*1", b"*UN*x")
    segments, term = _segments(data)
    (record,) = _read(data, "bad.837")
    assert 40 <= len(record.errors) <= 101
    data = _sv1_claim(2000).replace(b"*UN*1", b"*UN*x")
    (record,) = _read(data, "bad.837")
    assert len(record.errors) == 101
    assert record.errors[-1].message == "more than 100 errors here; the rest are not listed"


def test_json_claim_over_50_lines_refused_before_validation(scrubber):
    claim = make_claim(*[{} for _ in range(51)], claim_id="LONG")
    (record,) = _read(json.dumps(claim).encode())
    result = scrubber.scrub(record)
    assert result.status is Status.invalid and result.claim_id == "LONG"
    assert result.errors[0].field == "lines"
    assert result.errors[0].message == "claim has 51 service lines; at most 50 are allowed (837P loop 2400)"
    ok = make_claim(*[{"number": n} for n in range(1, 51)])
    assert scrubber.scrub(_read(json.dumps(ok).encode())[0]).status is not Status.invalid


@pytest.mark.parametrize("change, field", [
    ({"lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03", "modifiers": ["GP", "GY", "59", "XS", "KX"]}]},
     "lines[1].modifiers"),
    ({"claim_id": "C" * 49}, "claim_id"),
    ({"payer": {"name": "P" * 201}}, "payer.name"),
    ({"diagnoses": ["M5450"] * 13}, "diagnoses"),
    ({"lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03", "units": 100000}]}, "lines[1].units"),
    ({"lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03", "charge": "1" * 20}]}, "lines[1].charge"),
    ({"lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03", "diagnosis_pointers": [1, 1, 1, 1, 1]}]},
     "lines[1].diagnosis_pointers"),
])
def test_oversized_fields_are_invalid_and_named(scrubber, change, field):
    result = scrubber.scrub(make_claim(**change) if "lines" not in change else {**make_claim(), **change})
    assert result.status is Status.invalid
    assert field in [e.field for e in result.errors], result.errors


def test_x12_diagnoses_beyond_12_make_the_claim_invalid(scrubber):
    segments, term = _segments(X12)
    i = next(n for n, s in enumerate(segments) if s.strip().startswith(b"HI*"))
    segments[i:i + 1] = [b"HI*" + b"*".join([b"ABK:M5450"] + [b"ABF:M7918"] * 11)] * 500
    (record,) = _read(term.join(segments), "dx.837")
    assert len(record.data["diagnoses"]) == 13
    result = scrubber.scrub(record)
    assert result.status is Status.invalid and "diagnoses" in [e.field for e in result.errors]


# -- YAML: no code, no alias bombs -------------------------------------------------------------

BOMB = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8))

CODE_TAGS = [
    "!!python/object/apply:os.system ['touch /tmp/scrubber-pwned']",
    "!!python/object/new:os.system ['touch /tmp/scrubber-pwned']",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:builtins.dict {}",
    "!custom 1",
]


def test_alias_bomb_refused_quickly_in_rule_and_config_files(tmp_path):
    start = time.perf_counter()
    with pytest.raises(RuleFileError, match="aliases are not allowed"):
        parse_ruleset(BOMB, "bomb.yaml")
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    with pytest.raises(ConfigError, match="bomb.yaml: cannot parse: .*aliases are not allowed"):
        load_config(path)
    with pytest.raises(ScrubberError, match="aliases"):
        Scrubber(config=path, allow_plugins=["dry-needling"])
    scrubber = Scrubber(rulesets=[path], entry_points=False)
    assert "aliases are not allowed" in scrubber.rule_file_problems[0].message
    assert time.perf_counter() - start < 5
    # merge keys need aliases too
    with pytest.raises(RuleFileError, match="aliases"):
        parse_ruleset("base: &b {severity: info}\nruleset: t\nrules:\n  - <<: *b\n", "merge.yaml")


@pytest.mark.parametrize("tag", CODE_TAGS)
def test_tags_that_could_build_objects_are_refused(tag, tmp_path):
    marker = Path("/tmp/scrubber-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(RuleFileError, match="not valid YAML"):
        parse_ruleset(f"ruleset: {tag}\nrules: []\n", "tag.yaml")
    path = tmp_path / "tag.yaml"
    path.write_text(f"rules: {tag}\n")
    with pytest.raises(ConfigError, match="tag.yaml: cannot parse"):
        load_config(path)
    with pytest.raises(Exception):
        load_yaml(f"x: {tag}\n")
    assert not marker.exists()


@pytest.mark.parametrize("tag", ["!!binary aGVsbG8=", "!!set {a, b}", "!!timestamp 2001-12-14"])
def test_safe_standard_tags_still_fail_validation(tag):
    with pytest.raises(RuleFileError, match="tag.yaml, "):  # data, not objects: plain validation errors
        parse_ruleset(f"ruleset: {tag}\nrules: [{{id: T-A}}]\n", "tag.yaml")


def test_cli_refuses_a_config_with_code_tags(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("plugins: !!python/object/apply:os.system ['touch /tmp/scrubber-pwned']\n")
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps(make_claim()))
    code, out, err = run_cli(["check", "--config", str(path), str(claims)])
    assert code == 2 and "evil.yaml: cannot parse" in err and out == ""
    assert not Path("/tmp/scrubber-pwned").exists()


def test_rule_templates_cannot_reach_python_attributes():
    text = ("ruleset: t\nrules: [{id: T-A, title: t, severity: info, message: '{line.__class__.__mro__}', citation: c, "
            "when: [{fact: line}], then: [{finding: {line: line}}]}]")
    with pytest.raises(RuleFileError, match="must be written"):
        parse_ruleset(text, "t.yaml")
    text = text.replace("{line.__class__.__mro__}", "{line.__class__}")
    ruleset = parse_ruleset(text, "t.yaml")  # a field name like any other: looked up in the fact dict
    scrubber = Scrubber(rulesets=[ruleset], entry_points=False)
    (finding,) = scrubber.scrub(make_claim()).findings
    assert finding.message == ""


# -- plugin allow-list --------------------------------------------------------------------------


def test_allow_plugin_flag_limits_loaded_plugins():
    code, out, err = run_cli(["plugins", "--format", "json", "--allow-plugin", "nobody"])
    rows = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert code == 0 and rows["dry-needling"]["status"] == "not allowed" and rows["dry-needling"]["rules"] == 0
    code, out, err = run_cli(["plugins", "--format", "json", "--allow-plugin", "dry-needling"])
    rows = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert rows["dry-needling"]["status"] == "loaded" and rows["dry-needling"]["rules"] > 10


def test_environment_allow_list_wins_over_the_flag(monkeypatch, tmp_path):
    monkeypatch.setenv("SCRUBBER_PLUGINS", "someone-else")
    claims = tmp_path / "c.json"
    claims.write_text(json.dumps(make_claim({"units": 3})))
    code, out, err = run_cli(["check", "--format", "json", "--allow-plugin", "dry-needling", str(claims)])
    assert json.loads(out)["findings"] == []  # the plugin did not load: no dry-needling rules ran
    monkeypatch.setenv("SCRUBBER_PLUGINS", "dry-needling")
    monkeypatch.setenv("SCRUBBER_BLOCK_PLUGINS", "dry-needling")
    assert Scrubber(allow_plugins=["dry-needling"]).plugins.info["dry-needling"].status == "blocked"


def test_extra_plugins_obey_the_allow_list():
    class Spy:
        from scrubber import hookimpl

        @hookimpl
        def scrubber_review(self, claim, findings):
            raise AssertionError("must not run")

    scrubber = Scrubber(allow_plugins=["dry-needling"], plugins=[("spy", Spy())])
    assert scrubber.plugins.info["spy"].status == "not allowed"
    assert scrubber.scrub(make_claim()).status is not Status.failed
