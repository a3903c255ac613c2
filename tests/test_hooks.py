"""One test per hook, each exercising the hook for real through a Scrubber.

``tests/test_kit_meta.py`` fails when a hook in ``scrubber/hookspecs.py`` has
no test named ``test_hook_<hook name>...`` somewhere under ``tests/``.
"""

from __future__ import annotations

import textwrap

import pytest

from scrubber import Finding, Option, ReferenceTable, RuleSet, Scrubber, ScrubberError, Status, hookimpl
from scrubber.rules import parse_ruleset
from scrubber.testing import assert_clean, assert_fires, assert_not_fires, make_claim, make_scrubber

RULE = textwrap.dedent("""
    ruleset: hooks/{name}
    rules:
      - id: HK-{rule}
        title: units above the line's cap
        severity: error
        message: "Line {{line.number}}: {{line.units}} units, cap {{line.cap}}"
        citation: hook test
        when:
          - fact: line
            where: {{cap: {{exists: true}}, units: {{gt: {{field: cap}}}}}}
        then:
          - finding: {{line: line}}
""")


class Cap:
    """Puts a unit cap of 1 on every line."""

    @hookimpl
    def scrubber_facts(self, facts):
        for line in facts.lines:
            line["cap"] = 1


def test_hook_scrubber_rulesets_paths_directories_and_objects(tmp_path):
    (tmp_path / "one.yaml").write_text(RULE.format(name="one", rule="ONE"))
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "two.yaml").write_text(RULE.format(name="two", rule="TWO"))
    (folder / "notes.txt").write_text("not a rule file")
    (folder / "broken.yaml").write_text("ruleset: hooks/broken\nrules: []\n")
    three = parse_ruleset(RULE.format(name="three", rule="THREE"), "<memory>")

    class Rules:
        @hookimpl
        def scrubber_rulesets(self):
            return [str(tmp_path / "one.yaml"), folder, three]

    scrubber = Scrubber(plugins=[("rules", Rules()), ("cap", Cap())], entry_points=False)
    assert {r.id for r in scrubber.rules} == {"HK-ONE", "HK-TWO", "HK-THREE"}
    assert {r.plugin for r in scrubber.rules} == {"rules"}
    [problem] = scrubber.rule_file_problems
    assert problem.plugin == "rules" and "broken.yaml" in problem.message
    result = scrubber.scrub(make_claim({"units": 2}))
    for rule_id in ("HK-ONE", "HK-TWO", "HK-THREE"):
        assert_fires(result, rule_id, line=1, severity="error")
    assert isinstance(three, RuleSet)


def test_hook_scrubber_rulesets_raising_skips_the_plugin():
    class Broken:
        @hookimpl
        def scrubber_rulesets(self):
            raise OSError("rules directory missing")

    scrubber = Scrubber(plugins=[("broken", Broken())], entry_points=False)
    assert scrubber.plugins.info["broken"].status == "failed"
    assert scrubber.rules == [] and scrubber.scrub(make_claim()).status is Status.clean


def test_hook_scrubber_tables_declares_versions_and_sources():
    table = ReferenceTable("caps", "2024Q3", "Example cap table", rows=2, description="unit caps")

    class Tables:
        @hookimpl
        def scrubber_tables(self):
            return [table]

    scrubber = make_scrubber(("tables", Tables()), "dry-needling")
    assert ("tables", table) in scrubber.tables
    assert {p for p, _ in scrubber.tables} == {"tables", "dry-needling"}
    assert all(t.version and t.source for _, t in scrubber.tables)


def test_hook_scrubber_options_defaults_global_and_payer_values(tmp_path):
    seen = []

    class Opts:
        @hookimpl
        def scrubber_options(self):
            return [Option("cap", 1, "unit cap", type=int), Option("loud", False, "also warn", type=bool)]

        @hookimpl
        def scrubber_facts(self, claim, facts, options):
            seen.append((claim.claim_id, dict(options)))
            for line in facts.lines:
                line["cap"] = options["cap"]

    (tmp_path / "r.yaml").write_text(RULE.format(name="opts", rule="OPTS"))
    plugin = ("opts", Opts())
    config = {"plugins": {"opts": {"loud": True}}, "payers": {"777": {"plugins": {"opts": {"cap": 3}}}}}
    scrubber = make_scrubber(plugin, rulesets=[tmp_path / "r.yaml"], config=config)
    assert set(scrubber.options["opts"]) == {"cap", "loud"}
    assert_fires(scrubber.scrub(make_claim({"units": 2}, claim_id="A")), "HK-OPTS", line=1)
    assert_clean(scrubber.scrub(make_claim({"units": 2}, claim_id="B", payer={"id": "777"})))
    assert seen == [("A", {"cap": 1, "loud": True}), ("B", {"cap": 3, "loud": True})]
    with pytest.raises(ScrubberError, match="opts.cap: option cap must be a int"):
        Scrubber(plugins=[plugin], entry_points=False, config=_config({"plugins": {"opts": {"cap": "x"}}}))
    with pytest.raises(ScrubberError, match="opts.colour: unknown option"):
        Scrubber(plugins=[plugin], entry_points=False, config=_config({"plugins": {"opts": {"colour": 1}}}))


