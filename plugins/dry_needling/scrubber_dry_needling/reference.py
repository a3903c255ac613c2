"""The plugin's reference tables, loaded once and looked up per claim.

Tables are never compiled into rules (durable_rules slows down linearly with
sibling conditions and hangs at 512): the plugin looks values up here and
attaches them to facts, and the rules stay generic. Each table keeps its
version and source; see ``tables/README.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from importlib import resources
from typing import Iterator, Optional

from scrubber import ReferenceTable

NEEDLING_CODES = frozenset({"20560", "20561"})


def _rows(name: str, delimiter: str = ",") -> Iterator[dict[str, str]]:
    text = resources.files(__package__).joinpath("tables", name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0].split("\t#")[0] if delimiter == "\t" else lines[0]
    yield from csv.DictReader([header, *lines[1:]], delimiter=delimiter)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _int_date(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


@dataclass(frozen=True)
class PtpEdit:
    column1: str
    column2: str
    indicator: int  # 0 never together, 1 with an NCCI-associated modifier
    deleted: int  # last date (YYYYMMDD) the edit applies
    rationale: str


class Tables:
    """Every table of the plugin, as dicts ready for lookups."""

    def __init__(self) -> None:
        self.mue = {r["hcpcs_code"]: (int(r["mue_units"]), int(r["mue_mai"])) for r in _rows("mue_practitioner_2024q3.csv")}
        self.pfs = {r["hcpcs_code"]: r for r in _rows("pfs_rvu_2024jul.csv")}
        self.ptp: dict[str, list[PtpEdit]] = {}
        ptp_rows = 0
        for r in _rows("ncci_ptp_practitioner_2024q3.tsv", "\t"):
            ptp_rows += 1
            if r["modifier_indicator"] == "9":
                continue  # "no edit": a deleted pair
            if r["role"] == "Comprehensive":
                col1, col2 = r["code"], r["other_code"]
            else:
                col1, col2 = r["other_code"], r["code"]
            edit = PtpEdit(col1, col2, int(r["modifier_indicator"]), _int_date(_date(r["deletion_date"])), r["rationale"])
            self.ptp.setdefault(col1 + col2, []).append(edit)
        self.ptp_rows = ptp_rows
        self.ncci_modifiers = frozenset(r["modifier"] for r in _rows("ncci_modifiers.csv"))
        self.modifier_rules = {r["modifier"]: (r["status"], r["reason"]) for r in _rows("modifier_rules.csv")}
        self.conflicts = [(r["first"], r["second"], r["policy"], r["remove"]) for r in _rows("modifier_conflicts.csv")]
        classes = list(_rows("taxonomy_classes.csv"))
        # Longest prefix first, so 2252 (PT assistant) wins over a shorter match.
        self.taxonomy = sorted(((r["prefix"], r["class"], r["ncd_eligible"] == "true") for r in classes),
                               key=lambda t: -len(t[0]))
        self.class_labels = {r["class"]: r["label"].lower() for r in classes}
        self.clbp = [(r["code"], _int_date(_date(r["valid_from"])), _int_date(_date(r["valid_to"]))) for r in _rows("clbp_diagnoses.csv")]
        self.dx_validity = {
            r["code"]: (_int_date(_date(r["valid_from"])), _int_date(_date(r["valid_to"])), r["replaced_by"].split())
            for r in _rows("dx_validity.csv")
        }
        self.injections = frozenset(r["code"] for r in _rows("injection_codes.csv"))
        self._clbp_by_code: dict[str, list[tuple[int, int]]] = {}
        for code, start, end in self.clbp:
            self._clbp_by_code.setdefault(code, []).append((start, end))
        self._classes: dict[Optional[str], tuple[str, Optional[bool]]] = {}
        self.invalid_modifiers = {code: self._pfs_modifiers(code) for code in NEEDLING_CODES}

    def _pfs_modifiers(self, code: str) -> dict[str, tuple[str, str]]:
        """Modifiers the fee-schedule indicators of ``code`` rule out."""
        row = self.pfs[code]
        out: dict[str, tuple[str, str]] = {}

        def flag(mods: str, status: str, reason: str) -> None:
            for mod in mods.split():
                out[mod] = (status, reason)

        if float(row["pctc"]) == 0:
            flag("26 TC", "invalid", "PC/TC indicator 0: no professional/technical split")
        if float(row["bilat_surg"]) == 0:
            flag("50", "invalid", "bilateral indicator 0: 50 does not apply")
        if float(row["asst_surg"]) == 1:
            flag("80 81 82 AS", "invalid", "assistant-at-surgery indicator 1: statutory payment restriction")
        if float(row["co_surg"]) == 0:
            flag("62", "invalid", "co-surgeon indicator 0: co-surgeons not permitted")
        if float(row["team_surg"]) == 0:
            flag("66", "invalid", "team-surgery indicator 0: team surgeons not permitted")
        if float(row["mult_proc"]) == 0:
            flag("51", "not_applicable", "multiple-procedure indicator 0: no multiple-procedure reduction")
        if row["glob"] == "XXX":
            flag("24 57 58 78 79", "not_applicable", "global days XXX: no global surgical period")
        for mod, (status, reason) in self.modifier_rules.items():
            out[mod] = (status, reason)
        return out

    def ptp_edit(self, col1: str, col2: str, dos: int) -> Optional[PtpEdit]:
        """The edit in force on ``dos`` for the ordered pair (0 wins over 1)."""
        edits = self.ptp.get(col1 + col2)
        if not edits:  # most pairs (runs for every ordered pair of lines on a day)
            return None
        active = [e for e in edits if dos <= e.deleted]
        if not active:
            return None
        return min(active, key=lambda e: e.indicator)

    def provider_class(self, taxonomy: Optional[str]) -> tuple[str, Optional[bool]]:
        found = self._classes.get(taxonomy)  # memo: a handful of taxonomies recur on every claim
        if found is None:
            if len(self._classes) > 4096:  # taxonomies come from input: keep the memo bounded
                self._classes.clear()
            found = self._classes[taxonomy] = self._provider_class(taxonomy)
        return found

    def _provider_class(self, taxonomy: Optional[str]) -> tuple[str, Optional[bool]]:
        if taxonomy:
            for prefix, cls, eligible in self.taxonomy:
                if taxonomy.startswith(prefix):
                    return cls, eligible
        return "unknown", None

    def is_clbp(self, dx: str, dos: int) -> bool:
        return any(start <= dos <= end for start, end in self._clbp_by_code.get(dx, ()))

    def describe(self) -> list[ReferenceTable]:
        src = "CMS, July 2024 (via the R package andrewallenbruce/northstar, Apache-2.0)"
        return [
            ReferenceTable("mue_practitioner", "2024-07", f"CMS MUE practitioner table {src}", len(self.mue)),
            ReferenceTable("pfs_rvu", "2024-07", f"CMS physician fee schedule RVU file {src}", len(self.pfs)),
            ReferenceTable("ncci_ptp_practitioner", "2024-07", f"CMS NCCI practitioner PTP edits {src}", self.ptp_rows),
            ReferenceTable("ncci_modifiers", "2024", "NCCI Policy Manual ch. I, NCCI-associated modifiers", len(self.ncci_modifiers)),
            ReferenceTable("taxonomy_classes", "1", "NUCC taxonomy prefixes; NCD 30.3.3 eligibility", len(self.taxonomy)),
            ReferenceTable("clbp_diagnoses", "CR11755", "CMS CR 11755 / ICD-10-CM FY2022 M54.5x", len(self.clbp)),
            ReferenceTable("dx_validity", "FY2022", "ICD-10-CM FY2022 addenda (M54.5 expanded)", len(self.dx_validity)),
            ReferenceTable("injection_codes", "1", "HCPCS J codes commonly billed with trigger point injections", len(self.injections)),
        ]
