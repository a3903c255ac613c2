"""``scrubber rules --explain RULE_ID``: one rule in readable form.

A catalogue rule (one ID) may be several engine rules (for example one per
ABN status); each is shown with its conditions and actions, and with its own
dates and payer scope when those differ between them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Optional

from .rules import Action, Negation, Pattern, PayerScope, Ref, Rule, SameFact, Test

if TYPE_CHECKING:
    from .compiler import CompiledRule
    from .scrubber import Scrubber

_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _operand(value: Any) -> str:
    if isinstance(value, Ref):
        return value.ref
    if isinstance(value, SameFact):
        return f"its {value.field}"
    return _scalar(value)


def _condition(field: str, cond: Any) -> list[str]:
    if not isinstance(cond, Test):
        return [f"{field} = {_scalar(cond)}"]
    out = []
    for key, op in _OPS.items():
        value = getattr(cond, key)
        if value is not None:
            out.append(f"{field} {op} {_operand(value)}")
    if cond.in_ is not None:
        out.append(f"{field} in [{', '.join(_scalar(v) for v in cond.in_)}]")
    if cond.not_in is not None:
        out.append(f"{field} not in [{', '.join(_scalar(v) for v in cond.not_in)}]")
    if cond.exists is not None:
        out.append(f"{field} is set" if cond.exists else f"{field} is not set")
    return out


def _mods(value: Any) -> str:
    return ", ".join([value] if isinstance(value, str) else value)


def pattern_text(item: Any) -> str:
    """``line as small: number = pair.col2; lacks modifier GY`` and the like."""
    negated = isinstance(item, Negation)
    pattern: Pattern = item.not_ if negated else item
    tests = [t for field, cond in pattern.where.items() for t in _condition(field, cond)]
    mods = pattern.modifiers
    if mods:
        if mods.has:
            tests.append(f"has modifier {_mods(mods.has)}")
        if mods.lacks:
            tests.append(f"lacks modifier {_mods(mods.lacks)}")
        if mods.has_any:
            tests.append(f"has any modifier of {_mods(mods.has_any)}")
    if pattern.any_of:
        blocks = [" and ".join(t for f, c in block.items() for t in _condition(f, c)) for block in pattern.any_of]
        tests.append("any of (" + " | ".join(blocks) + ")")
    head = ("no " if negated else "") + pattern.fact + (f" as {pattern.name}" if pattern.name != pattern.fact else "")
    return head + (": " + "; ".join(tests) if tests else "")


def action_text(action: Action) -> str:
    if action.assert_:
        values = ", ".join(f"{k} = {_scalar(v)}" for k, v in action.assert_.set.items())
        return f"derive {action.assert_.fact}" + (f": {values}" if values else "")
    finding = action.finding
    assert finding is not None
    text = f"finding on {finding.line}" if finding.line else "claim-level finding"
    fix = finding.fix
    if fix:
        target = f" on {fix.line}" if fix.line and fix.line != finding.line else ""
        if fix.action in ("add_modifier", "remove_modifier"):
            verb = "add" if fix.action == "add_modifier" else "remove"
            what = " or ".join(fix.alternatives) if fix.alternatives else fix.modifier
            text += f"; fix: {verb} modifier {what}{target}"
            if fix.alternatives:
                text += " (a person chooses)"
        elif fix.action == "set_units":
            text += f"; fix: set units to {fix.units}{target}"
        else:
            text += f"; fix: drop the line{target}"
    return text


def dates_text(rule: Rule) -> str:
    if rule.effective and rule.expires:
        return f"{rule.effective.isoformat()} to {rule.expires.isoformat()} (dates of service)"
    if rule.effective:
        return f"from {rule.effective.isoformat()} (dates of service)"
    if rule.expires:
        return f"until {rule.expires.isoformat()} (dates of service)"
    return "always"


def payers_text(scope: Optional[PayerScope]) -> str:
    if scope is None:
        return "all"
    parts = []
    for label, values in (("classes", scope.classes), ("filing indicators", scope.filing_indicators), ("payer IDs", scope.ids)):
        if values:
            parts.append(f"{label} {', '.join(values)}")
    return " or ".join(parts) or "all"


def explain(scrubber: "Scrubber", rule_id: str) -> Optional[str]:
    """The text of ``scrubber rules --explain``; None when no rule has the ID."""
    parts: list[CompiledRule] = scrubber.engine_rules(rule_id)
    if not parts:
        return None
    first = next((p for p in parts if p.findings), parts[0])
    rule = first.rule
    out = [f"{rule.id}: {rule.title}"]
    out.append(f"  severity:  {rule.severity.value if rule.severity else '(derives facts only)'}")
    if rule.citation:
        out.append(f"  source:    {rule.citation.source}")
        if rule.citation.url:
            out.append(f"             {rule.citation.url}")
    dates = {dates_text(p.rule) for p in parts}
    payers = {payers_text(p.rule.payers) for p in parts}
    out.append(f"  effective: {dates.pop() if len(dates) == 1 else 'differs between the engine rules below'}")
    out.append(f"  payers:    {payers.pop() if len(payers) == 1 else 'differs between the engine rules below'}")
    loaded = next((item.ruleset for item in scrubber.rulesets if item.origin == first.origin), None)
    out.append(f"  ruleset:   {first.ruleset} ({first.origin}), plugin {first.plugin or '-'}")
    if loaded is not None:
        details = [f"version {loaded.version}"] if loaded.version else []
        details.append(f"watches {', '.join(loaded.watches)}" if loaded.watches else "every claim")
        out.append(f"             {'; '.join(details)}")
    if rule.message:
        out.append(f"  message:   {' '.join(rule.message.split())}")
    if rule.metadata:
        out.append(f"  metadata:  {rule.metadata}")
    differ = len({dates_text(p.rule) for p in parts}) > 1 or len({payers_text(p.rule.payers) for p in parts}) > 1
    for n, part in enumerate(parts, 1):
        out.append(f"  engine rule {n} of {len(parts)}: {part.rule.title}")
        if differ:
            out.append(f"    effective {dates_text(part.rule)}; payers {payers_text(part.rule.payers)}")
        out.append("    when")
        out.extend(f"      {pattern_text(item)}" for item in part.rule.when)
        out.append("    then")
        for action in part.rule.then:
            out.append(f"      {action_text(action)}")
            message = action.finding.message if action.finding else None
            if message is None and action.finding and part.rule.message != rule.message:
                message = part.rule.message
            if message:
                out.append(f"        message: {' '.join(message.split())}")
    return "\n".join(out) + "\n"
