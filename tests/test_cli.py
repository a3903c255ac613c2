"""The command line: formats, exit status, standard input, listings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import make_claim

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "claims.json"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scrubber.cli", *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_check_example_text_report_and_exit_status():
    proc = run("check", str(EXAMPLE))
    assert proc.returncode == 1
    assert "claim DN-1001" in proc.stdout and "DN-PAIR-SAMEDAY" in proc.stdout and "fix: drop line 2" in proc.stdout
    assert "source: CMS NCCI" in proc.stdout
    assert "3 claims read: 2 rejected, 0 warnings, 1 clean, 0 invalid, 0 failed" in proc.stderr


def test_json_is_one_object_per_claim_with_the_contract_fields():
    proc = run("check", "--format", "json", "--fix", str(EXAMPLE))
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["claim_id"] for d in docs] == ["DN-1001", "DN-1002", "DN-1003"]
    for doc in docs:
        assert {"claim_id", "source", "status", "findings", "fixed_claim", "changes"} <= set(doc)
        for finding in doc["findings"]:
            assert {"rule_id", "severity", "line", "code", "message", "citation", "fix"} <= set(finding)
    assert docs[0]["fixed_claim"]["lines"][0]["modifiers"] == ["GP", "GY", "GX"]


def test_clean_input_exits_zero_and_stdin_is_read():
    claim = make_claim({"modifiers": ["GP"]})
    proc = run("check", "--format", "json", "-", stdin=json.dumps(claim) + "\n")
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "clean"


def test_invalid_claim_is_reported_with_field_and_exit_one(tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(make_claim({"units": "two"})) + "\n{oops\n")
    proc = run("check", str(path))
    assert proc.returncode == 1
    assert "field lines[1].units" in proc.stdout and "invalid JSON" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_unreadable_input_and_misuse_exit_two(tmp_path):
    proc = run("check", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "missing.json" in proc.stderr and "Traceback" not in proc.stderr
    assert run("check").returncode == 2
    assert run("check", "--format", "xml", str(EXAMPLE)).returncode == 2
    bad_config = tmp_path / "c.yaml"
    bad_config.write_text("rules: {NOPE: off}\n")
    proc = run("check", "--config", str(bad_config), str(EXAMPLE))
    assert proc.returncode == 2 and "NOPE" in proc.stderr


def test_rules_lists_the_plugin_rules_with_citations():
    proc = run("rules", "--format", "json")
    rows = {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert rows["DN-UNITS-LINE"]["plugin"] == "dry-needling" and "MUE" in rows["DN-UNITS-LINE"]["citation"]
    assert rows["DN-MCR-EXCLUDED"]["severity"] == "error"
    text = run("rules").stdout
    assert "DN-PTP-NEVER" in text and "source: CMS NCCI" in text


def test_rules_explain_shows_source_dates_and_conditions():
    proc = run("rules", "--explain", "DN-MCR-STATUS-N")
    assert proc.returncode == 0
    assert "effective: 2020-01-01 to 2020-01-20" in proc.stdout
    assert "line: dn = true; lacks modifier GY" in proc.stdout
    assert "ruleset:   dry-needling/medicare" in proc.stdout
    assert run("rules", "--explain", "NOPE-X").returncode == 2


def test_plugins_lists_versions_and_tables():
    proc = run("plugins")
    assert "dry-needling 0.1.0" in proc.stdout and "table ncci_ptp_practitioner 2024-07 (1552 rows)" in proc.stdout
    blocked = run("plugins", "--block-plugin", "dry-needling")
    assert "dry-needling 0.1.0 (scrubber_dry_needling.plugin): blocked" in blocked.stdout
