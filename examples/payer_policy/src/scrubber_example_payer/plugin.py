"""Hook implementations of the example payer policy plugin.

Uses only the scrubber's public API. The decision is in
``rules/waiver.yaml``; Python looks the payer up in the plugin's table,
attaches what it finds to facts, and adjusts one dry-needling rule's
severity for these payers after the engine ran.
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any, Optional

from scrubber import Claim, Facts, Finding, Option, ReferenceTable, hookimpl

#: The dry-needling rule whose severity these payers raise: they audit and
#: deny unneeded 59/X modifiers rather than merely frowning on them.
BYPASS_RULE = "DN-MOD-UNNEEDED-BYPASS"


def _load() -> dict[str, dict[str, str]]:
    text = resources.files(__package__).joinpath("tables", "payer_policies.csv").read_text(encoding="utf-8")
    return {row["payer_id"]: row for row in csv.DictReader(io.StringIO(text))}


POLICIES = _load()


def policy_for(claim: Claim) -> Optional[dict[str, str]]:
    return POLICIES.get(claim.payer.id or "")


@hookimpl
def scrubber_options() -> list[Option]:
    return [
        Option("unneeded_bypass_severity", "error",
               f"Severity of {BYPASS_RULE} for the payers in this plugin's table",
               choices=("error", "warning", "info")),
    ]


@hookimpl
def scrubber_tables() -> list[ReferenceTable]:
    return [ReferenceTable("payer_policies", "2024.1", "Example payer policy bulletins (fictitious)",
                           rows=len(POLICIES), description="dry needling coverage by payer ID")]


@hookimpl
def scrubber_rulesets() -> list[Any]:
    return [resources.files(__package__).joinpath("rules")]


@hookimpl
def scrubber_facts(claim: Claim, facts: Facts) -> None:
    """Add ``expay_*`` fields to the claim and every line of a payer in the table."""
    policy = policy_for(claim)
    if policy is None:
        return
    extra = claim.model_extra or {}
    fields = {
        "expay_dn_policy": policy["dry_needling"],
        "expay_policy": policy["policy"],
        "expay_payer_name": policy["payer_name"],
        "expay_waiver_signed": extra.get("waiver") == "signed",
    }
    facts.claim.update(fields)
    for line in facts.lines:
        line.update(fields)


@hookimpl
def scrubber_review(claim: Claim, findings: list[Finding], options: dict[str, Any]) -> Optional[list[Finding]]:
    """For this plugin's payers, give the unneeded-bypass rule the configured severity."""
    if policy_for(claim) is None or not any(f.rule_id == BYPASS_RULE for f in findings):
        return None
    severity = options["unneeded_bypass_severity"]
    return [f.model_copy(update={"severity": severity}) if f.rule_id == BYPASS_RULE else f for f in findings]
