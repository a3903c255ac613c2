"""``scrubber rules --explain RULE_ID``: title, severity, source, effective
dates, payers, the rule set it comes from, the message, and the conditions and
actions in readable form."""

from __future__ import annotations

import textwrap

from conftest import CHAIN

from scrubber.cli import main


def explain(capsys, rule_id, *extra):
    code = main(["rules", "--explain", rule_id, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_dated_rule_from_a_rule_file(capsys):
    code, out, _ = explain(capsys, "T-DATED", "--rules", str(CHAIN), "--block-plugin", "dry-needling")
    assert code == 0
    assert out.splitlines()[0] == "T-DATED: effective only from 2024-01-01 to 2024-06-30"
    assert "  severity:  error\n" in out
    assert "  source:    Test effective dates\n" in out
    assert "  effective: 2024-01-01 to 2024-06-30 (dates of service)\n" in out
    assert f"  ruleset:   test/chain ({CHAIN}), plugin -\n" in out
    assert "version 1; watches 20561, 11111" in out
    assert "  message:   Line {line.number}: dated rule\n" in out
    assert "      line: code = 20561\n" in out and "      finding on line\n" in out


def test_explain_conditions_negation_joins_and_fixes(capsys):
    _, out, _ = explain(capsys, "T-NO-CHAIN", "--rules", str(CHAIN), "--block-plugin", "dry-needling")
    assert "      line: code = 11111\n" in out
    assert "      no level3: line = line.number\n" in out
    _, out, _ = explain(capsys, "T-UNITS", "--rules", str(CHAIN), "--block-plugin", "dry-needling")
    assert "      line: limit is set; units > its limit\n" in out
    assert "finding on line; fix: set units to {line.limit}" in out
    _, out, _ = explain(capsys, "T-LEVEL-TWO", "--rules", str(CHAIN), "--block-plugin", "dry-needling")
    assert "  severity:  (derives facts only)\n" in out
    assert "line: number = l1.line; lacks modifier GY" in out
    assert "derive level2: line = {l1.line}, tag = {l1.tag}-two" in out
    _, out, _ = explain(capsys, "T-MEDICARE", "--rules", str(CHAIN), "--block-plugin", "dry-needling")
    assert "  payers:    classes medicare_ffs\n" in out and "  effective: always\n" in out


def test_explain_dry_needling_rule_with_several_engine_rules(capsys):
    code, out, _ = explain(capsys, "DN-MCR-NOT-COVERED-DX", "--allow-plugin", "dry-needling")
    assert code == 0
    assert "  severity:  error\n" in out and "source:    CMS NCD 30.3.3; CR 11755" in out
    assert "ruleset:   dry-needling/medicare (" in out and "plugin dry-needling" in out
    assert "engine rule 1 of 2" in out and "engine rule 2 of 2" in out
    assert "modifier in [GA, GZ]" in out and "lacks modifier GA, GZ" in out
    assert "fix: add modifier GA or GZ (a person chooses)" in out
    _, out, _ = explain(capsys, "DN-MCR-STATUS-N", "--allow-plugin", "dry-needling")
    assert "  effective: 2020-01-01 to 2020-01-20 (dates of service)\n" in out


def test_explain_dates_and_payers_that_differ_between_engine_rules(tmp_path, capsys):
    path = tmp_path / "split.yaml"
    path.write_text(textwrap.dedent("""
        ruleset: t/split
        rules:
          - id: T-SPLIT
            title: one rule, two engine rules
            severity: warning
            message: "Line {line.number}"
            citation: test
            effective: 2023-01-01
            payers: {ids: ["777"]}
            when: [{fact: line, where: {code: {in: ["20561", "20560"]}, units: {gte: 2}}}]
            then: [{finding: {line: line, fix: {action: drop_line}}}]
          - id: T-SPLIT
            title: one rule, two engine rules
            severity: warning
            message: "Line {line.number}"
            citation: test
            expires: 2022-12-31
            payers: {filing_indicators: [MB]}
            when: [{fact: line, any_of: [{code: "97140"}, {units: {lt: 1}, pos: "11"}]}]
            then: [{finding: {line: line}}]
    """))
    _, out, _ = explain(capsys, "T-SPLIT", "--rules", str(path), "--block-plugin", "dry-needling")
    assert "  effective: differs between the engine rules below\n" in out
    assert "    effective from 2023-01-01 (dates of service); payers payer IDs 777\n" in out
    assert "    effective until 2022-12-31 (dates of service); payers filing indicators MB\n" in out
    assert "line: code in [20561, 20560]; units >= 2" in out
    assert "any of (code = 97140 | units < 1 and pos = 11)" in out
    assert "fix: drop the line" in out


def test_explain_unknown_rule(capsys):
    code, out, err = explain(capsys, "NO-SUCH-RULE", "--allow-plugin", "dry-needling")
    assert code == 2 and out == "" and "no loaded rule has the ID NO-SUCH-RULE" in err
