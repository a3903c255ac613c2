"""Seeded claim workloads for benchmarks and property tests.

* ``w1``: every claim has 3 lines drawn from dry-needling, therapy, E/M and
  acupuncture codes, with modifiers, payers, providers, dates and diagnoses
  mixed so that roughly 40 % of the claims have at least one finding from the
  oracle (default options).
* ``w2``: a realistic mix: about 5 % of the claims are W1-style claims with
  20560/20561; the rest carry 1-4 therapy and E/M lines only.

Both are deterministic functions of ``(n, seed)`` (``random.Random(seed)``
only; no global state). They yield ``Claim`` objects, or plain JSON-ready dicts
(dates as ISO strings) valid for ``Claim.model_validate`` with
``as_dict=True``.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Iterator

from scrubber.models import Claim

W1_CODES = ("20560", "20561", "97140", "97110", "99213", "97813")
W1_CODE_WEIGHTS = (8, 20, 32, 32, 5, 3)

#: The plugin's modifier vocabulary used for random draws.
MODIFIER_VOCAB = ("GP", "GO", "GY", "GA", "GZ", "GX", "59", "XS", "XE", "25", "26", "CQ", "KX", "LT", "RT", "51", "76", "95")
MODIFIER_WEIGHTS = (30, 2, 8, 4, 3, 2, 3, 4, 1, 3, 1, 1, 2, 1, 1, 1, 1, 1)

FILING = ("MB", "16", "CI")
FILING_WEIGHTS = (40, 15, 45)

TAXONOMIES = ("225100000X", "207X00000X", "208D00000X", "111N00000X")
TAXONOMY_WEIGHTS = (50, 20, 15, 15)

DIAGNOSES = ("M5450", "M5459", "M545", "M7918", "M6281")

ABN = ("signed", "voluntary", "none", None)

#: Dates near the rule boundaries (code effective, NCD effective, ICD-10 update).
BOUNDARY_DATES = (
    dt.date(2019, 12, 31),
    dt.date(2020, 1, 1),
    dt.date(2020, 1, 10),
    dt.date(2020, 1, 20),
    dt.date(2020, 1, 21),
    dt.date(2020, 6, 15),
    dt.date(2021, 9, 30),
    dt.date(2021, 10, 1),
    dt.date(2021, 11, 15),
)

W2_CODES = ("97110", "97112", "97140", "97530", "97161", "99213", "99214", "98940")
W2_CODE_WEIGHTS = (30, 15, 25, 15, 4, 5, 3, 3)

_Y2024 = dt.date(2024, 1, 1).toordinal()


def _npi(rng: random.Random) -> str:
    return f"1{rng.randrange(10**9):09d}"


def _date(rng: random.Random) -> dt.date:
    if rng.random() < 0.85:
        return dt.date.fromordinal(_Y2024 + rng.randrange(366))
    return rng.choice(BOUNDARY_DATES)


def _modifiers(rng: random.Random, code: str, careful: bool, filing: str, taxonomy: str) -> list[str]:
    if careful:
        # What a careful biller would put on the line (mostly right).
        if code in ("20560", "20561"):
            mods = []
            if taxonomy.startswith("2251"):
                mods.append("GP")
                if filing == "MB":
                    mods.append("GY")
            return mods
        if code in ("97140", "97110"):
            return ["GP"] if taxonomy.startswith("2251") else []
        return []
    k = rng.choices((0, 1, 2), weights=(35, 45, 20))[0]
    mods: list[str] = []
    while len(mods) < k:
        m = rng.choices(MODIFIER_VOCAB, weights=MODIFIER_WEIGHTS)[0]
        if m not in mods:
            mods.append(m)
    return mods


def w1_claim(rng: random.Random, claim_id: str, n_lines: int = 3) -> dict[str, Any]:
    """One W1-style claim as a dict."""
    filing = rng.choices(FILING, weights=FILING_WEIGHTS)[0]
    taxonomy = rng.choices(TAXONOMIES, weights=TAXONOMY_WEIGHTS)[0]
    careful = rng.random() < 0.65
    date = _date(rng)
    n_dx = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    if date >= dt.date(2021, 10, 1):
        dx_pool, dx_weights = DIAGNOSES, (45, 15, 5, 20, 15)
    else:
        dx_pool, dx_weights = DIAGNOSES, (5, 5, 50, 25, 15)
    diagnoses: list[str] = []
    while len(diagnoses) < n_dx:
        d = rng.choices(dx_pool, weights=dx_weights)[0]
        if d not in diagnoses:
            diagnoses.append(d)

    lines = []
    for number in range(1, n_lines + 1):
        code = rng.choices(W1_CODES, weights=W1_CODE_WEIGHTS)[0]
        line_date = date if rng.random() < 0.9 else date + dt.timedelta(days=rng.randrange(1, 8))
        line: dict[str, Any] = {
            "number": number,
            "code": code,
            "modifiers": _modifiers(rng, code, careful, filing, taxonomy),
            "units": 1 if rng.random() < 0.95 else 2,
            "charge": f"{rng.randrange(40, 160)}.00",
            "service_date": line_date.isoformat(),
        }
        r = rng.random()
        if r < 0.6:
            line["diagnosis_pointers"] = [1]
        elif r < 0.8:
            line["diagnosis_pointers"] = list(range(1, len(diagnoses) + 1))
        # else: no pointers (all claim diagnoses apply)
        if rng.random() < 0.05:
            line["place_of_service"] = rng.choice(("11", "02", "10"))
        if rng.random() < 0.05:
            line["rendering_provider"] = {
                "npi": _npi(rng),
                "taxonomy": rng.choices(TAXONOMIES, weights=TAXONOMY_WEIGHTS)[0],
            }
        lines.append(line)

    claim: dict[str, Any] = {
        "claim_id": claim_id,
        "filing_indicator": filing,
        "payer": {"id": {"MB": "MCR01", "16": "MAPLAN", "CI": "COMM01"}[filing]},
        "patient": {"id": f"P{rng.randrange(10**6):06d}"},
        "billing_provider": {"npi": _npi(rng), "taxonomy": taxonomy},
        "place_of_service": "11",
        "diagnoses": diagnoses,
        "abn": rng.choice(ABN),
        "frequency": "1",
        "lines": lines,
    }
    return claim


def w2_claim(rng: random.Random, claim_id: str) -> dict[str, Any]:
    """One W2 claim without needling lines (therapy and E/M codes only)."""
    taxonomy = rng.choices(TAXONOMIES, weights=TAXONOMY_WEIGHTS)[0]
    filing = rng.choices(FILING, weights=FILING_WEIGHTS)[0]
    date = _date(rng)
    n_lines = rng.choices((1, 2, 3, 4), weights=(20, 35, 30, 15))[0]
    therapist = taxonomy.startswith("2251")
    lines = []
    for number in range(1, n_lines + 1):
        code = rng.choices(W2_CODES, weights=W2_CODE_WEIGHTS)[0]
        mods = ["GP"] if therapist and code.startswith("97") else []
        if code.startswith("99") and rng.random() < 0.3:
            mods.append("25")
        if rng.random() < 0.05:
            mods.append("59")
        lines.append(
            {
                "number": number,
                "code": code,
                "modifiers": mods,
                "units": rng.choices((1, 2, 3, 4), weights=(50, 30, 15, 5))[0] if code.startswith("97") else 1,
                "charge": f"{rng.randrange(30, 200)}.00",
                "service_date": date.isoformat(),
                "diagnosis_pointers": [1],
            }
        )
    return {
        "claim_id": claim_id,
        "filing_indicator": filing,
        "payer": {"id": {"MB": "MCR01", "16": "MAPLAN", "CI": "COMM01"}[filing]},
        "patient": {"id": f"P{rng.randrange(10**6):06d}"},
        "billing_provider": {"npi": _npi(rng), "taxonomy": taxonomy},
        "place_of_service": "11",
        "diagnoses": [rng.choice(DIAGNOSES[:2] + DIAGNOSES[3:])],
        "abn": rng.choice(ABN),
        "frequency": "1",
        "lines": lines,
    }


def _w1_with_needling(rng: random.Random, claim_id: str) -> dict[str, Any]:
    """A W1 claim that has at least one 20560/20561 line."""
    while True:
        claim = w1_claim(rng, claim_id)
        if any(line["code"] in ("20560", "20561") for line in claim["lines"]):
            return claim


def w1(n: int = 20000, seed: int = 1, as_dict: bool = False) -> Iterator[Any]:
    """W1: n claims of 3 lines each, heavy on dry needling (see module doc)."""
    rng = random.Random(seed)
    for i in range(n):
        claim = w1_claim(rng, f"W1-{seed}-{i:07d}")
        yield claim if as_dict else Claim.model_validate(claim)


def w2(n: int = 100000, seed: int = 2, as_dict: bool = False, needling_share: float = 0.05) -> Iterator[Any]:
    """W2: n claims, ``needling_share`` of them with 20560/20561 (W1 style), the rest
    1-4 therapy and E/M lines."""
    rng = random.Random(seed)
    for i in range(n):
        cid = f"W2-{seed}-{i:07d}"
        if rng.random() < needling_share:
            claim = _w1_with_needling(rng, cid)
        else:
            claim = w2_claim(rng, cid)
        yield claim if as_dict else Claim.model_validate(claim)
