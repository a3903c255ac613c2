"""Compile validated rules into durable_rules JSON and a table of actions.

Each rule becomes one durable_rules rule named by its index; the action for
that index (``CompiledRule``) is plain data plus pre-parsed templates, so
dispatching an action is a dict lookup, not a lookup by name or an eval.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .engine import END_KIND, Program
from .models import Citation, Severity
from .rules import FindingSpec, ModifierTest, Negation, Operand, Pattern, Ref, Rule, RuleSet, SameFact, Test

#: Core fact fields that hold strings: an unquoted YAML number compared with
#: them is turned into a string (durable_rules' coercion is inconsistent).
STRING_FIELDS = frozenset(
    {"code", "pos", "filing", "payer_id", "payer_class", "abn", "taxonomy", "billing_taxonomy", "claim_id",
     "frequency", "modifiers", "dx", "kind"}
)
_OPS = {"ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_GATE = "gate_"


class Template:
    """A message or value template with ``{binding.field}`` placeholders,
    parsed once at load."""

    __slots__ = ("parts", "whole")

    def __init__(self, text: str):
        self.parts: list[Union[str, tuple[str, str]]] = []
        for literal, name, _, _ in string.Formatter().parse(text):
            if literal:
                self.parts.append(literal)
            if name:
                binding, fieldname = name.split(".", 1)
                self.parts.append((binding, fieldname))
        # A template that is exactly one placeholder keeps the value's type.
        self.whole = self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], tuple) else None

    def value(self, bindings: dict[str, dict[str, Any]]) -> Any:
        if self.whole:
            return bindings[self.whole[0]].get(self.whole[1])
        return self.render(bindings)

    def render(self, bindings: dict[str, dict[str, Any]]) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = bindings[part[0]].get(part[1])
                out.append("" if value is None else str(value))
        return "".join(out)


def _value(raw: Any) -> Any:
    return Template(raw) if isinstance(raw, str) and "{" in raw else raw


@dataclass
class CompiledFinding:
    line: Optional[str]
    message: Template
    fix_action: Optional[str] = None
    fix_line: Optional[str] = None
    fix_modifier: Any = None
    fix_units: Any = None
    fix_alternatives: tuple[str, ...] = ()


@dataclass
class CompiledRule:
    index: int
    rule: Rule
    ruleset: str
    origin: str  # the file it came from
    plugin: Optional[str]
    #: Codes the rule's rule set watches (None: every claim).
    watch: Optional[frozenset[str]] = None
    asserts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    findings: list[CompiledFinding] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def severity(self) -> Optional[Severity]:
        return self.rule.severity

    @property
    def citation(self) -> Optional[Citation]:
        return self.rule.citation


@dataclass
class LoadedRuleSet:
    ruleset: RuleSet
    origin: str
    plugin: Optional[str]


def _constant(fieldname: str, value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.year * 10000 + value.month * 100 + value.day
    if fieldname in STRING_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _operand(fieldname: str, operand: Operand) -> Any:
    if isinstance(operand, Ref):
        binding, other = operand.ref.split(".", 1)
        return {binding: other}
    if isinstance(operand, SameFact):
        return {"$m": operand.field}
    return _constant(fieldname, operand)


def _tests(fieldname: str, cond: Any) -> list[dict[str, Any]]:
    if not isinstance(cond, Test):
        return [{fieldname: _constant(fieldname, cond)}]
    out: list[dict[str, Any]] = []
    if cond.eq is not None:
        out.append({fieldname: _operand(fieldname, cond.eq)})
    for key, op in _OPS.items():
        operand = getattr(cond, key)
        if operand is not None:
            out.append({op: {fieldname: _operand(fieldname, operand)}})
    if cond.in_ is not None:
        values = [{fieldname: _constant(fieldname, v)} for v in cond.in_]
        out.append(values[0] if len(values) == 1 else {"$or": values})
    for value in cond.not_in or []:
        out.append({"$neq": {fieldname: _constant(fieldname, value)}})
    if cond.exists is not None:
        out.append({"$ex" if cond.exists else "$nex": {fieldname: 1}})
    return out


def _modifier_tests(test: ModifierTest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for mod in [test.has] if isinstance(test.has, str) else test.has or []:
        out.append({"$ex": {"mod_" + mod: 1}})
    for mod in [test.lacks] if isinstance(test.lacks, str) else test.lacks or []:
        out.append({"$nex": {"mod_" + mod: 1}})
    if test.has_any:
        alts = [{"$ex": {"mod_" + mod: 1}} for mod in test.has_any]
        out.append(alts[0] if len(alts) == 1 else {"$or": alts})
    return out


def _anchor_tests(rule: Rule) -> list[dict[str, Any]]:
    """Effective dating and payer scope, tested on the anchor fact."""
    out: list[dict[str, Any]] = []
    if rule.effective:
        out.append({"$gte": {"dos": _constant("dos", rule.effective)}})
    if rule.expires:
        out.append({"$lte": {"dos": _constant("dos", rule.expires)}})
    scope = rule.payers
    if scope:
        alts = (
            [{"payer_class": v} for v in scope.classes]
            + [{"filing": v} for v in scope.filing_indicators]
            + [{"payer_id": v} for v in scope.ids]
        )
        if alts:
            out.append(alts[0] if len(alts) == 1 else {"$or": alts})
    return out


def _pattern(pattern: Pattern, extra: list[dict[str, Any]]) -> dict[str, Any]:
    terms: list[dict[str, Any]] = [{"kind": pattern.fact}]
    for fieldname, cond in pattern.where.items():
        terms.extend(_tests(fieldname, cond))
    if pattern.modifiers:
        terms.extend(_modifier_tests(pattern.modifiers))
    if pattern.any_of:
        blocks = []
        for block in pattern.any_of:
            tests = [t for name, cond in block.items() for t in _tests(name, cond)]
            blocks.append(tests[0] if len(tests) == 1 else {"$and": tests})
        terms.append(blocks[0] if len(blocks) == 1 else {"$or": blocks})
    terms.extend(extra)
    return terms[0] if len(terms) == 1 else {"$and": terms}


def _anchor(rule: Rule) -> Optional[str]:
    """The binding whose date of service and payer a rule's scope applies to:
    the finding's line, else the first bound line, else the first binding."""
    patterns = [p for p in rule.when if isinstance(p, Pattern)]
    for finding in rule.findings:
        if finding.line:
            return finding.line
    for pattern in patterns:
        if pattern.fact == "line":
            return pattern.name
    return patterns[0].name if patterns else None


