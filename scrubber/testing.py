"""Testing helpers for plugin authors, also a pytest plugin.

Installing ``claim-scrubber`` registers this module with pytest (entry point
group ``pytest11``), so a plugin's own tests get these fixtures without any
``conftest.py``:

``make_scrubber``
    ``make_scrubber("dry-needling", "my-plugin", config={...})`` builds a
    :class:`~scrubber.Scrubber` with exactly the plugins named: installed ones
    by entry-point name, others as ``(name, module_or_object)`` pairs. It
    fails the test if a named plugin did not load or a rule file was
    skipped (``strict=False`` to allow it). Scrubbers are cached for the
    session: building one leaks a little memory inside durable_rules.

``make_claim``
    ``make_claim({"code": "20561", "units": 2}, filing_indicator="MB")``: a
    valid claim dict with sensible defaults; each positional dict overrides
    the default service line, keywords override claim fields.

The assertions are plain functions: :func:`assert_fires`,
:func:`assert_not_fires`, :func:`assert_clean` and :func:`fired`.

.. code-block:: python

    from scrubber.testing import assert_fires, assert_not_fires

    def test_units(make_scrubber, make_claim):
        scrubber = make_scrubber("dry-needling")
        result = scrubber.scrub(make_claim({"units": 2}, filing_indicator="MB"))
        assert_fires(result, "DN-UNITS-LINE", line=1, severity="error")
        assert_not_fires(result, "DN-DATE-BEFORE-CODE")

The module imports the scrubber lazily, so merely having it installed costs
other projects' test runs nothing.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Union

import pytest

if TYPE_CHECKING:
    from .config import Config
    from .models import Finding, ScrubResult
    from .scrubber import Scrubber

__all__ = [
    "ANY_LINE", "DEFAULT_CLAIM", "DEFAULT_LINE", "assert_clean", "assert_fires", "assert_not_fires", "fired",
    "make_claim", "make_scrubber",
]

#: The claim :func:`make_claim` starts from: a commercial payer, a physical
#: therapist, one dry-needling line on 2024-03-05 with one chronic low back
#: pain diagnosis.
DEFAULT_CLAIM: dict[str, Any] = {
    "claim_id": "C1",
    "filing_indicator": "CI",
    "payer": {"id": "62308", "name": "PAYER"},
    "patient": {"id": "P1", "birth_date": "1960-05-01", "sex": "F"},
    "billing_provider": {"npi": "1234567893", "taxonomy": "225100000X"},
    "place_of_service": "11",
    "diagnoses": ["M5450"],
    "abn": None,
    "lines": [],
}

#: The service line each positional argument of :func:`make_claim` overrides.
DEFAULT_LINE: dict[str, Any] = {
    "code": "20561", "modifiers": [], "units": 1, "charge": "100.00",
    "service_date": "2024-03-05", "diagnosis_pointers": [1],
}


class _AnyLine:
    def __repr__(self) -> str:
        return "ANY_LINE"


#: Default of ``line=`` in the assertions: the finding may be on any line or
#: claim-level. Pass ``line=None`` for a claim-level finding only.
ANY_LINE: Any = _AnyLine()


def make_claim(*lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A valid claim dict. Each positional dict overrides :data:`DEFAULT_LINE`
    for one service line (numbered 1, 2, ... unless it says otherwise; no
    argument gives one default line); keywords replace claim fields."""
    claim = copy.deepcopy(DEFAULT_CLAIM)
    claim.update(copy.deepcopy(fields))
    claim["lines"] = []
    for n, line in enumerate(lines or [{}], start=1):
        base = {"number": n, **copy.deepcopy(DEFAULT_LINE)}
        base.update(copy.deepcopy(line))
        claim["lines"].append(base)
    return claim


PluginSpec = Union[str, tuple[str, Any]]


