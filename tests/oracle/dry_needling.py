"""Plain-Python reference implementation ("oracle") of the dry-needling checks.

It serves two purposes:

* a differential-testing oracle for the rule engine, which implements the same
  rules as declarative YAML rules; and
* the speed baseline in benchmarks.

It is written independently of the engine and reads only its own copy of the
reference tables in ``tests/oracle/data/``. Everything that can be precomputed
is built once at import time.

``check(claim, options)`` returns a sorted list of finding tuples::

    (rule_id, severity, line_number_or_None, fix_action_or_None,
     fix_modifier_or_None, fix_units_or_None, tuple(fix_alternatives))

``severity`` is the string ``"error"``, ``"warning"`` or ``"info"``. The list is
a multiset: two findings that look the same are both kept (for example two
modifier conflicts without a fix on one line). It is sorted with
:func:`sort_key`, which orders ``None`` before any value so that tuples with
``None`` and non-``None`` in the same position compare.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any, Iterable, Optional

DATA_DIR = Path(__file__).resolve().parent / "data"
PTP_FILE = DATA_DIR / "ncci_ptp_practitioner_2024q3_20560_20561.tsv"
MUE_FILE = DATA_DIR / "mue_practitioner_2024q3_excerpt.csv"
CLBP_FILE = DATA_DIR / "clbp.csv"
DX_VALIDITY_FILE = DATA_DIR / "dx_validity.csv"
INJECTION_FILE = DATA_DIR / "injection_codes.txt"

ERROR = "error"
WARNING = "warning"
INFO = "info"

NEEDLING = frozenset({"20560", "20561"})

CODE_EFFECTIVE = dt.date(2020, 1, 1)
NCD_EFFECTIVE = dt.date(2020, 1, 21)
STATUS_N_LAST = dt.date(2020, 1, 20)

_MIN_DATE = dt.date.min
_MAX_DATE = dt.date.max

# --- payer and provider classes ------------------------------------------------

PAYER_CLASS = {
    "MB": "medicare_ffs",
    "MA": "medicare_ffs",
    "16": "medicare_advantage",
    "MC": "medicaid",
    "CH": "tricare",
}

TAXONOMY_PREFIXES = {
    "2251": "physical_therapist",
    "2252": "pt_assistant",
    "111N": "chiropractor",
    "225X": "occupational_therapist",
    "2247": "ot_assistant",
    "1711": "acupuncturist",
    "207": "physician",
    "208": "physician",
    "363A": "physician_assistant",
    "363L": "nurse_practitioner",
    "364S": "clinical_nurse_specialist",
}
_PREFIX_LENGTHS = sorted({len(p) for p in TAXONOMY_PREFIXES}, reverse=True)

NCD_ELIGIBLE = frozenset(
    {"physician", "physician_assistant", "nurse_practitioner", "clinical_nurse_specialist", "acupuncturist"}
)
NCD_INELIGIBLE = frozenset(
    {"physical_therapist", "pt_assistant", "chiropractor", "occupational_therapist", "ot_assistant"}
)

_taxonomy_cache: dict[str, str] = {}


def provider_class(taxonomy: Optional[str]) -> str:
    """Class of a provider from its taxonomy code (longest prefix wins)."""
    if taxonomy is None:
        return "unknown"
    cls = _taxonomy_cache.get(taxonomy)
    if cls is None:
        cls = "unknown"
        for n in _PREFIX_LENGTHS:
            hit = TAXONOMY_PREFIXES.get(taxonomy[:n])
            if hit is not None:
                cls = hit
                break
        _taxonomy_cache[taxonomy] = cls
    return cls


# --- modifier vocabularies -----------------------------------------------------

NCCI_ASSOCIATED = frozenset(
    ["E1", "E2", "E3", "E4", "FA"]
    + [f"F{i}" for i in range(1, 10)]
    + ["TA"]
    + [f"T{i}" for i in range(1, 10)]
    + ["LT", "RT", "LC", "LD", "LM", "RC", "RI", "24", "25", "57", "58", "78", "79", "27", "59", "91"]
    + ["XE", "XS", "XP", "XU"]
)
NCCI_ASSOCIATED_NOT_25 = NCCI_ASSOCIATED - {"25"}
BYPASS_59X = frozenset({"59", "XE", "XS", "XP", "XU"})

INVALID_MODS = ("26", "TC", "50", "62", "66", "80", "81", "82", "AS", "AT", "JZ")
NOT_APPLICABLE_MODS = ("51", "24", "57", "58", "78", "79", "25", "76", "77", "PN")
ABN_MODS = ("GA", "GX", "GY", "GZ")
LIABILITY_MODS = frozenset(ABN_MODS)
CONFLICT_PAIRS = (
    ("GA", "GZ"),
    ("GA", "GY"),
    ("GY", "GZ"),
    ("GX", "GA"),
    ("GX", "GZ"),
    ("GP", "GO"),
    ("CQ", "CO"),
    ("LT", "RT"),
    ("59", "XE"),
    ("59", "XS"),
    ("59", "XP"),
    ("59", "XU"),
)
_INVALID_SET = frozenset(INVALID_MODS)
_NOT_APPLICABLE_SET = frozenset(NOT_APPLICABLE_MODS)
_CONFLICT_MODS = frozenset(m for pair in CONFLICT_PAIRS for m in pair)
# Modifiers that can only matter on a needling line through the per-modifier
# rules; a needling line with none of these skips those loops.
_INTERESTING_MODS = (
    _INVALID_SET | _NOT_APPLICABLE_SET | _CONFLICT_MODS | BYPASS_59X | LIABILITY_MODS | {"CQ", "CO", "95"}
)

TELEHEALTH_POS = frozenset({"02", "10"})


def is_em(code: str) -> bool:
    """E/M code: 99202-99499 (numeric) or G0463."""
    if code == "G0463":
        return True
    return code.isdigit() and 99202 <= int(code) <= 99499


# --- tables (loaded once) ------------------------------------------------------


def _date(text: str) -> Optional[dt.date]:
    text = text.strip()
    return dt.date.fromisoformat(text) if text else None


def _load_ptp(path: Path) -> dict[tuple[str, str], tuple[Optional[dt.date], Optional[dt.date]]]:
    """Ordered pair (column1, column2) -> (last active date of an indicator-0 row,
    last active date of an indicator-1 row); None when there is no such row.

    Rows with indicator 9 are skipped. A row is active for a date d when
    d <= deletion_date. For a date d the pair's indicator is 0 if an
    indicator-0 row is active, else 1 if an indicator-1 row is active, else
    there is no edit.
    """
    table: dict[tuple[str, str], list[Optional[dt.date]]] = {}
    with path.open(newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader)  # header
        for row in reader:
            if not row or not row[0].strip():
                continue
            code, role, other, deletion, indicator = (c.strip() for c in row[:5])
            if indicator == "9":
                continue
            if role == "Comprehensive":
                pair = (code, other)
            elif role == "Component":
                pair = (other, code)
            else:
                raise ValueError(f"{path.name}: unknown role {role!r}")
            if indicator not in ("0", "1"):
                raise ValueError(f"{path.name}: unknown modifier indicator {indicator!r}")
            deletion_date = dt.date.fromisoformat(deletion)
            slot = table.setdefault(pair, [None, None])
            k = int(indicator)
            if slot[k] is None or deletion_date > slot[k]:
                slot[k] = deletion_date
    return {pair: (v[0], v[1]) for pair, v in table.items()}


def _load_mue(path: Path) -> dict[str, int]:
    with path.open(newline="") as fh:
        return {row["hcpcs_code"].strip(): int(row["mue_units"]) for row in csv.DictReader(fh)}


def _load_ranges(path: Path) -> dict[str, tuple[dt.date, dt.date]]:
    out = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["code"].strip()] = (
                _date(row["valid_from"]) or _MIN_DATE,
                _date(row["valid_to"]) or _MAX_DATE,
            )
    return out


def _load_codes(path: Path) -> frozenset[str]:
    return frozenset(
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


PTP = _load_ptp(PTP_FILE)
MUE = _load_mue(MUE_FILE)
CLBP = _load_ranges(CLBP_FILE)
DX_VALIDITY = _load_ranges(DX_VALIDITY_FILE)
INJECTION_CODES = _load_codes(INJECTION_FILE)

_DX_VALIDITY_CODES = frozenset(DX_VALIDITY)

# Codes that appear in a PTP pair at all: a pair lookup is skipped otherwise.
_PTP_CODES = frozenset(c for pair in PTP for c in pair)


def ptp_indicator(col1: str, col2: str, date: dt.date) -> Optional[int]:
    """The active PTP modifier indicator (0 or 1) for the ordered pair on a date, or None."""
    entry = PTP.get((col1, col2))
    if entry is None:
        return None
    d0, d1 = entry
    if d0 is not None and date <= d0:
        return 0
    if d1 is not None and date <= d1:
        return 1
    return None


# --- options -------------------------------------------------------------------

DEFAULT_OPTIONS = {
    "therapist_modifier": "GY",
    "em_bypass": "either",
    "bypass_modifier": "XS",
    "investigational": False,
}
_OPTION_VALUES = {
    "therapist_modifier": ("GY", "GA"),
    "em_bypass": ("either", "em", "needling"),
    "bypass_modifier": ("XS", "59"),
}


def _options(options: Optional[dict]) -> tuple[str, str, str, bool]:
    if not options:
        return "GY", "either", "XS", False
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise ValueError(f"unknown options: {sorted(unknown)}")
    merged = {**DEFAULT_OPTIONS, **options}
    for key, allowed in _OPTION_VALUES.items():
        if merged[key] not in allowed:
            raise ValueError(f"option {key} must be one of {allowed}, not {merged[key]!r}")
    return (
        merged["therapist_modifier"],
        merged["em_bypass"],
        merged["bypass_modifier"],
        bool(merged["investigational"]),
    )


# --- sorting -------------------------------------------------------------------


def sort_key(finding: tuple) -> tuple:
    """Total order on finding tuples in which None sorts before any value.

    Written out for speed: line numbers and units are >= 1 and fix actions and
    modifiers are non-empty strings, so -1, 0 and "" stand in for None.
    """
    rule_id, severity, line, action, modifier, units, alternatives = finding
    return (
        rule_id,
        severity,
        -1 if line is None else line,
        action or "",
        modifier or "",
        units or 0,
        alternatives,
    )


# --- the check -----------------------------------------------------------------


def _pointed_dx(pointers: list[int], diagnoses: list[str]) -> list[str]:
    """Diagnosis codes that 1-based pointers select; pointers past the end of
    the diagnosis list are ignored. (A line without pointers points to every
    claim diagnosis; the caller handles that case.)"""
    n = len(diagnoses)
    return [diagnoses[p - 1] for p in pointers if p <= n]


def check(claim: Any, options: Optional[dict] = None) -> list[tuple]:
    """All dry-needling findings for one claim, as sorted tuples (see module doc)."""
    lines = claim.lines
    for ln in lines:
        if ln.code in NEEDLING:
            break
    else:
        # Every rule needs a needling line, and every PTP pair in the table
        # involves 20560 or 20561.
        return []

    therapist_mod, em_bypass, bypass_mod, investigational = _options(options)
    out: list[tuple] = []
    add = out.append

    payer = PAYER_CLASS.get(claim.filing_indicator, "commercial")
    ffs = payer == "medicare_ffs"
    ma = payer == "medicare_advantage"
    abn = claim.abn
    diagnoses = claim.diagnoses
    claim_pos = claim.place_of_service
    claim_tax = None
    if ffs:
        if claim.rendering_provider is not None:
            claim_tax = claim.rendering_provider.taxonomy
        if claim_tax is None:
            claim_tax = claim.billing_provider.taxonomy
    dx_check = bool(diagnoses) and not _DX_VALIDITY_CODES.isdisjoint(diagnoses)

    # Snapshot the lines once: (number, code, modifiers, date, line), and
    # per day the codes billed with the lowest line number of each.
    rows = []
    days: dict[dt.date, dict[str, int]] = {}
    for ln in lines:
        num = ln.number
        code = ln.code
        date = ln.service_date
        mods = ln.modifiers
        rows.append((num, code, mods, date, ln))
        day = days.get(date)
        if day is None:
            days[date] = {code: num}
        else:
            first = day.get(code)
            if first is None or num < first:
                day[code] = num
    n = len(rows)

    # Pairwise facts: PTP edits, same-code/same-day and injection lines.
    # needs_bypass[j]: line j is column 2 of an active indicator-1 pair on its day.
    needs_bypass = [False] * n
    for i in range(n):
        num_a, code_a, mods_a, date_a, _ = rows[i]
        if code_a not in _PTP_CODES:
            continue
        for j in range(n):
            if i == j:
                continue
            num_b, code_b, mods_b, date_b, _ = rows[j]
            if date_a != date_b:
                continue
            entry = PTP.get((code_a, code_b))
            if entry is None:
                continue
            d0, d1 = entry
            if d0 is not None and date_a <= d0:
                if not (code_a == "20561" and code_b == "20560"):
                    add(("DN-PTP-NEVER", ERROR, num_b, "drop_line", None, None, ()))
            elif d1 is not None and date_a <= d1:
                needs_bypass[j] = True
                if code_b in NEEDLING and is_em(code_a):
                    if em_bypass == "either":
                        ok = "25" in mods_a or not NCCI_ASSOCIATED_NOT_25.isdisjoint(mods_b)
                    elif em_bypass == "em":
                        ok = "25" in mods_a
                    else:
                        ok = not BYPASS_59X.isdisjoint(mods_b)
                    if not ok:
                        if em_bypass == "needling":
                            add(("DN-PTP-MODIFIER", ERROR, num_b, "add_modifier", bypass_mod, None, ()))
                        else:
                            add(("DN-PTP-MODIFIER", ERROR, num_a, "add_modifier", "25", None, ()))
                elif NCCI_ASSOCIATED.isdisjoint(mods_b):
                    mod = "25" if is_em(code_b) else bypass_mod
                    add(("DN-PTP-MODIFIER", ERROR, num_b, "add_modifier", mod, None, ()))

    for idx in range(n):
        num, code, mods, date, ln = rows[idx]
        if code not in NEEDLING:
            continue

        # Units.
        mue = MUE.get(code, 1)
        if ln.units > mue:
            add(("DN-UNITS-LINE", ERROR, num, "set_units", None, mue, ()))

        # Same-day facts.
        day = days[date]
        if day[code] < num:
            add(("DN-UNITS-DAY", ERROR, num, "drop_line", None, None, ()))
        if code == "20560" and "20561" in day:
            add(("DN-PAIR-SAMEDAY", ERROR, num, "drop_line", None, None, ()))
        if not INJECTION_CODES.isdisjoint(day):
            add(("DN-INJECTION-SAMEDAY", WARNING, num, None, None, None, ()))

        if diagnoses:
            pointers = ln.diagnosis_pointers
            if pointers:
                pointed = _pointed_dx(pointers, diagnoses)
            else:
                pointed = diagnoses
        else:
            pointed = diagnoses

        # Medicare coverage and the expected liability modifier.
        coverage = None
        expected = None
        if ffs and date >= NCD_EFFECTIVE:
            tax = None
            rp = ln.rendering_provider
            if rp is not None:
                tax = rp.taxonomy
            if tax is None:
                tax = claim_tax
            pclass = provider_class(tax)
            if pclass in NCD_INELIGIBLE:
                coverage = "not_benefit"
                expected = therapist_mod
            elif pclass in NCD_ELIGIBLE:
                coverage = "not_reasonable"
                for dx in pointed:
                    rng = CLBP.get(dx)
                    if rng is not None and rng[0] <= date <= rng[1]:
                        coverage = "covered"
                        break
                if coverage == "not_reasonable":
                    if abn == "signed":
                        expected = "GA"
                    elif abn == "none":
                        expected = "GZ"

        if coverage == "not_benefit":
            if expected not in mods:
                add(("DN-MCR-EXCLUDED", ERROR, num, "add_modifier", expected, None, ()))
            if expected == "GY" and abn == "voluntary" and "GX" not in mods:
                add(("DN-MCR-EXCLUDED", ERROR, num, "add_modifier", "GX", None, ()))
        elif coverage == "not_reasonable":
            if "GA" not in mods and "GZ" not in mods:
                if expected is None:
                    add(("DN-MCR-NOT-COVERED-DX", ERROR, num, "add_modifier", None, None, ("GA", "GZ")))
                else:
                    add(("DN-MCR-NOT-COVERED-DX", ERROR, num, "add_modifier", expected, None, ()))
        elif coverage == "covered":
            if "GY" in mods:
                add(("DN-MCR-GY-COVERED", WARNING, num, "remove_modifier", "GY", None, ()))

        if ffs and CODE_EFFECTIVE <= date <= STATUS_N_LAST and "GY" not in mods:
            add(("DN-MCR-STATUS-N", ERROR, num, "add_modifier", "GY", None, ()))

        if date < CODE_EFFECTIVE:
            add(("DN-DATE-BEFORE-CODE", ERROR, num, None, None, None, ()))

        # Diagnoses not valid on the date of service.
        if dx_check:
            for dx in (dict.fromkeys(pointed) if len(pointed) > 1 else pointed):
                rng = DX_VALIDITY.get(dx)
                if rng is not None and not (rng[0] <= date <= rng[1]):
                    add(("DN-DX-INVALID-ON-DOS", ERROR, num, None, None, None, ()))

        # Place of service.
        pos = ln.place_of_service or claim_pos
        if pos in TELEHEALTH_POS or "95" in mods:
            add(("DN-POS-TELEHEALTH", ERROR, num, None, None, None, ()))

        if investigational:
            add(("DN-PAYER-INVESTIGATIONAL", WARNING, num, None, None, None, ()))

        if _INTERESTING_MODS.isdisjoint(mods):
            continue

        # Modifier rules.
        for m in INVALID_MODS:
            if m in mods:
                add(("DN-MOD-INVALID", ERROR, num, "remove_modifier", m, None, ()))
        for m in NOT_APPLICABLE_MODS:
            if m in mods:
                add(("DN-MOD-NOT-APPLICABLE", WARNING, num, "remove_modifier", m, None, ()))
        for x, y in CONFLICT_PAIRS:
            if x in mods and y in mods:
                if x == "59":
                    add(("DN-MOD-CONFLICT", ERROR, num, "remove_modifier", "59", None, ()))
                elif x in LIABILITY_MODS and y in LIABILITY_MODS and expected in (x, y):
                    other = y if expected == x else x
                    add(("DN-MOD-CONFLICT", ERROR, num, "remove_modifier", other, None, ()))
                else:
                    add(("DN-MOD-CONFLICT", ERROR, num, None, None, None, ()))
        cq = "CQ" in mods
        co = "CO" in mods
        if cq and "GP" not in mods:
            add(("DN-MOD-REQUIRES", ERROR, num, "add_modifier", "GP", None, ()))
        if co and "GO" not in mods:
            add(("DN-MOD-REQUIRES", ERROR, num, "add_modifier", "GO", None, ()))
        if cq or co:
            add(("DN-MOD-ASSISTANT", WARNING, num, None, None, None, ()))
        if not needs_bypass[idx]:
            for m in ("59", "XE", "XP", "XS", "XU"):
                if m in mods:
                    add(("DN-MOD-UNNEEDED-BYPASS", INFO, num, "remove_modifier", m, None, ()))
        if ma:
            for m in ABN_MODS:
                if m in mods:
                    add(("DN-MCR-ABN-ON-MA", WARNING, num, "remove_modifier", m, None, ()))

    if len(out) > 1:
        out.sort(key=sort_key)
    return out


def rule_ids(findings: Iterable[tuple]) -> list[str]:
    """The rule IDs of a list of findings, sorted (handy in tests)."""
    return sorted(f[0] for f in findings)
