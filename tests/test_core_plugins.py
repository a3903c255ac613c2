"""Plugin discovery, failure isolation, allow and block lists, rule files."""

from __future__ import annotations

import sys
import textwrap

import pytest
from conftest import CHAIN, LimitPlugin, make_claim

from scrubber import Scrubber, ScrubberError, Status, hookimpl
from scrubber.config import parse_config
from scrubber.plugin import Option
from scrubber.rules import RuleFileError, parse_ruleset


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """Install plugins on sys.path through real entry-point metadata."""

    def make(name, module, source, version="1.2.3"):
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[scrubber]\n{name} = {module}\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for mod in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[mod]


def test_entry_point_discovery_and_broken_plugin_skipped(fake_dist):
    fake_dist("tp-good", "tp_good", f"""
        from scrubber import hookimpl
        @hookimpl
        def scrubber_rulesets():
            return [{str(CHAIN)!r}]
    """)
    fake_dist("tp-broken", "tp_broken_missing_module_xyz", "raise ImportError('boom')\n")
    scrubber = Scrubber(allow_plugins=["tp-good", "tp-broken"])
    info = scrubber.plugins.info
    assert info["tp-good"].status == "loaded" and info["tp-good"].version == "1.2.3"
    assert info["tp-broken"].status == "failed" and "ImportError: boom" in info["tp-broken"].errors[0]
    assert "T-UNITS" in {r.id for r in scrubber.rules}
    assert info["dry-needling"].status == "not allowed"


def test_plugin_raising_at_load_is_skipped_others_work():
    class Bad:
        @hookimpl
        def scrubber_rulesets(self):
            raise RuntimeError("cannot find my files")

    scrubber = Scrubber(rulesets=[CHAIN], plugins=[("bad", Bad()), ("limit", LimitPlugin())], entry_points=False)
    assert scrubber.plugins.info["bad"].status == "failed"
    assert "scrubber_rulesets: RuntimeError: cannot find my files" in scrubber.plugins.info["bad"].errors
    assert scrubber.scrub(make_claim({"units": 2})).status is Status.rejected


def test_plugin_raising_per_claim_fails_that_claim_only():
    class Flaky:
        @hookimpl
        def scrubber_facts(self, claim, facts):
            if claim.claim_id == "BOOM":
                raise ValueError("table lookup failed for patient Jane Doe")

    scrubber = Scrubber(rulesets=[CHAIN], plugins=[("flaky", Flaky()), ("limit", LimitPlugin())], entry_points=False)
    results = list(scrubber.scrub_many([make_claim(claim_id="BOOM"), make_claim({"units": 2}, claim_id="OK")]))
    assert results[0].status is Status.failed
    assert results[0].errors[0].field == "plugin:flaky" and "ValueError" in results[0].errors[0].message
    assert results[1].status is Status.rejected


def test_unknown_hook_name_is_reported():
    class Typo:
        @hookimpl
        def scrubber_fact(self, facts):  # missing "s"
            pass

    scrubber = Scrubber(plugins=[("typo", Typo())], entry_points=False)
    assert scrubber.plugins.info["typo"].status == "failed"
    assert "scrubber_fact" in scrubber.plugins.info["typo"].errors[0]


def test_allow_and_block_lists_from_environment(monkeypatch):
    monkeypatch.setenv("SCRUBBER_BLOCK_PLUGINS", "dry-needling")
    assert Scrubber().plugins.info["dry-needling"].status == "blocked"
    monkeypatch.delenv("SCRUBBER_BLOCK_PLUGINS")
    monkeypatch.setenv("SCRUBBER_PLUGINS", "someone-else")
    assert Scrubber().plugins.info["dry-needling"].status == "not allowed"


def test_review_hook_adjusts_findings_with_payer_options():
    class Payer:
        @hookimpl
        def scrubber_options(self):
            return [Option("strict", False, "make warnings errors", type=bool)]

        @hookimpl
        def scrubber_review(self, findings, options):
            if options["strict"]:
                return [f.model_copy(update={"severity": "error"}) for f in findings]
            return None

    config = parse_config({"payers": {"777": {"plugins": {"payer": {"strict": True}}}}})
    scrubber = Scrubber(rulesets=[CHAIN], plugins=[("payer", Payer())], entry_points=False, config=config)
    claim = make_claim({"code": "11111"}, payer={"id": "777"})
    assert scrubber.scrub(claim).status is Status.rejected
    assert scrubber.scrub(make_claim({"code": "11111"})).status is Status.warnings


