"""The Scrubber: plugins + rules + configuration, applied to claims."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from pydantic import ValidationError

from .compiler import CompiledRule, LoadedRuleSet, compile_rulesets
from .config import Config, ConfigError, ResolvedConfig, Settings, load_config
from .engine import EngineError
from .facts import CONTEXT_FIELDS, Facts
from .fixes import apply_fixes
from .history import HistoryError, HistoryStore, open_history
from .models import Claim, Finding, Fix, InputError, ScrubResult, Severity, Source, Status, construct
from .plugin import Option, ReferenceTable
from .plugins import Plugins, describe_error
from .readers import ClaimRecord
from .rules import RuleFileError, RuleSet, parse_ruleset

log = logging.getLogger("scrubber")

ClaimInput = Union[Claim, dict, ClaimRecord]


class ScrubberError(Exception):
    """The scrubber could not be built (bad config, or rules the engine refuses)."""


class _HookFailure(Exception):
    def __init__(self, plugin: str, hook: str, exc: BaseException):
        self.plugin, self.hook, self.exc = plugin, hook, exc
        super().__init__(f"plugin {plugin} failed in {hook}: {claim_error(exc)}")


def claim_error(exc: BaseException) -> str:
    """What a per-claim failure may say about an exception: its type only,
    because a plugin's or the engine's message can carry the claim's patient
    data (names, member IDs, birth dates). The engine adapter's own errors
    are worded by us and kept."""
    if isinstance(exc, EngineError):
        return describe_error(exc)
    return f"{type(exc).__name__} (message withheld: it may carry claim data)"


@dataclass
class RuleFileProblem:
    path: str
    plugin: Optional[str]
    message: str


def _validation_errors(exc: ValidationError, data: Any, source: Optional[Source]) -> list[InputError]:
    claim_id = _claim_id(data)
    lines = data.get("lines") if isinstance(data, dict) else None
    errors = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = list(err["loc"])
        line = None
        if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int):
            try:
                number = lines[loc[1]].get("number")
                line = number if isinstance(number, int) else None
            except Exception:
                line = None
            field = f"lines[{loc[1] + 1}]" + "".join(f".{p}" if isinstance(p, str) else f"[{p + 1}]" for p in loc[2:])
        else:
            field = "".join(f".{p}" if isinstance(p, str) else f"[{p + 1}]" for p in loc).lstrip(".") or "<claim>"
        errors.append(InputError(claim_id=claim_id, line=line, field=field, message=err["msg"].removeprefix("Value error, "), source=source))
    return errors


class Scrubber:
    """Scrubs professional claims with the rules of the installed plugins.

    Build it once (loading plugins and compiling rules costs milliseconds and
    leaks a little memory inside durable_rules each time) and call
    :meth:`scrub` for each claim, from any number of threads.
    """

    def __init__(
        self,
        *,
        config: Union[None, str, Path, Config] = None,
        allow_plugins: Optional[Iterable[str]] = None,
        block_plugins: Optional[Iterable[str]] = None,
        plugins: Iterable[tuple[str, Any]] = (),
        rulesets: Iterable[Union[str, Path]] = (),
        entry_points: bool = True,
        history: Union[None, str, Path, HistoryStore] = None,
        record: bool = True,
    ):
        self.plugins = Plugins(allow_plugins, block_plugins, plugins, entry_points)
        self.rule_file_problems: list[RuleFileProblem] = []
        self.options: dict[str, dict[str, Option]] = {}
        for name, declared in self.plugins.collect("scrubber_options"):
            try:
                self.options[name] = {o.name: o for o in declared}
            except Exception as exc:
                self.plugins.fail(name, "scrubber_options", exc)
        self.tables: list[tuple[str, ReferenceTable]] = [
            (name, table) for name, tables in self.plugins.collect("scrubber_tables") for table in tables
        ]
        loaded: list[LoadedRuleSet] = []
        for name, items in self.plugins.collect("scrubber_rulesets"):
            loaded.extend(self._load_rule_files(items, name))
        loaded.extend(self._load_rule_files(list(rulesets), None))
        self._check_duplicate_ids(loaded)
        live = set(self.plugins.loaded)
        self.options = {p: o for p, o in self.options.items() if p in live}
        self.tables = [(p, t) for p, t in self.tables if p in live]
        self.rulesets = loaded
        try:
            self._program, self._rules = compile_rulesets(loaded)
        except EngineError as exc:
            raise ScrubberError(str(exc)) from None
        watches = [set(item.ruleset.watches) for item in loaded]
        self._watch_all = any(not w for w in watches)
        self._watched: frozenset[str] = frozenset().union(*watches) if watches else frozenset()
        if isinstance(config, (str, Path)):
            try:
                config = load_config(config)
            except ConfigError as exc:
                raise ScrubberError(str(exc)) from None
        rule_ids = {r.id for r in self._rules}
        try:
            self.config = ResolvedConfig(config or Config(), rule_ids, self.options)
        except ConfigError as exc:
            raise ScrubberError(str(exc)) from None
        self._facts_hooks = self.plugins.impls("scrubber_facts")
        self._history_hooks = self.plugins.impls("scrubber_history")
        self._review_hooks = self.plugins.impls("scrubber_review")
        #: The claim-history store (None: rules see one claim at a time).
        self.history: Optional[HistoryStore] = None
        #: Record each scrubbed claim in the history store (off: read only).
        self.record = record
        if history is not None:
            try:
                self.history = open_history(history)
                connect = getattr(self.history, "connect", None)
                if connect is not None:  # fail now, not on every claim
                    connect()
            except HistoryError as exc:
                raise ScrubberError(str(exc)) from None

    def close(self) -> None:
        """Close the claim-history store, if any."""
        if self.history is not None:
            self.history.close()

    # -- loading -----------------------------------------------------------

    def _load_rule_files(self, items: Iterable[Any], plugin: Optional[str]) -> list[LoadedRuleSet]:
        """Load rule files from paths, directories or package resources
        (``importlib.resources`` traversables); a bad file is reported and
        skipped."""
        loaded = []
        files: list[Any] = []
        for item in items:
            if isinstance(item, RuleSet):
                loaded.append(LoadedRuleSet(item, f"<{plugin or 'api'}:{item.ruleset}>", plugin))
                continue
            entry = Path(item) if isinstance(item, str) else item
            try:
                if entry.is_dir():
                    files.extend(sorted((c for c in entry.iterdir() if c.name.endswith((".yaml", ".yml"))), key=lambda c: c.name))
                else:
                    files.append(entry)
            except Exception as exc:
                self.rule_file_problems.append(RuleFileProblem(str(item), plugin, f"{item}: {describe_error(exc)}"))
        for entry in files:
            try:
                try:
                    text = entry.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise RuleFileError(str(entry), f"cannot read: {describe_error(exc)}") from None
                loaded.append(LoadedRuleSet(parse_ruleset(text, str(entry)), str(entry), plugin))
            except RuleFileError as exc:
                self.rule_file_problems.append(RuleFileProblem(str(entry), plugin, str(exc)))
                log.error("rule file skipped: %s", exc)
        return loaded

    def _check_duplicate_ids(self, loaded: list[LoadedRuleSet]) -> None:
        owner: dict[str, str] = {}
        for item in list(loaded):
            ids = {rule.id for rule in item.ruleset.rules}
            clash = sorted(i for i in ids if i in owner and owner[i] != item.origin)
            if clash:
                message = f"{item.origin}: rule id {clash[0]} is already defined in {owner[clash[0]]}; rule set skipped"
                self.rule_file_problems.append(RuleFileProblem(item.origin, item.plugin, message))
                log.error("%s", message)
                loaded.remove(item)
                continue
            for rule_id in ids:
                owner[rule_id] = item.origin

    # -- introspection -----------------------------------------------------

    @property
    def rules(self) -> list[CompiledRule]:
        """One entry per rule ID (a catalogue rule may be several engine rules)."""
        seen: dict[str, CompiledRule] = {}
        for rule in self._rules:
            if rule.id not in seen or (rule.findings and not seen[rule.id].findings):
                seen[rule.id] = rule
        return list(seen.values())

    def engine_rules(self, rule_id: str) -> list[CompiledRule]:
        return [r for r in self._rules if r.id == rule_id]

    # -- scrubbing ---------------------------------------------------------

    def scrub(self, claim: ClaimInput, *, fix: bool = False, source: Optional[Source] = None,
              record: Optional[bool] = None) -> ScrubResult:
        """Scrub one claim. Never raises for bad input or a failing plugin:
        the result's status says what happened.

        With a claim-history store, a claim that was scrubbed (not invalid,
        not failed) is then recorded in it (the corrected claim in fix mode),
        unless ``record`` (default: the scrubber's ``record``) is false."""
        if isinstance(claim, ClaimRecord):
            source = claim.source
            if claim.errors or claim.data is None:
                data = claim.data or {}
                return ScrubResult(claim_id=_claim_id(data), source=source, status=Status.invalid, errors=claim.errors)
            claim = claim.data
        if not isinstance(claim, (dict, Claim)):
            error = InputError(field="<claim>", message=f"expected a claim object, got {type(claim).__name__}", source=source)
            return ScrubResult(claim_id=None, source=source, status=Status.invalid, errors=[error])
        if isinstance(claim, dict):
            try:
                claim = Claim.model_validate(claim)
            except ValidationError as exc:
                return ScrubResult(
                    claim_id=_claim_id(claim), source=source, status=Status.invalid,
                    errors=_validation_errors(exc, claim, source),
                )
            except Exception as exc:  # e.g. RecursionError on absurdly nested extra fields
                error = InputError(claim_id=_claim_id(claim), field="<claim>", source=source,
                                   message=f"the claim could not be validated: {claim_error(exc)}")
                return ScrubResult(claim_id=_claim_id(claim), source=source, status=Status.invalid, errors=[error])
        source = source or claim.source
        try:
            findings = self._check(claim)
        except _HookFailure as failure:
            log.error("claim %s: %s", claim.claim_id, failure)
            return self._failed(claim, source, f"plugin:{failure.plugin}", str(failure))
        except Exception as exc:  # the engine or our own bug: contain it to this claim
            log.error("claim %s: engine failed: %s", claim.claim_id, claim_error(exc))
            return self._failed(claim, source, "<engine>", f"the rule engine failed: {claim_error(exc)}")
        if not findings:
            status = Status.clean
        elif any(f.severity is Severity.error for f in findings):
            status = Status.rejected
        else:
            status = Status.warnings
        # Trusted values: skip validation (a clean claim must cost next to nothing).
        result = construct(ScrubResult, claim_id=claim.claim_id, source=source, status=status, findings=findings,
                           errors=[], fixed_claim=None, changes=[])
        recorded = claim
        if fix:
            try:
                recorded, changes = apply_fixes(claim, findings)
                result.fixed_claim = recorded.model_dump(mode="json", exclude_none=True)
            except Exception as exc:
                log.error("claim %s: fix mode failed: %s", claim.claim_id, claim_error(exc))
                return self._failed(claim, source, "<fix>", f"applying the fixes failed: {claim_error(exc)}")
            result.changes = changes
        if self.history is not None and (self.record if record is None else record):
            # What goes to the payer is recorded: the corrected claim in fix mode.
            try:
                self.history.record(recorded)
            except Exception as exc:
                log.error("claim %s: not recorded in the claim history: %s", claim.claim_id, claim_error(exc))
                result.status = Status.failed
                result.errors = [InputError(claim_id=claim.claim_id, field="<history>",
                                            message=f"not recorded in the claim history: {claim_error(exc)}", source=source)]
        return result

    def scrub_many(self, claims: Iterable[ClaimInput], *, fix: bool = False) -> Iterator[ScrubResult]:
        """Stream results in input order; one bad claim never stops the rest."""
        for claim in claims:
            yield self.scrub(claim, fix=fix)

    def _failed(self, claim: Claim, source: Optional[Source], where: str, message: str) -> ScrubResult:
        return ScrubResult(
            claim_id=claim.claim_id, source=source, status=Status.failed,
            errors=[InputError(claim_id=claim.claim_id, field=where, message=message, source=source)],
        )

    def _check(self, claim: Claim) -> list[Finding]:
        settings = self.config.for_claim(claim)
        findings: list[Finding] = []
        codes = {line.code for line in claim.lines}
        if self._program is not None and (self._watch_all or not codes.isdisjoint(self._watched)):
            findings = self._run_engine(claim, codes, settings)
        for name, function, argnames in self._review_hooks:
            kwargs = {"claim": claim, "findings": findings, "options": settings.options.get(name, {})}
            try:
                replaced = function(**{k: kwargs[k] for k in argnames})
            except Exception as exc:
                raise _HookFailure(name, "scrubber_review", exc) from exc
            if replaced is not None:
                try:
                    findings = [Finding.model_validate(dict(f.__dict__) if isinstance(f, Finding) else f) for f in replaced]
                except (ValidationError, TypeError, AttributeError) as exc:
                    raise _HookFailure(name, "scrubber_review", exc) from exc
        return findings

    def _run_engine(self, claim: Claim, codes: set[str], settings: Settings) -> list[Finding]:
        facts = Facts(claim)
        for name, function, argnames in self._facts_hooks:
            kwargs = {"claim": claim, "facts": facts, "options": settings.options.get(name, {})}
            try:
                function(**{k: kwargs[k] for k in argnames})
            except Exception as exc:
                raise _HookFailure(name, "scrubber_facts", exc) from exc
        if self.history is not None:
            for name, function, argnames in self._history_hooks:
                kwargs = {"claim": claim, "history": self.history, "facts": facts, "options": settings.options.get(name, {})}
                try:
                    function(**{k: kwargs[k] for k in argnames})
                except Exception as exc:
                    raise _HookFailure(name, "scrubber_history", exc) from exc
        rules = self._rules
        disabled = settings.disabled
        severity = settings.severity
        context = {key: facts.claim[key] for key in CONTEXT_FIELDS}
        found: dict[tuple[Any, ...], Finding] = {}
        counter = itertools.count()

        def dispatch(index: int, bindings: dict[str, dict[str, Any]]) -> Optional[list[dict[str, Any]]]:
            rule = rules[index]
            if rule.id in disabled:
                return None
            if rule.watch is not None and rule.watch.isdisjoint(codes):
                return None
            derived = None
            for kind, values in rule.asserts:
                fact = dict(context)
                for key, value in values.items():
                    fact[key] = value.value(bindings) if hasattr(value, "value") else value
                fact["kind"] = kind
                fact["id"] = f"{kind}:{rule.id}:{next(counter)}"
                (derived := derived or []).append(fact)
            for spec in rule.findings:
                line = bindings[spec.line] if spec.line else None
                fix = None
                if spec.fix_action:
                    target = bindings[spec.fix_line]  # type: ignore[index]
                    modifier = spec.fix_modifier.value(bindings) if hasattr(spec.fix_modifier, "value") else spec.fix_modifier
                    units = spec.fix_units.value(bindings) if hasattr(spec.fix_units, "value") else spec.fix_units
                    fix = construct(
                        Fix, action=spec.fix_action, line=target["number"], modifier=modifier or None,
                        units=int(units) if units is not None else None, alternatives=list(spec.fix_alternatives),
                    )
                message = spec.message.render(bindings)
                number = line["number"] if line else None
                key = (rule.id, number, message, fix.action if fix else None, fix.line if fix else None,
                       fix.modifier if fix else None, fix.units if fix else None)
                if key not in found:
                    found[key] = construct(
                        Finding, rule_id=rule.id, severity=severity.get(rule.id, rule.severity), line=number,
                        code=line["code"] if line else None, message=message, citation=rule.citation,
                        fix=fix, plugin=rule.plugin,
                    )
            return derived

        self._program.run(facts.all(), dispatch)  # type: ignore[union-attr]
        return sorted(found.values(), key=Finding.sort_key)


def _claim_id(data: Any) -> Optional[str]:
    """The claim ID of raw input, for naming an invalid claim: only a string
    or a whole number is echoed (str() of an object or list would print
    whatever it holds, which may be patient data)."""
    value = data.get("claim_id") if isinstance(data, dict) else None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)[:48]
    return None


def summarize(results: Iterable[ScrubResult]) -> Counter[str]:
    return Counter(r.status.value for r in results)
