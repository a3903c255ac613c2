"""The dry-needling plugin through the real engine: every catalogue rule
fires on a case and stays quiet on its near miss."""

from __future__ import annotations

import pytest
from conftest import make_claim

from scrubber import Scrubber, Status
from scrubber.config import parse_config

PT = {"taxonomy": "225100000X", "npi": "1234567893"}
MD = {"taxonomy": "207X00000X", "npi": "1245319599"}
CHIRO = {"taxonomy": "111N00000X", "npi": "1245319599"}


def medicare(*lines, **fields):
    base = {"filing_indicator": "MB", "billing_provider": MD, "diagnoses": ["M5450"], "abn": "none"}
    base.update(fields)
    return make_claim(*lines, **base)


# (rule, fires: claim, near miss: claim, line the finding is on)
CASES = {
    "DN-UNITS-LINE": (make_claim({"units": 2}), make_claim({"units": 1}), 1),
    "DN-UNITS-DAY": (
        make_claim({"modifiers": ["GP"]}, {"modifiers": ["GP", "59"]}),
        make_claim({}, {"service_date": "2024-03-06"}), 2),
    "DN-PAIR-SAMEDAY": (
        make_claim({"code": "20561"}, {"code": "20560"}),
        make_claim({"code": "20561"}, {"code": "20560", "service_date": "2024-03-12"}), 2),
    "DN-PTP-NEVER": (make_claim({}, {"code": "97813"}), make_claim({}, {"code": "97110"}), 2),
    "DN-PTP-MODIFIER": (
        make_claim({"code": "99213"}, {"code": "20561"}),
        make_claim({"code": "99213", "modifiers": ["25"]}, {"code": "20561"}), 1),
    "DN-MOD-INVALID": (make_claim({"modifiers": ["26"]}), make_claim({"modifiers": ["GP"]}), 1),
    "DN-MOD-NOT-APPLICABLE": (make_claim({"modifiers": ["51"]}), make_claim({"modifiers": ["KX"]}), 1),
    "DN-MOD-CONFLICT": (make_claim({"modifiers": ["GP", "GO"]}), make_claim({"modifiers": ["GP"]}), 1),
    "DN-MOD-REQUIRES": (make_claim({"modifiers": ["CQ"]}), make_claim({"modifiers": ["CQ", "GP"]}), 1),
    "DN-MOD-ASSISTANT": (make_claim({"modifiers": ["CQ", "GP"]}), make_claim({"modifiers": ["GP"]}), 1),
    "DN-MOD-UNNEEDED-BYPASS": (
        make_claim({"modifiers": ["XS"]}),
        make_claim({"code": "20552"}, {"modifiers": ["XS"]}), 1),
    "DN-MCR-EXCLUDED": (
        medicare(rendering_provider=PT), medicare({"modifiers": ["GY"]}, rendering_provider=PT), 1),
    "DN-MCR-NOT-COVERED-DX": (
        medicare(diagnoses=["M7918"]), medicare({"modifiers": ["GZ"]}, diagnoses=["M7918"]), 1),
    "DN-MCR-STATUS-N": (
        medicare({"service_date": "2020-01-20"}), medicare({"service_date": "2020-01-21"}), 1),
    "DN-MCR-ABN-ON-MA": (
        make_claim({"modifiers": ["GY"]}, filing_indicator="16"),
        make_claim({"modifiers": ["GY"]}, filing_indicator="MB", billing_provider=PT), 1),
    "DN-MCR-GY-COVERED": (medicare({"modifiers": ["GY"]}), medicare({"modifiers": ["GY"]}, rendering_provider=PT), 1),
    "DN-DATE-BEFORE-CODE": (
        make_claim({"service_date": "2019-12-31"}), make_claim({"service_date": "2020-01-01"}), 1),
    "DN-DX-INVALID-ON-DOS": (
        make_claim({"service_date": "2021-10-01"}, diagnoses=["M545"]),
        make_claim({"service_date": "2021-09-30"}, diagnoses=["M545"]), 1),
    "DN-POS-TELEHEALTH": (make_claim(place_of_service="02"), make_claim(place_of_service="11"), 1),
    "DN-INJECTION-SAMEDAY": (
        make_claim({}, {"code": "J2001"}), make_claim({}, {"code": "J2001", "service_date": "2024-03-07"}), 1),
}


def rule_lines(scrubber, claim, rule):
    return [f.line for f in scrubber.scrub(claim).findings if f.rule_id == rule]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires(dn_scrubber, rule):
    fires, _, line = CASES[rule]
    assert line in rule_lines(dn_scrubber, fires, rule)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_near_miss(dn_scrubber, rule):
    _, near, _ = CASES[rule]
    assert rule_lines(dn_scrubber, near, rule) == []


def test_every_catalogue_rule_is_loaded_and_tested(dn_scrubber):
    catalogue = {r.id for r in dn_scrubber.rules if r.findings}
    # DN-MCR-FREQUENCY needs a claim history: tested in test_history.py.
    assert catalogue == set(CASES) | {"DN-PAYER-INVESTIGATIONAL", "DN-MCR-FREQUENCY"}
    for rule in dn_scrubber.rules:
        assert rule.citation and rule.citation.source, rule.id