def test_broken_rule_file_is_reported_and_skipped(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("ruleset: t/broken\nrules:\n  - id: T-BAD\n    title: x\n    severity: fatal\n"
                      "    message: m\n    citation: c\n    when: [{fact: line}]\n    then: [{finding: {}}]\n")
    scrubber = Scrubber(rulesets=[broken, CHAIN], entry_points=False)
    [problem] = scrubber.rule_file_problems
    assert "broken.yaml" in problem.message and "rule T-BAD" in problem.message and "field severity" in problem.message
    assert "T-UNITS" in {r.id for r in scrubber.rules}


@pytest.mark.parametrize("text, words", [
    ("ruleset: t\nrules: [{id: T-A, title: t, when: [{fact: line}], then: [{finding: {line: other}}]}]", "needs 'severity'"),
    ("ruleset: t\nrules: [{id: T-A, title: t, severity: info, message: '{x.y}', citation: c, when: [{fact: line}], then: [{finding: {line: line}}]}]", "'{x.y}' is not a binding"),
    ("ruleset: t\nrules: [{id: T-A, title: t, when: [{fact: line, where: {n: {eq: {ref: a.b}}}}], then: [{assert: {fact: f}}]}]", "before it is bound"),
    ("ruleset: t\nrules: [{id: bad id, title: t, when: [{fact: line}], then: [{assert: {fact: f}}]}]", "field id"),
    ("ruleset: t\nrules: [{id: T-A, title: t, when: [{fact: line}], then: [{assert: {fact: f}}], extra: 1}]", "field extra"),
    ("a: &x [1]\nb: *x\n", "aliases are not allowed"),
    ("ruleset: !!python/object/apply:os.system ['true']\nrules: []\n", "not valid YAML"),
])
def test_rule_file_validation_messages(text, words):
    with pytest.raises(RuleFileError) as info:
        parse_ruleset(text, "r.yaml")
    assert words in str(info.value) and "r.yaml" in str(info.value)


def test_duplicate_rule_ids_across_files_are_refused(tmp_path):
    copy = tmp_path / "copy.yaml"
    copy.write_text(CHAIN.read_text().replace("test/chain", "test/copy"))
    scrubber = Scrubber(rulesets=[CHAIN, copy], entry_points=False)
    assert len(scrubber.rule_file_problems) == 1 and "already defined" in scrubber.rule_file_problems[0].message


def test_config_errors_name_the_key():
    with pytest.raises(Exception) as info:
        parse_config({"rulez": {}})
    assert "rulez" in str(info.value)
    with pytest.raises(ScrubberError, match="NOPE-RULE"):
        Scrubber(rulesets=[CHAIN], entry_points=False, config=parse_config({"rules": {"NOPE-RULE": "off"}}))
    with pytest.raises(ScrubberError, match="dry-needling.colour: unknown option"):
        Scrubber(config=parse_config({"plugins": {"dry-needling": {"colour": "red"}}}))
    with pytest.raises(ScrubberError, match="must be one of"):
        Scrubber(config=parse_config({"plugins": {"dry-needling": {"therapist_modifier": "GZ"}}}))


def test_config_file_yaml_and_toml(tmp_path):
    from scrubber.config import load_config

    (tmp_path / "c.toml").write_text('[rules.T-DATED]\nenabled = false\n[payers."filing:MB".rules]\nT-UNITS = {severity = "info"}\n')
    config = load_config(tmp_path / "c.toml")
    assert not config.rules["T-DATED"].enabled and config.payers["filing:MB"].rules["T-UNITS"].severity.value == "info"
    (tmp_path / "bomb.yaml").write_text("a: &a [x, x]\nb: &b [*a, *a]\n")
    with pytest.raises(Exception, match="aliases"):
        load_config(tmp_path / "bomb.yaml")


def test_engine_lint_refuses_many_siblings(tmp_path):
    rules = "\n".join(
        f"  - {{id: T-R{i}, title: t, when: [{{fact: line, where: {{code: 'C{i:04d}'}}}}], then: [{{assert: {{fact: f}}}}]}}"
        for i in range(300)
    )
    path = tmp_path / "many.yaml"
    path.write_text(f"ruleset: t/many\nrules:\n{rules}\n")
    with pytest.raises(ScrubberError, match="512"):
        Scrubber(rulesets=[path], entry_points=False)
