"""A thin, typed facade over pluggy: discovery, allow and block lists, and
fault isolation.

pluggy calls every implementation of a hook in one call, so one plugin's
exception would abort the others. We call implementations one at a time
instead and report a failure against the plugin that raised it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Optional

import pluggy

from . import hookspecs

log = logging.getLogger("scrubber.plugins")

ENTRY_POINT_GROUP = "scrubber"
ENV_ALLOW = "SCRUBBER_PLUGINS"
ENV_BLOCK = "SCRUBBER_BLOCK_PLUGINS"


@dataclass
class PluginInfo:
    name: str
    version: str = ""
    module: str = ""
    status: str = "loaded"  # loaded, blocked, not allowed, failed
    errors: list[str] = field(default_factory=list)


def _names(value: Optional[str]) -> Optional[set[str]]:
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def describe_error(exc: BaseException) -> str:
    """Type and message only: a traceback or repr could carry claim data."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class Plugins:
    """The plugins of one :class:`~scrubber.Scrubber`.

    ``allow``: only these plugin names load (None: all); ``block``: these never
    load. Both also come from ``SCRUBBER_PLUGINS`` / ``SCRUBBER_BLOCK_PLUGINS``
    (comma-separated); a name blocked anywhere stays blocked. ``extra`` are
    ``(name, module-or-object)`` pairs registered without an entry point
    (tests, embedding applications).
    """

    def __init__(
        self,
        allow: Optional[Iterable[str]] = None,
        block: Optional[Iterable[str]] = None,
        extra: Iterable[tuple[str, Any]] = (),
        entry_points: bool = True,
    ):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        allowed = set(allow) if allow is not None else None
        env_allow = _names(os.environ.get(ENV_ALLOW))
        if env_allow is not None:
            allowed = env_allow if allowed is None else allowed & env_allow
        blocked = set(block or ()) | (_names(os.environ.get(ENV_BLOCK)) or set())
        self.info: dict[str, PluginInfo] = {}
        candidates: list[tuple[str, Callable[[], Any], str, str]] = []
        if entry_points:
            for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                version = ep.dist.version if ep.dist else ""
                candidates.append((ep.name, ep.load, version, ep.value))
        for name, obj in extra:
            candidates.append((name, (lambda o=obj: o), "", getattr(obj, "__name__", type(obj).__name__)))
        for name, load, version, module in candidates:
            info = PluginInfo(name, version, module)
            self.info[name] = info
            if name in blocked:
                info.status = "blocked"
                continue
            if allowed is not None and name not in allowed:
                info.status = "not allowed"
                continue
            try:
                plugin = load()
                self.pm.register(plugin, name=name)
                self._check_hooks(plugin, name)
            except Exception as exc:  # a third party's bug must not stop us
                self.fail(name, "load", exc)

    def _check_hooks(self, plugin: Any, name: str) -> None:
        # pluggy accepts an implementation of a hook that has no spec (until
        # check_pending); a typo in a hook name must not pass silently.
        for impl in self.pm.get_hookcallers(plugin) or []:
            if impl.spec is None:
                raise pluggy.PluginValidationError(plugin, f"unknown hook {impl.name}")

    def fail(self, name: str, stage: str, exc: BaseException) -> None:
        """Report a plugin failure at load time and unregister the plugin."""
        info = self.info.setdefault(name, PluginInfo(name))
        info.status = "failed"
        info.errors.append(f"{stage}: {describe_error(exc)}")
        log.error("plugin %s failed in %s: %s", name, stage, describe_error(exc))
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)

    @property
    def loaded(self) -> list[str]:
        return [n for n, i in self.info.items() if i.status == "loaded"]

    def impls(self, hook: str) -> list[tuple[str, Callable[..., Any], tuple[str, ...]]]:
        """(plugin name, function, argument names) in registration order."""
        caller = getattr(self.pm.hook, hook)
        return [(i.plugin_name, i.function, tuple(i.argnames)) for i in caller.get_hookimpls()]

    def collect(self, hook: str) -> list[tuple[str, Any]]:
        """Call a load-time hook on each plugin; a plugin that raises is
        reported and unregistered, and the others go on."""
        results = []
        for name, function, _ in self.impls(hook):
            if self.pm.get_plugin(name) is None:
                continue
            try:
                value = function()
            except Exception as exc:
                self.fail(name, hook, exc)
                continue
            if value is not None:
                results.append((name, value))
        return results
