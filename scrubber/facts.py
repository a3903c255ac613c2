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
        context = {
            "claim_id": claim.claim_id,
            "filing": claim.filing_indicator,
            "payer_id": claim.payer.id,
            "payer_class": payer_class(claim.filing_indicator),
            "abn": claim.abn or "unknown",
        }
        billing_tax = claim.billing_provider.taxonomy
        claim_render = claim.rendering_provider.taxonomy if claim.rendering_provider else None
        dates = [line.service_date for line in claim.lines]
        self.claim: dict[str, Any] = {
            "id": "claim",
            "kind": "claim",
            **context,
            "pos": claim.place_of_service,
            "frequency": claim.frequency,
            "n_lines": len(claim.lines),
            "dos": yyyymmdd(min(dates)),
            "taxonomy": claim_render or billing_tax,
            "billing_taxonomy": billing_tax,
        }
        diagnoses = claim.diagnoses
        self.lines: list[dict[str, Any]] = []
        self._by_number: dict[int, dict[str, Any]] = {}
        for line in claim.lines:
            line_render = line.rendering_provider.taxonomy if line.rendering_provider else None
            pointed = [diagnoses[p - 1] for p in line.diagnosis_pointers if p <= len(diagnoses)]
            fact: dict[str, Any] = {
                "id": f"line:{line.number}",
                "kind": "line",
                **context,
                "number": line.number,
                "code": line.code,
                "units": line.units,
                "charge_cents": cents(line.charge),
                "dos": yyyymmdd(line.service_date),
                "date": line.service_date.isoformat(),
                "dos_end": yyyymmdd(line.service_date_end),
                "pos": line.place_of_service or claim.place_of_service,
                "modifiers": ",".join(line.modifiers),
                "n_modifiers": len(line.modifiers),
                "dx": ",".join(pointed if line.diagnosis_pointers else diagnoses),
                "taxonomy": line_render or claim_render or billing_tax,
                "billing_taxonomy": billing_tax,
            }
            for modifier in line.modifiers:
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