def _config(doc):
    from scrubber.config import parse_config

    return parse_config(doc)


def test_hook_scrubber_facts_adds_fields_and_facts_of_its_own_kind(tmp_path):
    (tmp_path / "r.yaml").write_text(textwrap.dedent("""
        ruleset: hooks/facts
        rules:
          - id: HK-TWIN
            title: a line that has a twin fact
            severity: warning
            message: "Line {line.number}: twin {twin.tag} for {line.code_family}"
            citation: hook test
            when:
              - fact: twin
              - fact: line
                where: {number: {eq: {ref: twin.line}}, code_family: musculoskeletal}
            then:
              - finding: {line: line}
    """))
    calls = []

    class Twins:
        @hookimpl
        def scrubber_facts(self, claim, facts):
            calls.append(claim.claim_id)
            assert facts.claim["payer_class"] == "commercial" and facts.line(1)["code"] == "20561"
            for line in facts.lines:
                line["code_family"] = "musculoskeletal" if line["code"].startswith("2") else "other"
                if line["units"] > 1:
                    fact = facts.add("twin", line=line["number"], tag="T")
                    assert fact["claim_id"] == claim.claim_id and fact["kind"] == "twin"

    scrubber = make_scrubber(("twins", Twins()), rulesets=[tmp_path / "r.yaml"])
    result = scrubber.scrub(make_claim({"units": 2}, {"code": "97140", "units": 2}, {"units": 1}))
    [finding] = assert_fires(result, "HK-TWIN", line=1, severity="warning")
    assert finding.message == "Line 1: twin T for musculoskeletal"
    assert_not_fires(result, "HK-TWIN", line=2)
    assert_not_fires(result, "HK-TWIN", line=3)
    assert calls == ["C1"]


def test_hook_scrubber_facts_raising_fails_that_claim_only():
    class Flaky:
        @hookimpl
        def scrubber_facts(self, claim):
            if claim.claim_id == "BAD":
                raise KeyError("missing row")

    scrubber = make_scrubber(("flaky", Flaky()), "dry-needling")
    bad, good = scrubber.scrub_many([make_claim(claim_id="BAD"), make_claim(claim_id="GOOD")])
    assert bad.status is Status.failed and bad.errors[0].field == "plugin:flaky"
    assert good.status is Status.clean


def test_hook_scrubber_review_replaces_adds_and_chains():
    order = []

    class Strict:
        @hookimpl
        def scrubber_options(self):
            return [Option("units_severity", "error", "severity of DN-UNITS-LINE", choices=("error", "warning"))]

        @hookimpl
        def scrubber_review(self, claim, findings, options):
            order.append(("strict", [f.rule_id for f in findings]))
            if claim.payer.id != "777":
                return None
            changed = [f.model_copy(update={"severity": options["units_severity"]}) if f.rule_id == "DN-UNITS-LINE" else f
                       for f in findings]
            extra = Finding(rule_id="PAY-NOTE", severity="info", line=None, code=None,
                            message="payer 777 reviewed", citation={"source": "payer 777 manual"}, plugin="strict")
            return changed + [extra]

    class Audit:
        @hookimpl
        def scrubber_review(self, findings):
            order.append(("audit", [f.rule_id for f in findings]))

    config = {"payers": {"777": {"plugins": {"strict": {"units_severity": "warning"}}}}}
    scrubber = make_scrubber("dry-needling", ("strict", Strict()), ("audit", Audit()), config=config)
    medicare = {"filing_indicator": "MB", "billing_provider": {"npi": "1234567893", "taxonomy": "207X00000X"},
                "diagnoses": ["M5450"]}
    result = scrubber.scrub(make_claim({"units": 2, "modifiers": ["GP"]}, **medicare, payer={"id": "777"}))
    assert_fires(result, "DN-UNITS-LINE", line=1, severity="warning")
    assert_fires(result, "PAY-NOTE", line=None, severity="info")
    assert order[-1] == ("audit", [f.rule_id for f in result.findings])
    assert "PAY-NOTE" in order[-1][1] and "PAY-NOTE" not in order[-2][1]
    other = scrubber.scrub(make_claim({"units": 2, "modifiers": ["GP"]}, **medicare, payer={"id": "1"}))
    assert_fires(other, "DN-UNITS-LINE", line=1, severity="error")
    assert_not_fires(other, "PAY-NOTE")


def test_hook_scrubber_review_returning_garbage_fails_the_claim():
    class Garbage:
        @hookimpl
        def scrubber_review(self):
            return [{"rule_id": "X"}]

    scrubber = make_scrubber(("garbage", Garbage()))
    result = scrubber.scrub(make_claim())
    assert result.status is Status.failed and result.errors[0].field == "plugin:garbage"
