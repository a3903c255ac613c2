"""Compare the engine's findings with the plain-Python oracle's."""

from __future__ import annotations

from typing import Any, Iterable, Optional

from oracle import dry_needling as oracle

from scrubber import Scrubber
from scrubber.models import Claim


def as_tuples(findings) -> set[tuple]:
    out = set()
    for f in findings:
        fix = f.fix
        out.add((
            f.rule_id, f.severity.value, f.line,
            fix.action if fix else None, fix.modifier if fix else None, fix.units if fix else None,
            tuple(fix.alternatives) if fix else (),
        ))
    return out


def differences(scrubber: Scrubber, claims: Iterable[Claim], options: Optional[dict[str, Any]] = None, limit: int = 5):
    """Claims where the engine and the oracle disagree: (claim, engine only, oracle only)."""
    out = []
    count = 0
    for claim in claims:
        count += 1
        engine = as_tuples(scrubber.scrub(claim).findings)
        expected = set(oracle.check(claim, options))
        if engine != expected:
            out.append((claim, sorted(engine - expected, key=str), sorted(expected - engine, key=str)))
            if len(out) >= limit:
                break
    return count, out
