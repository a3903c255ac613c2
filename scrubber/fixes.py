"""Apply the fixes that findings propose to a claim (``--fix``).

Only unambiguous fixes are applied: a fix that offers alternatives (GA or
GZ, depending on an ABN the scrubber cannot see) is left for a person. Fixes
are applied in a fixed order (dropped lines, then removals, additions and
units on the lines that remain) so
the result does not depend on the order rules fired in.
"""

from __future__ import annotations

from typing import Any

from .models import MAX_MODIFIERS, Change, Claim, Finding, Fix

_ORDER = {"drop_line": 0, "remove_modifier": 1, "add_modifier": 2, "set_units": 3}


def applicable(fix: Fix) -> bool:
    if fix.alternatives:
        return False
    if fix.action in ("add_modifier", "remove_modifier"):
        return bool(fix.modifier)
    if fix.action == "set_units":
        return fix.units is not None and fix.units >= 1
    return True


def apply_fixes(claim: Claim, findings: list[Finding]) -> tuple[Claim, list[Change]]:
    """Return the corrected claim and the list of changes made, each with the
    rule that asked for it. The input claim is not modified."""
    fixed = claim.model_copy(deep=True)
    lines = {line.number: line for line in fixed.lines}
    seen: set[tuple[Any, ...]] = set()
    pending = []
    for finding in findings:
        fix = finding.fix
        if fix is None or not applicable(fix):
            continue
        key = (fix.action, fix.line, fix.modifier, fix.units)
        if key in seen:
            continue
        seen.add(key)
        pending.append((finding.rule_id, fix))
    pending.sort(key=lambda item: (_ORDER[item[1].action], item[1].line))  # stable: keeps finding order
    changes: list[Change] = []
    dropped: set[int] = set()
    for rule_id, fix in pending:
        line = lines.get(fix.line)
        if line is None or fix.line in dropped:
            continue
        if fix.action == "remove_modifier" and fix.modifier in line.modifiers:
            before = list(line.modifiers)
            line.modifiers = [m for m in line.modifiers if m != fix.modifier]
            changes.append(Change(rule_id=rule_id, line=fix.line, action=fix.action, modifier=fix.modifier, before=before, after=list(line.modifiers)))
        elif fix.action == "add_modifier" and fix.modifier not in line.modifiers and len(line.modifiers) < MAX_MODIFIERS:
            before = list(line.modifiers)
            line.modifiers = [*line.modifiers, fix.modifier]  # type: ignore[list-item]
            changes.append(Change(rule_id=rule_id, line=fix.line, action=fix.action, modifier=fix.modifier, before=before, after=list(line.modifiers)))
        elif fix.action == "set_units" and line.units != fix.units:
            changes.append(Change(rule_id=rule_id, line=fix.line, action=fix.action, units=fix.units, before=line.units, after=fix.units))
            line.units = fix.units  # type: ignore[assignment]
        elif fix.action == "drop_line" and len(lines) - len(dropped) > 1:
            dropped.add(fix.line)
            changes.append(Change(rule_id=rule_id, line=fix.line, action=fix.action, before=line.code, after=None))
    if dropped:
        fixed.lines = [line for line in fixed.lines if line.number not in dropped]
    return fixed, changes