def compile_rule(rule: Rule) -> dict[str, Any]:
    anchor = _anchor(rule)
    anchor_tests = _anchor_tests(rule)
    patterns: list[dict[str, Any]] = []
    if rule.negated:
        patterns.append({_GATE: {"kind": END_KIND}})
    for item in rule.when:
        if isinstance(item, Negation):
            patterns.append({item.not_.name + "$not": _pattern(item.not_, [])})
        else:
            extra = anchor_tests if item.name == anchor else []
            patterns.append({item.name: _pattern(item, extra)})
    return {"all": patterns}


def _compile_finding(rule: Rule, spec: FindingSpec) -> CompiledFinding:
    compiled = CompiledFinding(line=spec.line, message=Template(spec.message or rule.message or ""))
    if spec.fix:
        fix = spec.fix
        compiled.fix_action = fix.action
        compiled.fix_line = fix.line or spec.line
        compiled.fix_modifier = _value(fix.modifier)
        compiled.fix_units = _value(fix.units)
        compiled.fix_alternatives = tuple(fix.alternatives)
    return compiled


def compile_rulesets(loaded: list[LoadedRuleSet]) -> tuple[Optional[Program], list[CompiledRule]]:
    """One durable_rules program for all rule sets, so that facts derived by
    one rule set's rules can be matched by another's."""
    compiled: list[CompiledRule] = []
    definitions: dict[str, dict[str, Any]] = {}
    for item in loaded:
        for rule in item.ruleset.rules:
            index = len(compiled)
            entry = CompiledRule(index, rule, item.ruleset.ruleset, item.origin, item.plugin, frozenset(item.ruleset.watches) or None)
            for action in rule.then:
                if action.assert_:
                    values = {k: _value(_constant(k, v)) for k, v in action.assert_.set.items()}
                    entry.asserts.append((action.assert_.fact, values))
                else:
                    entry.findings.append(_compile_finding(rule, action.finding))  # type: ignore[arg-type]
            compiled.append(entry)
            definitions[str(index)] = compile_rule(rule)
    if not compiled:
        return None, []
    gated = any(c.rule.negated for c in compiled)
    return Program(definitions, gated=gated), compiled
