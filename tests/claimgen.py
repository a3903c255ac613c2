"""Random dry-needling claims that hit the rule edges, for differential tests.

One generator, two drivers: :func:`claims` is a hypothesis strategy (so a
failing example shrinks), :func:`random_claim` draws from a seeded
``random.Random`` (for the 100,000-claim benchmark, where hypothesis would
cost more than the check). Both return JSON-ready claim dicts valid for
``Claim.model_validate``.

Edges covered on purpose: same-day pairs of needling with every PTP partner
kind (20560/20561, E/M, injections, therapy, acupuncture), every modifier in
the plugin's vocabulary (its modifier rules, conflicts and NCCI modifier
tables, the liability modifiers), every payer class (every SBR09 the facts
map, commercial and none), every provider class (each taxonomy prefix and an
unknown one, at claim and line level), and dates on and around 2020-01-01,
2020-01-21 and 2021-10-01.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Callable, Sequence

from oracle import dry_needling as dn

try:  # the benchmark script needs only random_claim
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None  # type: ignore[assignment]

NEEDLING = ("20560", "20561")
EM = ("99202", "99212", "99213", "99215", "99499", "G0463", "99201")
THERAPY = ("97110", "97112", "97140", "97530", "97810", "97811", "97813", "97814", "20552", "20553", "20550")
OTHER = ("64479", "20999", "97799", "J1100", "A0425", "0213T")
INJECTIONS = tuple(sorted(dn.INJECTION_CODES))
#: A few more NCCI column-1/column-2 partners of 20560/20561 from the table.
PTP_PARTNERS = tuple(sorted({c for pair in dn.PTP for c in pair} - set(NEEDLING)))[::37]

#: Every modifier the plugin's tables and the oracle know, and a few it does not.
MODIFIERS = tuple(sorted(
    set(dn.NCCI_ASSOCIATED) | set(dn.INVALID_MODS) | set(dn.NOT_APPLICABLE_MODS) | set(dn.ABN_MODS)
    | {m for pair in dn.CONFLICT_PAIRS for m in pair}
    | {"GP", "GO", "GN", "CQ", "CO", "KX", "95", "GT", "Q6", "AA"}
))
COMMON_MODIFIERS = ("GP", "GY", "GA", "GZ", "GX", "59", "XS", "XU", "25", "KX")

#: SBR09 values: every payer class the facts map, commercial ones, and none
#: (Medicare weighted up: most rules are Medicare rules).
FILING = ("MB", "MB", "MB", "MA", "16", "16", "MC", "CH", "VA", "WC", "AM", "LM", "OF", "FI", "TV", "ZZ", "CI", "BL", "HM", "12", None)

#: One taxonomy per provider class, plus unknown ones.
TAXONOMIES = (
    "225100000X", "225200000X", "111N00000X", "225X00000X", "224700000X", "171100000X",
    "207X00000X", "208D00000X", "363A00000X", "363L00000X", "364S00000X",
    "390200000X", "2251E1200X", "1223G0001X",
)

DIAGNOSES = ("M545", "M5450", "M5451", "M5459", "M7918", "M6281", "M5412", "Z000", "S338XXA")
POS = ("11", "02", "10", "22", "12", "19")
ABN = ("signed", "voluntary", "none", None)


def _around(day: dt.date) -> list[dt.date]:
    return [day + dt.timedelta(days=d) for d in (-2, -1, 0, 1, 2)]


BOUNDARY_DATES = tuple(
    _around(dn.CODE_EFFECTIVE) + _around(dn.NCD_EFFECTIVE) + _around(dt.date(2021, 10, 1))
    + [dt.date(2019, 6, 1), dt.date(2022, 3, 3), dt.date(2024, 3, 5), dt.date(2024, 12, 31), dt.date(2025, 1, 1)]
)

Pick = Callable[[Sequence[Any]], Any]
Integer = Callable[[int, int], int]


def build(pick: Pick, integer: Integer, claim_id: str = "G1") -> dict[str, Any]:
    """One claim from two primitives: pick one of a sequence, pick an int."""
    n_dx = integer(0, 4)
    diagnoses: list[str] = []
    for _ in range(n_dx):
        d = pick(DIAGNOSES)
        if d not in diagnoses:
            diagnoses.append(d)
    day = pick(BOUNDARY_DATES)
    n_lines = integer(1, 5)
    lines = []
    for number in range(1, n_lines + 1):
        kind = integer(0, 9)
        if kind <= 4:
            code = pick(NEEDLING)
        elif kind == 5:
            code = pick(EM)
        elif kind == 6:
            code = pick(THERAPY)
        elif kind == 7:
            code = pick(INJECTIONS)
        elif kind == 8:
            code = pick(PTP_PARTNERS)
        else:
            code = pick(OTHER)
        mods: list[str] = []
        for _ in range(integer(0, 4)):
            mods.append(pick(COMMON_MODIFIERS) if integer(0, 1) else pick(MODIFIERS))
        shift = integer(0, 9)
        line_date = day if shift < 7 else day + dt.timedelta(days=shift - 7 + (1 if shift == 9 else 0))
        line: dict[str, Any] = {
            "number": number,
            "code": code,
            "modifiers": mods,
            "units": pick((1, 1, 1, 2, 3, 4, 6, 7)),
            "charge": f"{integer(0, 300)}.00",
            "service_date": line_date.isoformat(),
        }
        pointers = integer(0, 3)
        if pointers == 1:
            line["diagnosis_pointers"] = [1]
        elif pointers == 2:
            line["diagnosis_pointers"] = [integer(1, 4) for _ in range(integer(1, 4))]
        if integer(0, 9) == 0:
            line["place_of_service"] = pick(POS)
        if integer(0, 9) == 0:
            line["rendering_provider"] = {"taxonomy": pick(TAXONOMIES)}
        if integer(0, 19) == 0:
            line["service_date_end"] = (line_date + dt.timedelta(days=integer(0, 3))).isoformat()
        lines.append(line)
    claim: dict[str, Any] = {
        "claim_id": claim_id,
        "filing_indicator": pick(FILING),
        "payer": {"id": pick(("MCR01", "62308", "COMM1", None))},
        "billing_provider": {"taxonomy": pick(TAXONOMIES + (None,))},
        "place_of_service": pick(POS + (None,)),
        "diagnoses": diagnoses,
        "abn": pick(ABN),
        "lines": lines,
    }
    if integer(0, 4) == 0:
        claim["rendering_provider"] = {"taxonomy": pick(TAXONOMIES)}
    return claim


def _claims(draw: Any) -> dict[str, Any]:
    return build(lambda seq: draw(st.sampled_from(seq)), lambda a, b: draw(st.integers(a, b)))


#: The hypothesis strategy: ``claims()`` draws one claim dict.
claims = st.composite(_claims) if st is not None else None


def random_claim(rng: random.Random, claim_id: str = "G1") -> dict[str, Any]:
    return build(rng.choice, rng.randint, claim_id)


#: Option variants the differential tests run (the plugin's choices and investigational).
OPTION_VARIANTS: tuple[dict[str, Any], ...] = (
    {},
    {"therapist_modifier": "GA"},
    {"em_bypass": "em"},
    {"em_bypass": "needling"},
    {"bypass_modifier": "59"},
    {"investigational": True},
    {"therapist_modifier": "GA", "em_bypass": "needling", "bypass_modifier": "59", "investigational": True},
)
