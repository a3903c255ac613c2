"""Shared fixtures: scrubbers built with exactly the plugins a test names,
and a claim builder with sensible defaults.

The claim builder and the assertions are the public ones plugin authors use
(``scrubber.testing``, registered with pytest through the ``pytest11`` entry
point, so ``make_scrubber`` and ``make_claim`` are fixtures here too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scrubber import Scrubber, hookimpl
from scrubber.testing import fired, make_claim, make_scrubber

__all__ = ["CHAIN", "LimitPlugin", "ids", "make_claim"]

HERE = Path(__file__).parent
CHAIN = HERE / "rulesets" / "chain.yaml"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds a virtual environment and installs packages (about a minute)")


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
    scrubber = make_scrubber("dry-needling")
    assert scrubber.plugins.loaded == ["dry-needling"], scrubber.plugins.info
    return scrubber


def ids(result) -> list[tuple[str, Any]]:
    return fired(result)
