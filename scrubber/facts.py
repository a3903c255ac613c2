"""What the engine sees of a claim: flat facts with strict types.

durable_rules matches on flat JSON values and coerces types inconsistently, so
facts hold only str, int, bool and None: codes as strings, units as ints,
money as integer cents, dates as YYYYMMDD integers. Claim-level context
(payer, filing indicator, ABN) is copied onto every line so that most rules
need no join. No patient data is ever put into a fact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from .models import Claim

#: X12 SBR09 claim filing indicator -> payer class.
PAYER_CLASSES = {
    "MA": "medicare_ffs",
    "MB": "medicare_ffs",
    "16": "medicare_advantage",
    "MC": "medicaid",
    "CH": "tricare",
    "VA": "veterans",
    "WC": "workers_comp",
    "AM": "auto",
    "LM": "liability",
    "OF": "other_federal",
    "FI": "federal_employees",
    "TV": "title_v",
    "ZZ": "unknown",
}
COMMERCIAL = "commercial"  # CI, BL, HM, 11-15 and anything else

#: Claim-level fields copied onto every line and derived fact.
CONTEXT_FIELDS = ("claim_id", "filing", "payer_id", "payer_class", "abn")


def payer_class(filing_indicator: Optional[str]) -> str:
    if filing_indicator is None:
        return "unknown"
    return PAYER_CLASSES.get(filing_indicator, COMMERCIAL)


def yyyymmdd(day: Optional[dt.date]) -> Optional[int]:
    return None if day is None else day.year * 10000 + day.month * 100 + day.day


def cents(amount: Any) -> Optional[int]:
    return None if amount is None else int(amount * 100)


class Facts:
    """The facts of one claim, as plugins see them in ``scrubber_facts``.

    ``claim`` and ``lines`` are plain dicts a plugin may add fields to; ``add``
    creates a further fact of the plugin's own kind (for example one per
    procedure pair found in a reference table).
    """

    __slots__ = ("claim", "lines", "extra", "_by_number")

    def __init__(self, claim: Claim):
        # Written for speed (it runs for every claim the engine sees): locals,
        # no helper calls per line; the fields are exactly those documented.
        filing = claim.filing_indicator
        context = {
            "claim_id": claim.claim_id,
            "filing": filing,
            "payer_id": claim.payer.id,
            "payer_class": "unknown" if filing is None else PAYER_CLASSES.get(filing, COMMERCIAL),
            "abn": claim.abn or "unknown",
        }
        billing_tax = claim.billing_provider.taxonomy
        rendering = claim.rendering_provider
        claim_render = rendering.taxonomy if rendering else None
        taxonomy = claim_render or billing_tax
        claim_pos = claim.place_of_service
        lines = claim.lines
        first = min(line.service_date for line in lines)
        self.claim: dict[str, Any] = {
            "id": "claim",
            "kind": "claim",
            **context,
            "pos": claim_pos,
            "frequency": claim.frequency,
            "n_lines": len(lines),
            "dos": first.year * 10000 + first.month * 100 + first.day,
            "taxonomy": taxonomy,
            "billing_taxonomy": billing_tax,
        }
        diagnoses = claim.diagnoses
        n_dx = len(diagnoses)
        all_dx = ",".join(diagnoses)
        self.lines: list[dict[str, Any]] = []
        self._by_number: dict[int, dict[str, Any]] = {}
        for line in lines:
            line_render = line.rendering_provider
            day = line.service_date
            end = line.service_date_end
            modifiers = line.modifiers
            pointers = line.diagnosis_pointers
            charge = line.charge
            fact: dict[str, Any] = {
                "id": f"line:{line.number}",
                "kind": "line",
                **context,
                "number": line.number,
                "code": line.code,
                "units": line.units,
                "charge_cents": None if charge is None else int(charge * 100),
                "dos": day.year * 10000 + day.month * 100 + day.day,
                "date": day.isoformat(),
                "dos_end": None if end is None else end.year * 10000 + end.month * 100 + end.day,
                "pos": line.place_of_service or claim_pos,
                "modifiers": ",".join(modifiers),
                "n_modifiers": len(modifiers),
                "dx": ",".join([diagnoses[p - 1] for p in pointers if p <= n_dx]) if pointers else all_dx,
                "taxonomy": (line_render.taxonomy if line_render else None) or taxonomy,
                "billing_taxonomy": billing_tax,
            }
            for modifier in modifiers:
                fact["mod_" + modifier] = True
            self.lines.append(fact)
            self._by_number[line.number] = fact
        self.extra: list[dict[str, Any]] = []

    def line(self, number: int) -> dict[str, Any]:
        return self._by_number[number]

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Add a fact of ``kind``; claim context fields are filled in."""
        fact = {key: self.claim[key] for key in CONTEXT_FIELDS}
        fact.update(fields)
        fact["kind"] = kind
        fact["id"] = f"{kind}:{len(self.extra)}"
        self.extra.append(fact)
        return fact

    def all(self) -> list[dict[str, Any]]:
        return [self.claim, *self.lines, *self.extra]
