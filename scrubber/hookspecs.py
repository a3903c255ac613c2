"""The hooks a scrubber plugin may implement.

A plugin is a module (or object) registered under the ``scrubber`` entry-point
group whose functions are decorated with :data:`scrubber.hookimpl` and named
after the specifications below. Every hook is optional. A test checks that
each hook here is documented in ``docs/hooks.md`` and has a test of its own.

``scrubber_history`` is documented in ``docs/hooks-history.md``.

Load-time hooks (``scrubber_rulesets``, ``scrubber_tables``,
``scrubber_options``) run once when a :class:`~scrubber.Scrubber` is built; a
plugin that raises in one of them is reported and skipped entirely. Per-claim
hooks (``scrubber_facts``, ``scrubber_history``, ``scrubber_review``) run for
every claim the engine sees (``scrubber_history`` only when a claim-history
store is configured); a plugin that raises there fails that claim only
(status ``failed``, naming the plugin), and the next claim is scrubbed as
usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import pluggy

if TYPE_CHECKING:
    from .facts import Facts
    from .history import HistoryStore
    from .models import Claim, Finding
    from .plugin import Option, ReferenceTable
    from .rules import RuleSet

PROJECT = "scrubber"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def scrubber_rulesets() -> "list[Union[str, Path, RuleSet]]":  # type: ignore[empty-body]
    """Contribute rule files.

    Called once at start-up. Return paths of YAML rule files (or directories,
    whose ``*.yaml`` files are all loaded) or already-built ``RuleSet``
    objects. A file that fails validation is reported with its path, rule id
    and field, and skipped; the plugin's other files still load.
    """


@hookspec
def scrubber_tables() -> "list[ReferenceTable]":  # type: ignore[empty-body]
    """Declare the reference tables the plugin uses, with version and source.

    Called once at start-up. The plugin looks its tables up itself (in
    ``scrubber_facts``); declaring them lets ``scrubber plugins`` show which
    versions of which sources a result depends on.
    """


@hookspec
def scrubber_options() -> "list[Option]":  # type: ignore[empty-body]
    """Declare the plugin's options with their defaults.

    Called once at start-up. The config file may set these under
    ``plugins.<plugin name>`` globally or per payer; any key not declared here
    is a configuration error.
    """


@hookspec
def scrubber_facts(claim: "Claim", facts: "Facts", options: "dict[str, Any]") -> None:
    """Add fields or facts before the engine runs on one claim.

    Called for every claim that reaches the engine. ``facts.claim`` and
    ``facts.lines`` are dicts the plugin may add fields to (for example a
    line's MUE from a table); ``facts.add(kind, **fields)`` adds a fact of the
    plugin's own kind. Values must be str, int, bool or None (dates as
    YYYYMMDD integers). ``options`` are this plugin's options resolved for
    the claim's payer. Return nothing.
    """


@hookspec
def scrubber_history(claim: "Claim", history: "HistoryStore", facts: "Facts", options: "dict[str, Any]") -> None:
    """Add facts from the patient's earlier claims before the engine runs.

    Called for every claim that reaches the engine, after every plugin's
    ``scrubber_facts`` (so the fields those added are there), and only when
    the scrubber has a claim-history store (``Scrubber(history=...)``,
    ``scrubber check --history PATH_OR_URL``); without one it is never
    called and no rule can see other claims.

    ``history`` is a :class:`scrubber.history.HistoryStore`. Ask it for
    prior service lines with
    ``history.prior_lines(patient_key(claim), codes, start, end, exclude_claim=claim.claim_id)``
    (``scrubber.history.patient_key``: the patient's ID and the billing NPI;
    None when the claim lacks one, then skip); each ``PriorLine`` has
    ``claim_id``, ``line``, ``code``, ``service_date``, ``units``,
    ``modifiers`` and ``filing``. Always exclude the claim itself: its own
    earlier version (a re-scrub or the claim a replacement replaces) must
    not count. Attach what the rules need to ``facts.lines`` / ``facts.claim``
    or with ``facts.add`` (str, int, bool or None values, as in
    ``scrubber_facts``). Do not write to the store: the scrubber records the
    claim itself after scrubbing it (unless recording is off). ``options``
    are this plugin's options for the claim's payer. Return nothing. A plugin
    that raises (or whose store query fails) fails that claim only.
    """


@hookspec
def scrubber_review(claim: "Claim", findings: "list[Finding]", options: "dict[str, Any]") -> "Optional[list[Finding]]":
    """Review or adjust the findings of one claim after the engine ran.

    Called for every claim that was scrubbed (also claims that skipped the
    engine), after configuration overrides. Return a new list to replace the
    findings (for example with a payer-specific severity, or with a finding
    of the plugin's own), or None to leave them as they are. Plugins are
    called in turn, each seeing the previous one's result.
    """
