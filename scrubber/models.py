"""The public data contract: claims in, results out.

The claim schema follows the X12 837P (005010X222A1) so that a claim read from
JSON and one read from an 837P file look the same to the rules. Extra fields
are kept (``extra="allow"``) because clearinghouses carry their own metadata
through the scrubber.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MODIFIERS = 4
#: The 837P allows 50 service lines per claim (loop 2400 repeat).
MAX_LINES = 50

Code = Annotated[str, Field(min_length=1, max_length=48)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


class Source(BaseModel):
    """Where a claim or line came from, so a finding can point into the file."""

    model_config = ConfigDict(extra="forbid")

    file: Optional[str] = None
    #: 1-based segment position in an X12 file (the CLM or LX segment).
    segment: Optional[int] = None
    #: 1-based position of the claim in a JSON array or NDJSON file.
    index: Optional[int] = None
    #: 1-based text line of the claim in an NDJSON file or of the segment in X12.
    line: Optional[int] = None

    def describe(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.segment is not None:
            parts.append(f"segment {self.segment}")
        if self.index is not None:
            parts.append(f"claim #{self.index}")
        return ", ".join(parts) or "<input>"


class Payer(_Model):
    id: Optional[Code] = None
    name: Optional[str] = Field(default=None, max_length=200)


class Patient(_Model):
    id: Optional[Code] = None
    birth_date: Optional[dt.date] = None
    sex: Optional[Literal["F", "M", "U"]] = None


class Provider(_Model):
    npi: Optional[Annotated[str, Field(pattern=r"^\d{10}$")]] = None
    taxonomy: Optional[Annotated[str, Field(pattern=r"^[0-9A-Z]{10}$")]] = None


class ServiceLine(_Model):
    """One 837P loop 2400 service line (SV1 + DTP*472)."""

    number: Annotated[int, Field(ge=1, le=9999)]
    code: Annotated[str, Field(pattern=r"^[A-Z0-9]{5}$")]
    modifiers: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z0-9]{2}$")]], Field(max_length=MAX_MODIFIERS)] = []
    units: Annotated[int, Field(ge=1, le=99999)] = 1
    charge: Optional[Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]] = None
    service_date: dt.date
    #: Last date of a date range (DTP*472 RD8); None for a single date.
    service_date_end: Optional[dt.date] = None
    place_of_service: Optional[Annotated[str, Field(pattern=r"^\d{2}$")]] = None
    diagnosis_pointers: Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(max_length=4)] = []
    rendering_provider: Optional[Provider] = None
    source: Optional[Source] = None

    @field_validator("modifiers", mode="before")
    @classmethod
    def _upper_modifiers(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [m.strip().upper() if isinstance(m, str) else m for m in value]
        return value

    @field_validator("charge", mode="before")
    @classmethod
    def _no_float_money(cls, value: Any) -> Any:
        # A float has already lost cents; insist on a string or integer.
        if isinstance(value, float):
            raise ValueError("money must be a string such as \"120.00\" or an integer, not a float")
        return value


class Claim(_Model):
    """One professional claim (837P loop 2300 with its 2400 lines)."""

    claim_id: Code
    filing_indicator: Optional[Annotated[str, Field(pattern=r"^[0-9A-Z]{2}$")]] = None
    payer: Payer = Payer()
    patient: Patient = Patient()
    billing_provider: Provider = Provider()
    rendering_provider: Optional[Provider] = None
    place_of_service: Optional[Annotated[str, Field(pattern=r"^\d{2}$")]] = None
    diagnoses: Annotated[list[Annotated[str, Field(pattern=r"^[A-Z][0-9A-Z]{2,6}$")]], Field(max_length=12)] = []
    abn: Optional[Literal["signed", "voluntary", "none"]] = None
    #: CLM05-3 claim frequency code: 1 original, 7 replacement, 8 void.
    frequency: Optional[Annotated[str, Field(pattern=r"^\d$")]] = None
    lines: Annotated[list[ServiceLine], Field(min_length=1, max_length=MAX_LINES)]
    source: Optional[Source] = None

    @field_validator("diagnoses", mode="before")
    @classmethod
    def _strip_dots(cls, value: Any) -> Any:
        # ICD-10 codes are written without the dot in the 837P; accept both.
        if isinstance(value, list):
            return [d.replace(".", "").strip().upper() if isinstance(d, str) else d for d in value]
        return value

    def line(self, number: int) -> Optional[ServiceLine]:
        for line in self.lines:
            if line.number == number:
                return line
        return None


class Severity(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Status(str, Enum):
    rejected = "rejected"  # at least one error finding
    warnings = "warnings"  # findings, none an error
    clean = "clean"
    invalid = "invalid"  # the claim failed validation; not scrubbed
    failed = "failed"  # a plugin or the engine failed on this claim


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    url: Optional[str] = None


class Fix(BaseModel):
    """A machine-readable proposed edit to one service line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["add_modifier", "remove_modifier", "set_units", "drop_line"]
    line: int
    modifier: Optional[str] = None
    units: Optional[int] = None
    #: Alternatives a person must choose between (e.g. GA when an ABN is on
    #: file, GZ when not); a fix with alternatives is never applied automatically.
    alternatives: list[str] = []

    def describe(self) -> str:
        if self.action == "set_units":
            return f"set units to {self.units} on line {self.line}"
        if self.action == "drop_line":
            return f"drop line {self.line}"
        verb = "add" if self.action == "add_modifier" else "remove"
        if self.alternatives:
            return f"{verb} modifier {' or '.join(self.alternatives)} on line {self.line}"
        return f"{verb} modifier {self.modifier} on line {self.line}"


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str
    severity: Severity
    line: Optional[int]
    code: Optional[str]
    message: str
    citation: Citation
    fix: Optional[Fix] = None
    #: Which plugin contributed the rule (for ``scrubber rules`` and audits).
    plugin: Optional[str] = None

    def sort_key(self) -> tuple:
        return (self.line if self.line is not None else -1, self.rule_id, self.message)


class InputError(BaseModel):
    """Why a claim could not be scrubbed: names the claim, line and field."""

    model_config = ConfigDict(extra="forbid")

    claim_id: Optional[str] = None
    line: Optional[int] = None
    field: str
    message: str
    source: Optional[Source] = None

    def describe(self) -> str:
        where = [self.source.describe()] if self.source else []
        if self.claim_id:
            where.append(f"claim {self.claim_id}")
        if self.line is not None:
            where.append(f"line {self.line}")
        where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}"


class Change(BaseModel):
    """One edit made by ``--fix``, with the rule that asked for it."""

    model_config = ConfigDict(extra="forbid")

    rule_id: str
    line: int
    action: str
    modifier: Optional[str] = None
    units: Optional[int] = None
    before: Any = None
    after: Any = None


class ScrubResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: Optional[str]
    source: Optional[Source] = None
    status: Status
    findings: list[Finding] = []
    errors: list[InputError] = []
    #: Set by fix mode: the corrected claim and what was changed.
    fixed_claim: Optional[dict[str, Any]] = None
    changes: list[Change] = []

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.error for f in self.findings)


_set = object.__setattr__


def construct(cls: type[BaseModel], **values: Any) -> Any:
    """``cls.model_construct(**values)`` for trusted values that name every
    field, without its per-field loop (the scrubber builds several of these
    per claim; ``model_construct`` costs about as much as a rule firing)."""
    obj = cls.__new__(cls)
    _set(obj, "__dict__", values)
    _set(obj, "__pydantic_fields_set__", set(values))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj
