"""Rule files: declarative rules as data, validated when they are loaded.

A rule file is YAML (loaded with a safe loader, aliases refused) holding one
``RuleSet``. The format is documented in ``docs/rule-format.md``; a test
checks that every key of these models is documented there.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .models import Citation, Severity

RULE_ID = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"
NAME = r"^[a-z][a-z0-9_]*$"
FIELD = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_RULE_FILE_BYTES = 1024 * 1024

Scalar = Union[bool, int, float, str, dt.date]


class RuleFileError(Exception):
    """A rule file that cannot be used: names the file, the rule and the field."""

    def __init__(self, path: str, message: str, rule_id: Optional[str] = None, field: Optional[str] = None):
        self.path, self.rule_id, self.field = path, rule_id, field
        where = [path]
        if rule_id:
            where.append(f"rule {rule_id}")
        if field:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ref(_Strict):
    """A value taken from a fact bound earlier in the rule (a join)."""

    ref: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")]


class SameFact(_Strict):
    """A value taken from another field of the same fact."""

    field: Annotated[str, Field(pattern=FIELD)]


Operand = Union[Ref, SameFact, Scalar]


class Test(_Strict):
    """Tests on one field; several keys are all required to hold."""

    eq: Optional[Operand] = None
    ne: Optional[Operand] = None
    gt: Optional[Operand] = None
    gte: Optional[Operand] = None
    lt: Optional[Operand] = None
    lte: Optional[Operand] = None
    in_: Optional[list[Scalar]] = Field(default=None, alias="in")
    not_in: Optional[list[Scalar]] = None
    exists: Optional[bool] = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Test":
        if not self.model_fields_set:
            raise ValueError("a test needs at least one of eq, ne, gt, gte, lt, lte, in, not_in, exists")
        if self.in_ is not None and not self.in_:
            raise ValueError("'in' needs at least one value")
        return self


class ModifierTest(_Strict):
    """Sugar over the fact's ``mod_XX`` flags."""

    has: Optional[Union[str, list[str]]] = None
    lacks: Optional[Union[str, list[str]]] = None
    has_any: Optional[list[str]] = None

    @model_validator(mode="after")
    def _not_empty(self) -> "ModifierTest":
        if not self.model_fields_set:
            raise ValueError("modifiers needs has, lacks or has_any")
        for value in (self.has, self.lacks, self.has_any):
            for mod in [value] if isinstance(value, str) else value or []:
                if not re.fullmatch(r"[A-Z0-9]{2}", mod):
                    raise ValueError(f"'{mod}' is not a two-character modifier")
        return self


Condition = Union[Test, Scalar]


class Pattern(_Strict):
    """Match one fact of a kind and bind it to a name."""

    fact: Annotated[str, Field(pattern=NAME)]
    as_: Optional[Annotated[str, Field(pattern=NAME)]] = Field(default=None, alias="as")
    where: dict[Annotated[str, Field(pattern=FIELD)], Condition] = {}
    modifiers: Optional[ModifierTest] = None
    any_of: Optional[list[dict[Annotated[str, Field(pattern=FIELD)], Condition]]] = None

    @property
    def name(self) -> str:
        return self.as_ or self.fact


class Negation(_Strict):
    """No fact matching the pattern exists (checked once the claim is complete)."""

    not_: Pattern = Field(alias="not")


class PayerScope(_Strict):
    """Limit a rule to some payers; a claim matches when any list matches."""

    classes: list[str] = []
    filing_indicators: list[str] = []
    ids: list[str] = []


class FixSpec(_Strict):
    action: Literal["add_modifier", "remove_modifier", "set_units", "drop_line"]
    #: Binding of the line the fix edits; defaults to the finding's line.
    line: Optional[str] = None
    modifier: Optional[str] = None
    units: Optional[Union[int, str]] = None
    alternatives: list[str] = []


class FindingSpec(_Strict):
    #: Binding of the service line the finding is about; claim-level if omitted.
    line: Optional[Annotated[str, Field(pattern=NAME)]] = None
    message: Optional[str] = None
    fix: Optional[FixSpec] = None


class AssertSpec(_Strict):
    fact: Annotated[str, Field(pattern=NAME)]
    set: dict[Annotated[str, Field(pattern=FIELD)], Scalar] = {}


class Action(_Strict):
    assert_: Optional[AssertSpec] = Field(default=None, alias="assert")
    finding: Optional[FindingSpec] = None

    @model_validator(mode="after")
    def _one(self) -> "Action":
        if (self.assert_ is None) == (self.finding is None):
            raise ValueError("each action is either 'assert' or 'finding'")
        return self


class Rule(_Strict):
    id: Annotated[str, Field(pattern=RULE_ID)]
    title: str
    severity: Optional[Severity] = None
    message: Optional[str] = None
    citation: Optional[Citation] = None
    effective: Optional[dt.date] = None
    expires: Optional[dt.date] = None
    payers: Optional[PayerScope] = None
    #: Extra keys for people and tools (references, tags); never interpreted.
    metadata: dict[str, Any] = {}
    when: Annotated[list[Union[Pattern, Negation]], Field(min_length=1)]
    then: Annotated[list[Action], Field(min_length=1)]

    @field_validator("citation", mode="before")
    @classmethod
    def _citation_string(cls, value: Any) -> Any:
        return {"source": value} if isinstance(value, str) else value

    @property
    def findings(self) -> list[FindingSpec]:
        return [a.finding for a in self.then if a.finding is not None]

    @property
    def negated(self) -> bool:
        return any(isinstance(p, Negation) for p in self.when)

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        if self.findings:
            for key in ("severity", "message", "citation"):
                if getattr(self, key) is None:
                    raise ValueError(f"a rule that emits a finding needs '{key}'")
        if self.effective and self.expires and self.expires < self.effective:
            raise ValueError("expires is before effective")
        bound: list[str] = []
        for pattern in self.when:
            target = pattern.not_ if isinstance(pattern, Negation) else pattern
            for ref in _refs(target):
                if ref not in bound:
                    raise ValueError(f"'{ref}' is referenced before it is bound in when")
            if isinstance(pattern, Pattern):
                if pattern.name in bound:
                    raise ValueError(f"binding '{pattern.name}' is used twice")
                bound.append(pattern.name)
        if not bound:
            raise ValueError("when needs at least one pattern that is not negated")
        templates = [self.message or ""] + [f.message or "" for f in self.findings]
        for action in self.then:
            if action.assert_:
                templates += [v for v in action.assert_.set.values() if isinstance(v, str)]
            if action.finding:
                for name in (action.finding.line, action.finding.fix and action.finding.fix.line):
                    if name and name not in bound:
                        raise ValueError(f"line '{name}' is not a binding of when")
                fix = action.finding.fix
                if fix:
                    _check_fix(fix, action.finding)
                    templates += [v for v in (fix.modifier, fix.units) if isinstance(v, str)]
        for template in templates:
            for name in template_names(template):
                if name.split(".")[0] not in bound:
                    raise ValueError(f"template field '{{{name}}}' is not a binding of when")
        return self


def _check_fix(fix: FixSpec, finding: FindingSpec) -> None:
    if not (fix.line or finding.line):
        raise ValueError("a fix needs a line (its own 'line' or the finding's)")
    if fix.action in ("add_modifier", "remove_modifier") and not (fix.modifier or fix.alternatives):
        raise ValueError(f"{fix.action} needs 'modifier' or 'alternatives'")
    if fix.action == "set_units" and fix.units is None:
        raise ValueError("set_units needs 'units'")


def _refs(pattern: Pattern) -> set[str]:
    names: set[str] = set()
    conditions = [pattern.where] + list(pattern.any_of or [])
    for block in conditions:
        for cond in block.values():
            if isinstance(cond, Test):
                for key in ("eq", "ne", "gt", "gte", "lt", "lte"):
                    operand = getattr(cond, key)
                    if isinstance(operand, Ref):
                        names.add(operand.ref.split(".")[0])
    return names


_FORMATTER = string.Formatter()


def template_names(template: str) -> list[str]:
    """The ``binding.field`` names a message template uses."""
    names = []
    for _, name, spec, conv in _FORMATTER.parse(template):
        if name is None:
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*", name) or conv:
            raise ValueError(f"template field '{{{name}}}' must be written {{binding.field}}")
        names.append(name)
    return names


class RuleSet(_Strict):
    """One rule file."""

    ruleset: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-/.]*$")]
    description: str = ""
    version: str = ""
    #: Procedure codes this rule set is about. A claim with none of them on
    #: any line skips the engine for this rule set. Empty: every claim.
    watches: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{5}$")]] = []
    rules: Annotated[list[Rule], Field(min_length=1)]

    @field_validator("watches", mode="before")
    @classmethod
    def _codes_as_strings(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_ids(self) -> "RuleSet":
        # The same ID may be split into several engine rules, but they must
        # agree on severity and citation: findings carry the ID.
        by_id: dict[str, Rule] = {}
        for rule in self.rules:
            first = by_id.setdefault(rule.id, rule)
            if first is not rule and rule.findings and first.findings:
                if (first.severity, first.citation) != (rule.severity, rule.citation):
                    raise ValueError(f"rules with id {rule.id} disagree on severity or citation")
        return self


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader (no tags that build objects: an unknown tag is an error)
    that also refuses aliases, so no billion-laughs expansion."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """Parse YAML safely: no tags that build objects, no aliases."""
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass


def _first_error(exc: ValidationError, doc: Any) -> tuple[Optional[str], str, str]:
    err = exc.errors()[0]
    loc = list(err["loc"])
    rule_id = None
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule_id = str(doc["rules"][loc[1]].get("id") or f"#{loc[1] + 1}")
        except Exception:
            rule_id = f"#{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(p) for p in loc if not str(p).startswith(("function-", "union[", "tagged-"))) or "<rule>"
    message = err["msg"].removeprefix("Value error, ")
    return rule_id, field, message


def parse_ruleset(text: str, path: str) -> RuleSet:
    """Validate one rule file's text; raise RuleFileError naming what is wrong."""
    if len(text) > MAX_RULE_FILE_BYTES:
        raise RuleFileError(path, f"rule file larger than {MAX_RULE_FILE_BYTES} bytes")
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RuleFileError(path, f"not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise RuleFileError(path, "a rule file must be a mapping with 'ruleset' and 'rules'")
    try:
        return RuleSet.model_validate(doc)
    except ValidationError as exc:
        rule_id, field, message = _first_error(exc, doc)
        raise RuleFileError(path, message, rule_id, field) from None


def load_ruleset(path: Union[str, Path]) -> RuleSet:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError(str(path), f"cannot read: {exc}") from None
    return parse_ruleset(text, str(path))
