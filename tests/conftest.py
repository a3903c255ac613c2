"""Shared fixtures: scrubbers built with exactly the plugins a test names,
and a claim builder with sensible defaults."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from scrubber import Scrubber, hookimpl

HERE = Path(__file__).parent
CHAIN = HERE / "rulesets" / "chain.yaml"


def make_claim(*lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A valid claim dict; each line dict overrides the default line."""
    claim: dict[str, Any] = {
        "claim_id": "C1",
        "filing_indicator": "CI",
        "payer": {"id": "62308", "name": "PAYER"},
        "patient": {"id": "P1", "birth_date": "1960-05-01", "sex": "F"},
        "billing_provider": {"npi": "1234567893", "taxonomy": "225100000X"},
        "place_of_service": "11",
        "diagnoses": ["M5450"],
        "abn": None,
        "lines": [],
    }
    claim.update(fields)
    for n, line in enumerate(lines or [{}], start=1):
        base = {"number": n, "code": "20561", "modifiers": [], "units": 1, "charge": "100.00",
                "service_date": "2024-03-05", "diagnosis_pointers": [1]}
        base.update(line)
        claim["lines"].append(base)
    return copy.deepcopy(claim)


class LimitPlugin:
    """Adds the 'limit' field the chain rule set's T-UNITS rule compares with."""

    @hookimpl
    def scrubber_facts(self, facts):
        for line in facts.lines:
            line["limit"] = 1


@pytest.fixture
def claim():
    return make_claim


@pytest.fixture(scope="session")
def chain_scrubber() -> Scrubber:
    return Scrubber(rulesets=[CHAIN], plugins=[("limit", LimitPlugin())], entry_points=False)


@pytest.fixture(scope="session")
def dn_scrubber() -> Scrubber:
    """The installed dry-needling plugin, found through its entry point only."""
    scrubber = Scrubber(allow_plugins=["dry-needling"])
    assert scrubber.plugins.loaded == ["dry-needling"], scrubber.plugins.info
    return scrubber


def ids(result) -> list[tuple[str, Any]]:
    return [(f.rule_id, f.line) for f in result.findings]
