"""Hook implementations of the dry-needling plugin.

The plugin's Python only looks tables up and attaches what it finds to
facts; every decision (what is wrong, how bad, what to do) is in the rule
files under ``rulesets/dry_needling``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from importlib import resources
from typing import Any

from scrubber import Claim, Facts, Option, ReferenceTable, hookimpl
from scrubber.history import VOID, HistoryStore, PriorLine, patient_key

from .reference import NEEDLING_CODES, Tables

TABLES = Tables()
LIABILITY = frozenset({"GA", "GX", "GY", "GZ"})
DISTINCT = frozenset({"59", "XE", "XS", "XP", "XU"})
EM_EXTRA = frozenset({"G0463"})
#: Liability modifiers that bill a needling session as not covered: such a
#: session does not count towards the NCD 30.3.3 limits.
NOT_COVERED = frozenset({"GA", "GY", "GZ"})
MEDICARE_FFS = frozenset({"MA", "MB"})
#: NCD 30.3.3: 12 sessions in 90 days (13-20 with KX), 20 a year.
WINDOW_DAYS = 90
#: How many prior claim IDs a finding names.
MAX_CLAIMS_NAMED = 20


def is_em(code: str) -> bool:
    return code in EM_EXTRA or (code.isdigit() and 99202 <= int(code) <= 99499)


@hookimpl
def scrubber_options() -> list[Option]:
    return [
        Option("therapist_modifier", "GY", "Liability modifier Medicare expects when an ineligible provider (PT, "
               "chiropractor) bills dry needling: GY (statutory exclusion) or GA, which some contractors want "
               "[check]", choices=("GY", "GA")),
        Option("em_bypass", "either", "In an E/M + needling pair, which line must carry the bypass modifier: "
               "'either' (25 on the E/M or 59/X on the needling line), 'em' (25 on the E/M) or 'needling' "
               "(59/X on the needling line) [check]", choices=("either", "em", "needling")),
        Option("bypass_modifier", "XS", "The NCCI bypass modifier proposed for a column 2 line", choices=("XS", "59")),
        Option("investigational", False, "The payer treats dry needling as experimental or investigational "
               "(Cigna 0139, BCBS 2.01.100 ...): warn and ask for a patient waiver", type=bool),
    ]


@hookimpl
def scrubber_tables() -> list[ReferenceTable]:
    return TABLES.describe()


@hookimpl
def scrubber_rulesets() -> list[Any]:
    return [resources.files("scrubber_dry_needling.rulesets")]


@hookimpl
def scrubber_facts(claim: Claim, facts: Facts, options: dict[str, Any]) -> None:
    lines = facts.lines
    if not any(line["code"] in NEEDLING_CODES for line in lines):
        return
    for fact in lines:
        code = fact["code"]
        fact["dn"] = code in NEEDLING_CODES
        mue = TABLES.mue.get(code)
        if mue:
            fact["mue"], fact["mai"] = mue
        if code in TABLES.injections:
            fact["injection"] = True
        if is_em(code):
            fact["em"] = True
    for line, fact in zip(claim.lines, lines):
        if fact["dn"]:
            _needling_line(line.modifiers, fact, facts, options)
    _pairs(claim, facts, options)


def _needling_line(modifiers: list[str], fact: dict[str, Any], facts: Facts, options: dict[str, Any]) -> None:
    number, dos = fact["number"], fact["dos"]
    provider_class, eligible = TABLES.provider_class(fact["taxonomy"])
    fact["provider_class"] = provider_class
    fact["provider_label"] = TABLES.class_labels.get(provider_class, "provider type unknown")
    if eligible is not None:
        fact["ncd_eligible"] = eligible
    dxs = fact["dx"].split(",") if fact["dx"] else []
    fact["clbp_dx"] = any(TABLES.is_clbp(dx, dos) for dx in dxs)
    fact["therapist_modifier"] = options["therapist_modifier"]
    fact["investigational"] = options["investigational"]
    known = TABLES.invalid_modifiers[fact["code"]]
    for modifier in modifiers:
        status, reason = known.get(modifier, (None, None))
        if status or modifier in LIABILITY or modifier in DISTINCT:
            facts.add("modifier", line=number, code=fact["code"], modifier=modifier, status=status, reason=reason,
                      liability=modifier in LIABILITY, distinct=modifier in DISTINCT)
    present = set(modifiers)
    for first, second, policy, remove in TABLES.conflicts if len(present) > 1 else ():
        if first in present and second in present:
            facts.add("conflict", line=number, first=first, second=second, policy=policy, remove=remove or None)
    for dx in dxs:
        validity = TABLES.dx_validity.get(dx)
        if validity and not validity[0] <= dos <= validity[1]:
            facts.add("dx_problem", line=number, dx=dx, replaced_by=" / ".join(validity[2]) or None,
                      retired=dos > validity[1])


def _pairs(claim: Claim, facts: Facts, options: dict[str, Any]) -> None:
    """One ``ptp`` fact per ordered pair of lines on one day with an NCCI edit."""
    lines = list(zip(claim.lines, facts.lines))
    for a_line, a in lines:
        for b_line, b in lines:
            if a is b or a["dos"] != b["dos"] or not (a["dn"] or b["dn"]):
                continue
            edit = TABLES.ptp_edit(a["code"], b["code"], a["dos"])
            if edit is None:
                continue
            a_mods, b_mods = set(a_line.modifiers), set(b_line.modifiers)
            b_bypass = b_mods & TABLES.ncci_modifiers
            facts.add(
                "ptp", col1=a["number"], col2=b["number"], col1_code=a["code"], col2_code=b["code"],
                indicator=edit.indicator, rationale=edit.rationale,
                em_col1=is_em(a["code"]), em_col2=is_em(b["code"]),
                col1_has_25="25" in a_mods, col2_bypass=bool(b_bypass),
                col2_bypass_not25=bool(b_bypass - {"25"}), col2_distinct=bool(b_mods & DISTINCT),
                em_bypass=options["em_bypass"], bypass_modifier=options["bypass_modifier"],
            )


@hookimpl
def scrubber_history(claim: Claim, history: HistoryStore, facts: Facts, options: dict[str, Any]) -> None:
    """Cross-claim facts on needling lines, from the patient's earlier claims
    with the same billing provider:

    * on the first line of each (code, date) of a code with MUE adjudication
      indicator 2 or 3: ``day_units_prior`` (units of that code and date on
      other claims), ``day_units_total`` (those plus this claim's) and
      ``day_prior_claims``;
    * on every needling line of a Medicare fee-for-service claim:
      ``session_90d`` and ``session_year``, the line's session number within
      the 90 days ending on its date and within its calendar year (sessions
      are distinct dates with a needling line not billed as non-covered with
      GA, GY or GZ, on Medicare fee-for-service claims), with
      ``prior_claims_90d`` and ``prior_claims_year`` naming the earlier
      claims that count.
    """
    key = patient_key(claim)
    needling = [(line, fact) for line, fact in zip(claim.lines, facts.lines) if fact.get("dn")]
    if key is None or not needling or claim.frequency == VOID:
        return
    dates = [line.service_date for line, _ in needling]
    first = min(dates)
    start = min(dt.date(first.year, 1, 1), first - dt.timedelta(days=WINDOW_DAYS - 1))
    prior = history.prior_lines(key, NEEDLING_CODES, start, max(dates), exclude_claim=claim.claim_id)
    _day_units(needling, prior)
    if claim.filing_indicator in MEDICARE_FFS:
        _sessions(needling, prior)


def _named(claim_ids: set[str]) -> str:
    names = sorted(claim_ids)
    if not names:
        return "none (the earlier sessions are on this claim)"
    more = len(names) - MAX_CLAIMS_NAMED
    return ", ".join(names[:MAX_CLAIMS_NAMED]) + (f" and {more} more" if more > 0 else "")


def _day_units(needling: list[tuple[Any, dict[str, Any]]], prior: list[PriorLine]) -> None:
    groups: dict[tuple[str, dt.date], list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
    for line, fact in needling:
        if fact.get("mai") in (2, 3):
            groups[(line.code, line.service_date)].append((line, fact))
    for (code, day), members in groups.items():
        same = [p for p in prior if p.code == code and p.service_date == day]
        units = sum(p.units for p in same)
        fact = members[0][1]
        fact["day_units_prior"] = units
        fact["day_units_total"] = units + sum(line.units for line, _ in members)
        fact["day_prior_claims"] = _named({p.claim_id for p in same})


def _sessions(needling: list[tuple[Any, dict[str, Any]]], prior: list[PriorLine]) -> None:
    earlier: dict[dt.date, set[str]] = defaultdict(set)
    for p in prior:
        if p.filing in MEDICARE_FFS and not NOT_COVERED.intersection(p.modifiers):
            earlier[p.service_date].add(p.claim_id)
    own = {line.service_date for line, _ in needling if not NOT_COVERED.intersection(line.modifiers)}
    for line, fact in needling:
        day = line.service_date
        window = day - dt.timedelta(days=WINDOW_DAYS - 1)
        days_90 = {d for d in [*earlier, *own] if window <= d < day}
        days_year = {d for d in [*earlier, *own] if d.year == day.year and d < day}
        fact["session_90d"] = len(days_90) + 1
        fact["session_year"] = len(days_year) + 1
        fact["prior_claims_90d"] = _named(set().union(*(earlier.get(d, set()) for d in days_90)))
        fact["prior_claims_year"] = _named(set().union(*(earlier.get(d, set()) for d in days_year)))
