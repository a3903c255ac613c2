"""The only module that talks to durable_rules.

durable_rules keeps global state in its C extension, is not thread-safe, and
its Python layer (``durable.engine.Host``) starts background threads that
read freed memory, swallows action exceptions and re-encodes the whole session
state after every action. So we call the C extension (``durable_rules_engine``)
directly:

* no host and no background threads (nothing to crash under Spark or Dask);
* one live session per compiled program, with a fixed id, deleted in a
  ``finally`` after every claim (session and fact ids are 32-bit hashes, so
  two live claims could otherwise join each other's facts);
* one process-wide lock around every call into the extension;
* facts, never events, each with an explicit unique ``id``;
* result code 1 (a fact no rule matched) is normal, not an error;
* an exception in an action abandons the action and propagates;
* rules with negation are gated on an end-of-claim fact asserted only after
  every other fact and derived fact is in (negation in durable_rules is
  order-dependent);
* a lint refuses programs that approach the 512-sibling hang;
* the engine gets lean facts: only ``id``, ``kind`` and the fields some
  compiled rule tests or joins on (durable_rules parses every field of every
  fact, and the action messages it returns carry them all); facts of a kind
  no rule matches are not asserted at all. The full facts stay in Python,
  and actions get them back by fact id, so messages and fixes are rendered
  from everything a plugin attached;
* every claim runs at least one action (a built-in ``$session`` rule):
  durable_rules never initialises a new session's action context, and
  ``delete_state`` frees it, so deleting a session in which no action ever
  started frees a garbage pointer (``free(): invalid pointer``, found with
  valgrind; it shows only once the heap has been used, e.g. after PyYAML's
  C extension loaded). A started action sets the context and completing it
  frees and clears it.

See ``../shared/design/durable-rules-notes.md`` for the measurements.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections import Counter
from typing import Any, Callable, Iterable, Optional

import durable_rules_engine as _dre

#: The session id every claim runs under (one live session per program). It
#: is durable_rules' default: a fact without ``sid`` goes there, so lean facts
#: leave it out. Do not change it without sending ``sid`` again.
SID = "0"
#: Fact kind asserted last, to gate rules that use negation.
END_KIND = "$end"
#: Fact kind asserted first in every claim; its built-in rule always fires.
SESSION_KIND = "$session"
_SESSION_RULE = "session"
_SESSION_FACT = {"sid": SID, "id": "$session", "kind": SESSION_KIND}
_END_FACT = {"sid": SID, "id": "$end", "kind": END_KIND}
#: Refuse a program when one property has this many distinct tests under one
#: fact kind: durable_rules hangs at 512 sibling conditions and slows down
#: linearly well before that.
SIBLING_LIMIT = 256

# durable_rules keeps global state: every call into it goes through this lock.
_LOCK = threading.RLock()
_names = itertools.count(1)

# Result codes of the C extension's assert calls.
_OK, _NOT_HANDLED, _OBSERVED, _QUEUED = 0, 1, 2, 3


class EngineError(Exception):
    """The engine refused a program or failed while running a claim."""


def _json_default(value: Any) -> Any:
    # durable_rules compares numbers and strings only: dates become YYYYMMDD.
    if isinstance(value, dt.date):
        return value.year * 10000 + value.month * 100 + value.day
    raise TypeError(f"fact values must be str, int, float, bool or None, not {type(value).__name__}")


# Facts are flat: no need for the encoder's cycle check (10 % of its time).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default, check_circular=False).encode
_decode = json.loads
_END_JSON = _encode([_END_FACT])

#: An action gets the rule's index and its bound facts, and returns derived
#: facts to assert (or None).
Dispatch = Callable[[int, dict[str, dict[str, Any]]], Optional[list[dict[str, Any]]]]


def lint(rules: dict[str, dict[str, Any]]) -> None:
    """Refuse rule sets that would put too many sibling tests under one node."""
    siblings: Counter[tuple[str, str]] = Counter()
    seen: set[tuple[str, str, str]] = set()
    for rule in rules.values():
        for pattern in rule.get("all", []):
            for expression in pattern.values():
                kind, tests = _first_level_tests(expression)
                for prop, test in tests:
                    key = (kind, prop, test)
                    if key not in seen:
                        seen.add(key)
                        siblings[(kind, prop)] += 1
    for (kind, prop), count in siblings.items():
        if count >= SIBLING_LIMIT:
            raise EngineError(
                f"{count} distinct tests of '{prop}' on '{kind}' facts (limit {SIBLING_LIMIT}): "
                "durable_rules hangs near 512; look such values up in a table and attach them to facts"
            )


def _first_level_tests(expression: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    terms = expression.get("$and", [expression])
    kind = ""
    tests: list[tuple[str, str]] = []
    for term in terms:
        if not isinstance(term, dict) or len(term) != 1:
            continue
        (key, value), = term.items()
        if key == "kind":
            kind = str(value)
        elif key.startswith("$") and isinstance(value, dict) and len(value) == 1:
            (prop, operand), = value.items()
            tests.append((prop, key + json.dumps(operand, sort_keys=True, default=str)))
        elif not key.startswith("$"):
            tests.append((key, json.dumps(value, sort_keys=True, default=str)))
    return kind, tests


class Program:
    """A set of compiled rules registered once with durable_rules.

    ``rules`` maps durable rule names to their JSON definitions (without
    ``run``); the rule name must be the decimal index the dispatcher expects.
    Build programs once per process: each create/delete leaks memory in the
    extension.
    """

    def __init__(self, rules: dict[str, dict[str, Any]], gated: bool):
        lint(rules)
        #: kind -> the fields the engine needs to see (None: send whole facts).
        self.fields = tested_fields(rules)
        rules = {**rules, _SESSION_RULE: {"all": [{"s": {"kind": SESSION_KIND}}]}}
        self._gated = gated
        self._name = f"scrubber-{next(_names)}"
        with _LOCK:
            try:
                self._handle = _dre.create_ruleset(self._name, _encode(rules))
            except Exception as exc:  # the extension raises its own error type
                raise EngineError(f"durable_rules refused the compiled rules: {exc}") from None

    def run(self, facts: Iterable[dict[str, Any]], dispatch: Dispatch) -> None:
        """Assert one claim's facts, run every action to quiescence, then the
        end-of-claim gate, and always delete the session. ``dispatch`` runs
        the action of each rule that fires, with the full facts it bound."""
        full: dict[str, dict[str, Any]] = {"$session": _SESSION_FACT, "$end": _END_FACT}
        batch = [_SESSION_FACT]
        lean = self._lean
        for fact in facts:
            if fact["id"] in full:  # also for facts the engine never sees
                raise EngineError("two facts with the same id were asserted for one claim")
            full[fact["id"]] = fact
            sent = lean(fact)
            if sent is not None:
                batch.append(sent)
        with _LOCK:
            ok = False
            try:
                self._assert(_encode(batch), full, dispatch)
                if self._gated:
                    self._assert(_END_JSON, full, dispatch)
                ok = True
            finally:
                try:
                    _dre.delete_state(self._handle, SID)
                except Exception:
                    # When the facts could not even be encoded there is no state
                    # to delete (error 309): keep the original exception.
                    if ok:
                        raise

    def _lean(self, fact: dict[str, Any]) -> Optional[dict[str, Any]]:
        """What the engine sees of ``fact``: None when no rule tests its kind.
        No ``sid``: a fact without one goes to session "0", our fixed SID."""
        fields = self.fields
        if fields is None:
            return {**fact, "sid": SID}
        kind = fact["kind"]
        keep = fields.get(kind)
        if keep is None:
            return None
        sent = {"id": fact["id"], "kind": kind}
        for key in keep:
            if key in fact:
                sent[key] = fact[key]
        return sent

    def _assert(self, facts: str, full: dict[str, dict[str, Any]], dispatch: Dispatch) -> None:
        code, state = _dre.assert_facts(self._handle, facts)
        if code == _OBSERVED:
            raise EngineError("two facts with the same id were asserted for one claim")
        if code == _QUEUED or not state:
            return
        self._drain(state, full, dispatch)

    def _drain(self, state: int, full: dict[str, dict[str, Any]], dispatch: Dispatch) -> None:
        started = _dre.start_action_for_state(self._handle, state)
        message = started[1] if started else None
        while message:
            (name, bindings), = _decode(message).items()
            try:
                if name != _SESSION_RULE:
                    derived = dispatch(int(name), {b: full[f["id"]] for b, f in bindings.items()})
                    if derived:
                        batch = []
                        for fact in derived:
                            if fact["id"] in full:
                                raise EngineError(f"rule #{name} derived a fact whose id already exists")
                            full[fact["id"]] = fact
                            sent = self._lean(fact)
                            if sent is not None:
                                batch.append(sent)
                        if batch:
                            code, _ = _dre.assert_facts(self._handle, _encode(batch))
                            if code == _OBSERVED:
                                raise EngineError(f"rule #{name} derived a fact whose id already exists")
            except BaseException:
                _dre.abandon_action(self._handle, state)
                raise
            message = _dre.complete_and_start_action(self._handle, state)


def tested_fields(rules: dict[str, dict[str, Any]]) -> Optional[dict[str, frozenset[str]]]:
    """For each fact kind, the fields some rule tests or joins on.

    None (send whole facts) when a pattern has no ``kind`` test or refers to
    a binding this walk does not know: then nothing can be left out safely.
    """
    needed: dict[str, set[str]] = {END_KIND: set()}
    try:
        for rule in rules.values():
            kinds: dict[str, str] = {}
            for pattern in rule["all"]:
                (name, expression), = pattern.items()
                kind = _kind_of(expression)
                if kind is None:
                    return None
                kinds[name.split("$", 1)[0]] = kind
                _walk(expression, kind, kinds, needed)
    except (KeyError, AttributeError, TypeError, ValueError):
        return None
    return {kind: frozenset(names - {"id", "sid", "kind"}) for kind, names in needed.items()}


def _kind_of(expression: dict[str, Any]) -> Optional[str]:
    for term in expression.get("$and", [expression]):
        if isinstance(term, dict) and isinstance(term.get("kind"), str):
            return term["kind"]
    return None


def _walk(expression: dict[str, Any], kind: str, kinds: dict[str, str], needed: dict[str, set[str]]) -> None:
    for key, value in expression.items():
        if key in ("$and", "$or"):
            for term in value:
                _walk(term, kind, kinds, needed)
        elif key.startswith("$"):  # a comparison: {"$gt": {field: operand}}
            for fieldname, operand in value.items():
                needed.setdefault(kind, set()).add(fieldname)
                _operand(operand, kind, kinds, needed)
        else:
            needed.setdefault(kind, set()).add(key)
            _operand(value, kind, kinds, needed)


def _operand(operand: Any, kind: str, kinds: dict[str, str], needed: dict[str, set[str]]) -> None:
    if not isinstance(operand, dict):
        return
    for binding, fieldname in operand.items():
        if not isinstance(fieldname, str):
            raise ValueError(f"unexpected operand {operand!r}")
        target = kind if binding == "$m" else kinds[binding]  # KeyError: unknown binding
        needed.setdefault(target, set()).add(fieldname)