def test_payer_investigational_is_a_payer_setting():
    config = parse_config({"payers": {"62308": {"plugins": {"dry-needling": {"investigational": True}}}}})
    scrubber = Scrubber(allow_plugins=["dry-needling"], config=config)
    assert rule_lines(scrubber, make_claim(), "DN-PAYER-INVESTIGATIONAL") == [1]
    assert rule_lines(scrubber, make_claim(payer={"id": "11111"}), "DN-PAYER-INVESTIGATIONAL") == []


@pytest.mark.parametrize("claim", [
    make_claim({"modifiers": ["GP"]}, filing_indicator="CI"),
    make_claim({"code": "97140"}, {"code": "97110"}),
    make_claim({"code": "20560"}, {"code": "20561", "service_date": "2024-03-06"}),
    medicare(diagnoses=["M5450"], abn=None),
], ids=["commercial-20561-GP", "therapy-only", "different-dates", "medicare-physician-clbp"])
def test_clean_claims(dn_scrubber, claim):
    result = dn_scrubber.scrub(claim)
    assert result.findings == [] and result.status is Status.clean


def test_medicare_exclusion_chain_for_therapist(dn_scrubber):
    # PT billing Medicare FFS with a voluntary ABN: GY and GX.
    result = dn_scrubber.scrub(medicare(rendering_provider=PT, abn="voluntary"))
    fixes = sorted(f.fix.modifier for f in result.findings if f.rule_id == "DN-MCR-EXCLUDED")
    assert fixes == ["GX", "GY"]
    # The chiropractor on the line overrides a physician on the claim.
    line = dn_scrubber.scrub(medicare({"rendering_provider": CHIRO}))
    assert [f.fix.modifier for f in line.findings if f.rule_id == "DN-MCR-EXCLUDED"] == ["GY"]


def test_therapist_modifier_option_ga():
    config = parse_config({"plugins": {"dry-needling": {"therapist_modifier": "GA"}}})
    scrubber = Scrubber(allow_plugins=["dry-needling"], config=config)
    result = scrubber.scrub(medicare(rendering_provider=PT, abn="voluntary"))
    assert [f.fix.modifier for f in result.findings if f.rule_id == "DN-MCR-EXCLUDED"] == ["GA"]


def test_not_covered_dx_fix_depends_on_abn(dn_scrubber):
    def fix(abn):
        [finding] = [f for f in dn_scrubber.scrub(medicare(diagnoses=["M7918"], abn=abn)).findings
                     if f.rule_id == "DN-MCR-NOT-COVERED-DX"]
        return finding.fix.modifier, finding.fix.alternatives

    assert fix("signed") == ("GA", [])
    assert fix("none") == ("GZ", [])
    assert fix(None) == (None, ["GA", "GZ"])


def test_medicare_advantage_is_not_fee_for_service(dn_scrubber):
    result = dn_scrubber.scrub(make_claim(filing_indicator="16", billing_provider=PT, diagnoses=["M7918"]))
    assert result.findings == []


def test_liability_conflict_fix_keeps_the_expected_modifier(dn_scrubber):
    result = dn_scrubber.scrub(medicare({"modifiers": ["GA", "GY"]}, rendering_provider=PT))
    [conflict] = [f for f in result.findings if f.rule_id == "DN-MOD-CONFLICT"]
    assert (conflict.fix.action, conflict.fix.modifier) == ("remove_modifier", "GA")
    commercial = dn_scrubber.scrub(make_claim({"modifiers": ["GA", "GY"]}))
    [conflict] = [f for f in commercial.findings if f.rule_id == "DN-MOD-CONFLICT"]
    assert conflict.fix is None


def test_ptp_modifier_options():
    claim = make_claim({"code": "99213"}, {"code": "20561", "modifiers": ["XS"]})
    either = Scrubber(allow_plugins=["dry-needling"])
    assert rule_lines(either, claim, "DN-PTP-MODIFIER") == []
    config = parse_config({"plugins": {"dry-needling": {"em_bypass": "em"}}})
    em = Scrubber(allow_plugins=["dry-needling"], config=config)
    assert rule_lines(em, claim, "DN-PTP-MODIFIER") == [1]


def test_units_day_is_not_bypassed_by_modifiers(dn_scrubber):
    for mods in (["59"], ["XS"], ["76"], ["RT"]):
        claim = make_claim({"modifiers": ["LT"]}, {"modifiers": mods})
        assert rule_lines(dn_scrubber, claim, "DN-UNITS-DAY") == [2]


def test_fix_mode_result_scrubs_clean_of_fixed_rules(dn_scrubber):
    claim = medicare({"units": 2, "modifiers": ["26", "GP"]}, {"code": "20560"}, {"code": "97813"}, rendering_provider=PT)
    result = dn_scrubber.scrub(claim, fix=True)
    fixed_rules = {c.rule_id for c in result.changes}
    assert {"DN-UNITS-LINE", "DN-MOD-INVALID", "DN-PAIR-SAMEDAY", "DN-PTP-NEVER", "DN-MCR-EXCLUDED"} <= fixed_rules
    again = dn_scrubber.scrub(result.fixed_claim)
    assert again.status is Status.clean, again.findings
