"""The core engine on a small test rule set, through the real durable_rules."""

from __future__ import annotations

import threading

from conftest import CHAIN, LimitPlugin, ids, make_claim

from scrubber import Scrubber, Severity, Status
from scrubber.config import parse_config


def test_rule_fires_with_fix_and_near_miss(chain_scrubber):
    result = chain_scrubber.scrub(make_claim({"units": 3}))
    finding = next(f for f in result.findings if f.rule_id == "T-UNITS")
    assert finding.line == 1 and finding.code == "20561"
    assert finding.message == "Line 1: 20561 has 3 units, more than 1."
    assert finding.fix.action == "set_units" and finding.fix.units == 1
    assert finding.citation.url == "https://example.org/t"
    assert result.status is Status.rejected
    near = chain_scrubber.scrub(make_claim({"units": 1}))
    assert "T-UNITS" not in [f.rule_id for f in near.findings]


def test_three_level_chain_of_derived_facts(chain_scrubber):
    result = chain_scrubber.scrub(make_claim({"code": "11111"}))
    chain = [f for f in result.findings if f.rule_id == "T-CHAIN"]
    assert [f.message for f in chain] == ["Line 1: chain one-two-three"]
    assert "T-NO-CHAIN" not in [f.rule_id for f in result.findings]


def test_negation_over_derived_facts_sees_the_whole_chain(chain_scrubber):
    # GY blocks level 2, so level 3 never exists and the negated rule fires.
    blocked = chain_scrubber.scrub(make_claim({"code": "11111", "modifiers": ["GY"]}))
    assert ("T-NO-CHAIN", 1) in ids(blocked)
    assert "T-CHAIN" not in [f.rule_id for f in blocked.findings]


def test_negation(chain_scrubber):
    alone = chain_scrubber.scrub(make_claim({"code": "20561"}))
    assert ("T-LONELY", 1) in ids(alone)
    # Near miss, with the negated fact after the positive one in the batch.
    companion = chain_scrubber.scrub(make_claim({"code": "20561"}, {"code": "97140"}))
    assert "T-LONELY" not in [f.rule_id for f in companion.findings]


def test_effective_dates_use_the_date_of_service(chain_scrubber):
    def dated(day):
        return "T-DATED" in [f.rule_id for f in chain_scrubber.scrub(make_claim({"service_date": day})).findings]

    assert dated("2024-01-01") and dated("2024-06-30")
    assert not dated("2023-12-31") and not dated("2024-07-01")


def test_payer_scope(chain_scrubber):
    medicare = chain_scrubber.scrub(make_claim(filing_indicator="MB"))
    assert ("T-MEDICARE", 1) in ids(medicare)
    commercial = chain_scrubber.scrub(make_claim(filing_indicator="CI"))
    assert "T-MEDICARE" not in [f.rule_id for f in commercial.findings]


def test_claims_without_watched_codes_skip_the_engine(chain_scrubber):
    result = chain_scrubber.scrub(make_claim({"code": "97110", "units": 9}))
    assert result.status is Status.clean and result.findings == []


def test_config_turns_rules_off_and_overrides_severity_per_payer():
    config = parse_config({
        "rules": {"T-DATED": "off", "T-UNITS": {"severity": "warning"}},
        "payers": {"999": {"rules": {"T-UNITS": {"severity": "info"}, "T-DATED": {"enabled": True}}}},
    })
    scrubber = Scrubber(rulesets=[CHAIN], plugins=[("limit", LimitPlugin())], entry_points=False, config=config)
    result = scrubber.scrub(make_claim({"units": 2}))
    assert "T-DATED" not in [f.rule_id for f in result.findings]
    assert next(f for f in result.findings if f.rule_id == "T-UNITS").severity is Severity.warning
    payer = scrubber.scrub(make_claim({"units": 2}, payer={"id": "999"}))
    assert next(f for f in payer.findings if f.rule_id == "T-UNITS").severity is Severity.info
    assert "T-DATED" in [f.rule_id for f in payer.findings]


def test_disabling_a_derivation_stops_the_chain():
    config = parse_config({"rules": {"T-LEVEL-TWO": False}})
    scrubber = Scrubber(rulesets=[CHAIN], entry_points=False, config=config)
    result = scrubber.scrub(make_claim({"code": "11111"}))
    assert ("T-NO-CHAIN", 1) in ids(result) and "T-CHAIN" not in [f.rule_id for f in result.findings]


def test_fix_mode_applies_fixes_and_lists_changes(chain_scrubber):
    result = chain_scrubber.scrub(make_claim({"units": 3}, {"code": "11111", "units": 1}), fix=True)
    assert result.fixed_claim["lines"][0]["units"] == 1
    assert result.fixed_claim["lines"][1]["modifiers"] == ["GY"]
    assert {(c.rule_id, c.line, c.action) for c in result.changes} == {
        ("T-UNITS", 1, "set_units"), ("T-CHAIN", 2, "add_modifier")}
    rescrubbed = chain_scrubber.scrub(result.fixed_claim)
    assert not {"T-UNITS", "T-CHAIN"} & {f.rule_id for f in rescrubbed.findings}


def test_thousand_claims_in_a_row_equal_one_at_a_time(chain_scrubber):
    claims = []
    for n in range(1000):
        claims.append(make_claim(
            {"code": ["20561", "11111", "97140"][n % 3], "units": 1 + n % 2, "modifiers": ["GY"] if n % 5 == 0 else []},
            {"code": ["97140", "20561", "11111"][n % 3], "service_date": f"2024-0{1 + n % 9}-15"},
            claim_id=f"K{n}", filing_indicator=["MB", "CI"][n % 2],
        ))
    batch = [r.model_dump() for r in chain_scrubber.scrub_many(claims)]
    fresh = Scrubber(rulesets=[CHAIN], plugins=[("limit", LimitPlugin())], entry_points=False)
    single = [fresh.scrub(c).model_dump() for c in claims]
    assert batch == single
    assert sum(1 for r in batch if r["findings"]) > 500


def test_same_claim_from_four_threads_gives_identical_results(chain_scrubber):
    claim = make_claim({"units": 3}, {"code": "11111"}, {"code": "11111", "modifiers": ["GY"]})
    expected = chain_scrubber.scrub(claim).model_dump()
    results: list = []
    errors: list = []

    def work():
        try:
            for _ in range(200):
                results.append(chain_scrubber.scrub(claim).model_dump())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 800 and all(r == expected for r in results)