@contextlib.contextmanager
def _without_plugin_environment() -> Iterator[None]:
    """SCRUBBER_PLUGINS / SCRUBBER_BLOCK_PLUGINS must not change which
    plugins a test gets."""
    from .plugins import ENV_ALLOW, ENV_BLOCK

    saved = {key: os.environ.pop(key) for key in (ENV_ALLOW, ENV_BLOCK) if key in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def make_scrubber(
    *plugins: PluginSpec,
    rulesets: Iterable[Union[str, Path]] = (),
    config: Union[None, dict[str, Any], str, Path, "Config"] = None,
    strict: bool = True,
) -> "Scrubber":
    """Build a :class:`~scrubber.Scrubber` with exactly these plugins.

    A string names an installed plugin (found through its ``scrubber`` entry
    point, as in production); a ``(name, module_or_object)`` pair registers
    an object directly. ``rulesets`` adds rule files or directories;
    ``config`` is a config dict, a path or a :class:`~scrubber.config.Config`.
    With ``strict`` (the default) a named plugin that did not load, or a rule
    file that was skipped, fails the test with the reason.
    """
    from .config import parse_config
    from .scrubber import Scrubber

    names = [p for p in plugins if isinstance(p, str)]
    extra = [p for p in plugins if not isinstance(p, str)]
    for item in extra:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(f"a plugin is an entry-point name or a (name, module) pair, not {item!r}")
    if isinstance(config, dict):
        config = parse_config(config, "<make_scrubber config>")
    with _without_plugin_environment():
        scrubber = Scrubber(
            config=config, allow_plugins=names + [name for name, _ in extra], plugins=extra,
            rulesets=list(rulesets), entry_points=bool(names),
        )
    if strict:
        wanted = names + [name for name, _ in extra]
        missing = {name: scrubber.plugins.info.get(name) for name in wanted if name not in scrubber.plugins.loaded}
        if missing:
            reasons = "; ".join(
                f"{name}: " + (f"{info.status} {info.errors}" if info else "no such plugin installed (entry point group 'scrubber')")
                for name, info in missing.items()
            )
            pytest.fail(f"make_scrubber: plugins did not load: {reasons}", pytrace=False)
        if scrubber.rule_file_problems:
            problems = "; ".join(p.message for p in scrubber.rule_file_problems)
            pytest.fail(f"make_scrubber: rule files skipped: {problems}", pytrace=False)
    return scrubber


# -- assertions ---------------------------------------------------------------


def fired(result: "ScrubResult") -> list[tuple[str, Optional[int]]]:
    """``(rule_id, line)`` of every finding, in the result's order."""
    return [(f.rule_id, f.line) for f in result.findings]


def _describe(result: "ScrubResult") -> str:
    if result.errors:
        errors = "; ".join(e.describe() for e in result.errors)
        return f"status {result.status.value}, errors: {errors}"
    if not result.findings:
        return f"status {result.status.value}, no findings"
    shown = "\n".join(
        f"  {f.rule_id} line {f.line} {f.severity.value}: {f.message}" for f in result.findings
    )
    return f"status {result.status.value}, findings:\n{shown}"


def _matches(finding: "Finding", rule_id: str, line: Any) -> bool:
    return finding.rule_id == rule_id and (line is ANY_LINE or finding.line == line)


def _where(line: Any) -> str:
    if line is ANY_LINE:
        return ""
    return " on the claim" if line is None else f" on line {line}"


def assert_fires(
    result: "ScrubResult",
    rule_id: str,
    line: Any = ANY_LINE,
    *,
    severity: Optional[str] = None,
    fix: Optional[dict[str, Any]] = None,
    message: Optional[str] = None,
) -> list["Finding"]:
    """Assert that ``rule_id`` fired (on ``line`` if given; ``line=None`` means
    a claim-level finding) and return its findings. ``severity``: its
    severity (``"error"``...); ``fix``: a dict of fix fields that must match
    (``{"action": "add_modifier", "modifier": "GY"}``); ``message``: a
    substring of the message."""
    __tracebackhide__ = True
    hits = [f for f in result.findings if _matches(f, rule_id, line)]
    if not hits:
        pytest.fail(f"expected {rule_id} to fire{_where(line)}; {_describe(result)}", pytrace=False)
    if severity is not None:
        wanted = getattr(severity, "value", severity)
        if not any(f.severity.value == wanted for f in hits):
            got = sorted({f.severity.value for f in hits})
            pytest.fail(f"{rule_id}{_where(line)} fired with severity {', '.join(got)}, expected {wanted}", pytrace=False)
        hits = [f for f in hits if f.severity.value == wanted]
    if fix is not None:
        fixes = [f.fix.model_dump(exclude_defaults=True) if f.fix else None for f in hits]
        hits = [f for f in hits if f.fix is not None and all(getattr(f.fix, k, None) == v for k, v in fix.items())]
        if not hits:
            pytest.fail(f"{rule_id}{_where(line)} fired without the fix {fix}; its fixes: {fixes}", pytrace=False)
    if message is not None:
        messages = [f.message for f in hits]
        hits = [f for f in hits if message in f.message]
        if not hits:
            pytest.fail(f"{rule_id}{_where(line)} fired, but no message contains {message!r}: {messages}", pytrace=False)
    return hits


def assert_not_fires(result: "ScrubResult", rule_id: str, line: Any = ANY_LINE) -> None:
    """Assert that ``rule_id`` did not fire (on ``line`` if given). The claim
    must have been scrubbed: an invalid or failed claim fails the assertion,
    since no rule could have fired on it."""
    __tracebackhide__ = True
    if result.status.value in ("invalid", "failed"):
        pytest.fail(f"{rule_id} cannot have fired: the claim was not scrubbed; {_describe(result)}", pytrace=False)
    if any(_matches(f, rule_id, line) for f in result.findings):
        pytest.fail(f"expected {rule_id} not to fire{_where(line)}; {_describe(result)}", pytrace=False)


def assert_clean(result: "ScrubResult") -> None:
    """Assert that the claim was scrubbed and nothing fired."""
    __tracebackhide__ = True
    if result.status.value != "clean":
        pytest.fail(f"expected a clean claim; {_describe(result)}", pytrace=False)


# -- pytest fixtures (entry point group pytest11) -----------------------------

_CACHE: dict[Any, "Scrubber"] = {}
_KEEP_ALIVE: list[Any] = []  # the objects whose ids are in cache keys


def _key(plugins: tuple[Any, ...], rulesets: Iterable[Any], config: Any, strict: bool) -> Any:
    plugin_key = tuple(p if isinstance(p, str) else (p[0], id(p[1])) for p in plugins)
    if config is None or isinstance(config, (str, Path)):
        config_key: Any = str(config) if config is not None else None
    elif isinstance(config, dict):
        config_key = json.dumps(config, sort_keys=True, default=str)
    else:
        config_key = ("object", id(config))
    return (plugin_key, tuple(str(r) for r in rulesets), config_key, strict)


@pytest.fixture(name="make_scrubber", scope="session")
def _make_scrubber_fixture() -> Any:
    """Factory: ``make_scrubber(*plugins, rulesets=(), config=None, strict=True)``,
    see :func:`scrubber.testing.make_scrubber`. Cached per session by its
    arguments."""
    def build(*plugins: PluginSpec, rulesets: Iterable[Union[str, Path]] = (), config: Any = None, strict: bool = True) -> "Scrubber":
        rulesets = list(rulesets)
        key = _key(plugins, rulesets, config, strict)
        if key not in _CACHE:
            _CACHE[key] = make_scrubber(*plugins, rulesets=rulesets, config=config, strict=strict)
            _KEEP_ALIVE.append((plugins, config))
        return _CACHE[key]

    return build


@pytest.fixture(name="make_claim")
def _make_claim_fixture() -> Any:
    """Factory: :func:`scrubber.testing.make_claim`."""
    return make_claim
