"""The testing helpers plugin authors use (scrubber.testing, a pytest plugin)."""

from __future__ import annotations

import pytest

import scrubber.testing as kit
from scrubber import Claim, Status, hookimpl
from scrubber.testing import ANY_LINE, assert_clean, assert_fires, assert_not_fires, fired, make_claim


def test_registered_with_pytest_through_the_pytest11_entry_point(request):
    from importlib import metadata

    [ep] = [e for e in metadata.entry_points(group="pytest11") if e.value == "scrubber.testing"]
    assert request.config.pluginmanager.get_plugin(ep.name) is kit


def test_fixtures_are_available_without_conftest(make_scrubber, make_claim):
    assert make_claim is kit.make_claim
    scrubber = make_scrubber("dry-needling")
    assert scrubber.plugins.loaded == ["dry-needling"]
    assert make_scrubber("dry-needling") is scrubber  # cached for the session


def test_make_claim_defaults_are_valid_and_overridable():
    claim = Claim.model_validate(make_claim())
    assert [line.code for line in claim.lines] == ["20561"] and claim.filing_indicator == "CI"
    two = make_claim({"code": "97140"}, {"number": 7, "units": 3}, claim_id="X", filing_indicator="MB")
    assert [(line["number"], line["code"], line["units"]) for line in two["lines"]] == [(1, "97140", 1), (7, "20561", 3)]
    assert two["claim_id"] == "X" and two["filing_indicator"] == "MB"
    two["lines"][0]["modifiers"].append("GP")
    assert make_claim()["lines"][0]["modifiers"] == [] and kit.DEFAULT_LINE["modifiers"] == []


def test_make_scrubber_names_exactly_its_plugins(monkeypatch):
    monkeypatch.setenv("SCRUBBER_BLOCK_PLUGINS", "dry-needling")
    scrubber = kit.make_scrubber("dry-needling")
    assert scrubber.plugins.loaded == ["dry-needling"]
    assert kit.make_scrubber().plugins.loaded == []

    class Quiet:
        @hookimpl
        def scrubber_review(self):
            return None

    only_object = kit.make_scrubber(("quiet", Quiet()))
    assert only_object.plugins.loaded == ["quiet"] and "dry-needling" not in only_object.plugins.info


def test_make_scrubber_fails_the_test_when_a_plugin_is_missing(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="no-such-plugin: no such plugin installed"):
        kit.make_scrubber("no-such-plugin")
    (tmp_path / "bad.yaml").write_text("ruleset: t/bad\nrules: []\n")
    with pytest.raises(pytest.fail.Exception, match="rule files skipped: .*bad.yaml"):
        kit.make_scrubber(rulesets=[tmp_path / "bad.yaml"])
    assert kit.make_scrubber("no-such-plugin", strict=False).plugins.loaded == []
    with pytest.raises(TypeError):
        kit.make_scrubber(object())


def test_assertions(dn_scrubber):
    result = dn_scrubber.scrub(make_claim({"units": 2, "modifiers": ["GP"]}, filing_indicator="MB",
                                          billing_provider={"npi": "1234567893", "taxonomy": "207X00000X"}))
    [finding] = assert_fires(result, "DN-UNITS-LINE", line=1, severity="error", fix={"action": "set_units", "units": 1},
                             message="2 units")
    assert finding.fix.units == 1 and ("DN-UNITS-LINE", 1) in fired(result)
    assert_fires(result, "DN-UNITS-LINE")
    assert_not_fires(result, "DN-UNITS-LINE", line=2)
    assert_not_fires(result, "DN-DATE-BEFORE-CODE")
    failures = [
        lambda: assert_fires(result, "DN-UNITS-LINE", line=2),
        lambda: assert_fires(result, "DN-UNITS-LINE", line=None),
        lambda: assert_fires(result, "DN-UNITS-LINE", severity="warning"),
        lambda: assert_fires(result, "DN-UNITS-LINE", fix={"action": "drop_line"}),
        lambda: assert_fires(result, "DN-UNITS-LINE", message="nothing like this"),
        lambda: assert_not_fires(result, "DN-UNITS-LINE", line=1),
        lambda: assert_clean(result),
    ]
    for check in failures:
        with pytest.raises(pytest.fail.Exception) as info:
            check()
        assert "DN-UNITS-LINE" in str(info.value)
    assert repr(ANY_LINE) == "ANY_LINE"


def test_assert_not_fires_refuses_a_claim_that_was_not_scrubbed(dn_scrubber):
    invalid = dn_scrubber.scrub(make_claim({"units": 0}))
    assert invalid.status is Status.invalid
    with pytest.raises(pytest.fail.Exception, match="not scrubbed.*units"):
        assert_not_fires(invalid, "DN-UNITS-LINE")
    assert_clean(dn_scrubber.scrub(make_claim()))
