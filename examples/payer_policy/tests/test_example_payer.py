"""Tests of the example payer plugin, written as its author would: with the
``make_scrubber`` / ``make_claim`` fixtures and the assertions that
claim-scrubber's pytest plugin provides (no conftest.py needed)."""

from scrubber.testing import assert_clean, assert_fires, assert_not_fires

PLUGINS = ("dry-needling", "example-payer")
INVESTIGATIONAL = {"payer": {"id": "EX001", "name": "EXAMPLE HEALTH PLAN"}, "filing_indicator": "CI"}


def test_plugin_loads_with_its_table_and_option(make_scrubber):
    scrubber = make_scrubber(*PLUGINS)
    assert "example-payer" in scrubber.plugins.loaded
    assert [t.name for p, t in scrubber.tables if p == "example-payer"] == ["payer_policies"]
    assert "unneeded_bypass_severity" in scrubber.options["example-payer"]


def test_waiver_rule_fires_without_a_signed_waiver(make_scrubber, make_claim):
    scrubber = make_scrubber(*PLUGINS)
    result = scrubber.scrub(make_claim({"code": "20561", "modifiers": ["GP"]}, **INVESTIGATIONAL))
    [finding] = assert_fires(result, "EXPAY-DN-WAIVER", line=1, severity="error", message="Example Health Plan")
    assert finding.plugin == "example-payer"


def test_waiver_rule_quiet_with_a_waiver_or_another_payer(make_scrubber, make_claim):
    scrubber = make_scrubber(*PLUGINS)
    assert_clean(scrubber.scrub(make_claim({"modifiers": ["GP"]}, waiver="signed", **INVESTIGATIONAL)))
    covered = {"payer": {"id": "EX003"}, "filing_indicator": "CI"}
    assert_not_fires(scrubber.scrub(make_claim({"modifiers": ["GP"]}, **covered)), "EXPAY-DN-WAIVER")
    assert_not_fires(scrubber.scrub(make_claim({"modifiers": ["GP"]})), "EXPAY-DN-WAIVER")
    assert_not_fires(scrubber.scrub(make_claim({"code": "97140"}, **INVESTIGATIONAL)), "EXPAY-DN-WAIVER")


def test_rule_needs_only_this_plugin(make_scrubber, make_claim):
    result = make_scrubber("example-payer").scrub(make_claim(**INVESTIGATIONAL))
    assert_fires(result, "EXPAY-DN-WAIVER", line=1)


def test_review_raises_unneeded_bypass_for_these_payers(make_scrubber, make_claim):
    scrubber = make_scrubber(*PLUGINS)
    line = {"modifiers": ["GP", "59"]}
    assert_fires(scrubber.scrub(make_claim(line, waiver="signed", **INVESTIGATIONAL)),
                 "DN-MOD-UNNEEDED-BYPASS", line=1, severity="error")
    assert_fires(scrubber.scrub(make_claim(line)), "DN-MOD-UNNEEDED-BYPASS", line=1, severity="info")


def test_review_severity_is_a_payer_option(make_scrubber, make_claim):
    config = {"payers": {"EX001": {"plugins": {"example-payer": {"unneeded_bypass_severity": "warning"}}}}}
    scrubber = make_scrubber(*PLUGINS, config=config)
    result = scrubber.scrub(make_claim({"modifiers": ["GP", "59"]}, waiver="signed", **INVESTIGATIONAL))
    assert_fires(result, "DN-MOD-UNNEEDED-BYPASS", line=1, severity="warning")
