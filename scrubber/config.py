"""The configuration file: rules off, severities overridden, plugin options,
globally and per payer (payer settings win).

YAML or TOML, chosen by the file's extension. Unknown keys are errors, and
rule IDs, plugin names and option names are checked against what is loaded,
so a typo never silently leaves a rule on.

.. code-block:: yaml

    rules:
      DN-MOD-ASSISTANT: off              # or {enabled: false}
      DN-UNITS-LINE: {severity: warning}
    plugins:
      dry-needling: {therapist_modifier: GY}
    payers:
      "87726":                           # a payer ID (NM109 of 2010BB)
        plugins: {dry-needling: {investigational: true}}
      "filing:16":                       # every claim with this SBR09
        rules: {DN-MCR-ABN-ON-MA: {severity: error}}
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .models import Claim, Severity
from .plugin import Option
from .rules import load_yaml

MAX_CONFIG_BYTES = 1024 * 1024


class ConfigError(Exception):
    pass


class RuleSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Optional[Severity] = None


def _rule_setting(value: Any) -> Any:
    # ``off`` / ``false`` is shorthand for {enabled: false}; YAML 1.1 reads
    # "off" as False already.
    if value is False or value == "off":
        return {"enabled": False}
    if value is True or value == "on":
        return {"enabled": True}
    return value


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[str, RuleSetting] = {}
    plugins: dict[str, dict[str, Any]] = {}

    @field_validator("rules", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _rule_setting(v) for k, v in value.items()}
        return value


class Config(Scope):
    """The whole file: global settings plus per-payer scopes."""

    payers: dict[str, Scope] = {}

    @field_validator("payers", mode="before")
    @classmethod
    def _keys_as_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value


def load_config(path: Union[str, Path]) -> Config:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text) if path.suffix == ".toml" else load_yaml(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot parse: {exc}".replace("\n", " ")) from None
    return parse_config(doc or {}, str(path))


def parse_config(doc: Any, name: str = "<config>") -> Config:
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: a config file must be a mapping")
    try:
        return Config.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{name}: {where}: {err['msg']}") from None


@dataclass
class Settings:
    """Configuration resolved for one payer: what the scrubber consults per claim."""

    disabled: frozenset[str] = frozenset()
    severity: dict[str, Severity] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


class ResolvedConfig:
    """A config checked against the loaded rules and plugins, with settings
    resolved once per payer key (not once per claim)."""

    def __init__(self, config: Config, rule_ids: set[str], options: dict[str, dict[str, Option]], name: str = "<config>"):
        self._config = config
        self._options = options
        for scope_name, scope in [("", config)] + [(f"payers.{k}.", v) for k, v in config.payers.items()]:
            for rule_id in scope.rules:
                if rule_id not in rule_ids:
                    raise ConfigError(f"{name}: {scope_name}rules.{rule_id}: no loaded rule has this ID")
            for plugin, values in scope.plugins.items():
                if plugin not in options:
                    raise ConfigError(f"{name}: {scope_name}plugins.{plugin}: no loaded plugin of this name declares options")
                for key, value in values.items():
                    if key not in options[plugin]:
                        raise ConfigError(f"{name}: {scope_name}plugins.{plugin}.{key}: unknown option")
                    try:
                        options[plugin][key].check(value)
                    except ValueError as exc:
                        raise ConfigError(f"{name}: {scope_name}plugins.{plugin}.{key}: {exc}") from None
        self.default = self._resolve(None)
        self._by_key = {key: self._resolve(scope) for key, scope in config.payers.items()}

    def _resolve(self, payer: Optional[Scope]) -> Settings:
        rules = dict(self._config.rules)
        options = {p: {o.name: o.default for o in opts.values()} for p, opts in self._options.items()}
        for scope in (self._config, payer):
            if scope is None:
                continue
            rules.update(scope.rules)
            for plugin, values in scope.plugins.items():
                options[plugin].update(values)
        return Settings(
            disabled=frozenset(r for r, s in rules.items() if not s.enabled),
            severity={r: s.severity for r, s in rules.items() if s.severity is not None},
            options=options,
        )

    def for_claim(self, claim: Claim) -> Settings:
        if not self._by_key:
            return self.default
        if claim.payer.id is not None and claim.payer.id in self._by_key:
            return self._by_key[claim.payer.id]
        if claim.filing_indicator is not None:
            return self._by_key.get(f"filing:{claim.filing_indicator}", self.default)
        return self.default
