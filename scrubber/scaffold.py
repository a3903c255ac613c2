"""``scrubber new-plugin NAME``: write a working plugin package.

The package has a ``pyproject.toml`` with the ``scrubber`` entry point, a
hook implementation that adds a fact field from a small reference table, one
rule file with one rule that uses that field, and a passing test that uses
the fixtures of :mod:`scrubber.testing`. Templates are Python strings
(``string.Template``, so the rule file's ``{line.number}`` braces need no
escaping). An existing directory is never overwritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class ScaffoldError(Exception):
    """The plugin cannot be written (bad name, or the directory exists)."""


@dataclass(frozen=True)
class Names:
    plugin: str  #: entry-point name, as in ``--allow-plugin`` and the config file
    distribution: str  #: the name on PyPI / in ``pip install``
    module: str  #: the importable package
    rule_prefix: str  #: prefix of the plugin's rule IDs
    field_prefix: str  #: prefix of the fact fields it adds

    @classmethod
    def of(cls, name: str) -> "Names":
        if not NAME.fullmatch(name) or len(name) > 40:
            raise ScaffoldError(
                f"plugin name {name!r} must be lower case letters, digits and single hyphens, start with a letter, "
                "and be at most 40 characters (for example acme-payer)"
            )
        plugin = name.removeprefix("scrubber-") or name
        snake = plugin.replace("-", "_")
        return cls(
            plugin=plugin,
            distribution=f"scrubber-{plugin}",
            module=f"scrubber_{snake}",
            rule_prefix=plugin.upper(),
            field_prefix=snake,
        )


PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$plugin: rules for the claim scrubber"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["claim-scrubber>=0.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The scrubber finds the plugin through this entry point; the name on the
# left is the plugin's name (--allow-plugin, the config file's plugins.<name>).
[project.entry-points.scrubber]
$plugin = "$module.plugin"

[tool.setuptools.packages.find]
where = ["src"]

# Rule files are data: without this line pip would not install them.
[tool.setuptools.package-data]
$module = ["rules/*.yaml"]

[tool.pytest.ini_options]
testpaths = ["tests"]
''')

README = Template('''\
# $distribution

A plugin for the claim scrubber, made with `scrubber new-plugin $plugin`.

```sh
pip install -e '.[test]'     # next to an installed claim-scrubber
scrubber plugins             # $plugin is listed, with its rule and table
scrubber rules --explain $rule_prefix-MAX-UNITS
python -m pytest             # the fixtures come from claim-scrubber's pytest plugin
```

- `src/$module/plugin.py`: the hook implementations (rule files, reference
  table, fact fields).
- `src/$module/rules/`: the rule files (YAML; see the scrubber's
  `docs/rule-format.md`).
- `tests/`: tests with the `make_scrubber` and `make_claim` fixtures and the
  assertions of `scrubber.testing`.
''')

INIT = Template('''\
"""$plugin: a plugin for the claim scrubber."""

__version__ = "0.1.0"
''')

PLUGIN = Template('''\
"""Hook implementations of the $plugin plugin.

Python looks reference values up and attaches them to facts; the decision
(what is wrong, how bad, what to do) is in the rule files under ``rules/``.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from scrubber import Claim, Facts, ReferenceTable, hookimpl

#: A small reference table: the most units paid per line, by procedure code.
#: Replace it with your payer's table (a CSV file in the package, say).
MAX_UNITS = {"97140": 4, "97110": 4, "20561": 1}


@hookimpl
def scrubber_rulesets() -> list[Any]:
    """The plugin's rule files: every *.yaml file in the rules directory."""
    return [resources.files(__package__).joinpath("rules")]


@hookimpl
def scrubber_tables() -> list[ReferenceTable]:
    """Declared so that ``scrubber plugins`` shows what results depend on."""
    return [ReferenceTable("max_units", "0.1.0", "$plugin example table (src/$module/plugin.py)", rows=len(MAX_UNITS))]


@hookimpl
def scrubber_facts(claim: Claim, facts: Facts, options: dict[str, Any]) -> None:
    """Add ``${field_prefix}_max_units`` to each line whose code is in the table.

    Field names carry the plugin's prefix so they never clash with another
    plugin's fields.
    """
    for line in facts.lines:
        limit = MAX_UNITS.get(line["code"])
        if limit is not None:
            line["${field_prefix}_max_units"] = limit
''')

RULES = Template('''\
ruleset: $plugin/units
description: Example rule of the $plugin plugin; replace it with your policy.
version: "0.1.0"
rules:
  - id: $rule_prefix-MAX-UNITS
    title: More units on a line than the plugin's table allows
    severity: error
    message: >-
      Line {line.number}: {line.code} is billed with {line.units} units; at most
      {line.${field_prefix}_max_units} are paid per line.
    citation:
      source: $plugin example table (replace with the payer policy you implement)
    when:
      - fact: line
        where:
          ${field_prefix}_max_units: {exists: true}
          units: {gt: {field: ${field_prefix}_max_units}}
    then:
      - finding:
          line: line
          fix: {action: set_units, units: "{line.${field_prefix}_max_units}"}
''')

TEST = Template('''\
"""Tests of the $plugin plugin.

``make_scrubber`` and ``make_claim`` are fixtures of claim-scrubber's pytest
plugin (``scrubber.testing``): no conftest.py is needed.
"""

from scrubber.testing import assert_fires, assert_not_fires

PLUGIN = "$plugin"
RULE = "$rule_prefix-MAX-UNITS"


def test_max_units(make_scrubber, make_claim):
    scrubber = make_scrubber(PLUGIN)  # exactly this plugin, found by its entry point

    too_many = scrubber.scrub(make_claim({"code": "97140", "units": 5}))
    assert_fires(too_many, RULE, line=1, severity="error", fix={"action": "set_units", "units": 4})

    within = scrubber.scrub(make_claim({"code": "97140", "units": 4}, {"code": "99213", "units": 9}))
    assert_not_fires(within, RULE)
''')


def files(names: Names) -> dict[str, str]:
    """Relative path -> text of every file of the new plugin."""
    values = {
        "plugin": names.plugin, "distribution": names.distribution, "module": names.module,
        "rule_prefix": names.rule_prefix, "field_prefix": names.field_prefix,
    }
    src = f"src/{names.module}"
    return {
        "pyproject.toml": PYPROJECT.substitute(values),
        "README.md": README.substitute(values),
        f"{src}/__init__.py": INIT.substitute(values),
        f"{src}/plugin.py": PLUGIN.substitute(values),
        f"{src}/rules/{names.field_prefix}.yaml": RULES.substitute(values),
        "tests/test_plugin.py": TEST.substitute(values),
    }


def new_plugin(name: str, parent: Path = Path(".")) -> tuple[Path, Names, list[Path]]:
    """Write the plugin ``name`` into ``parent/<name>``; refuse an existing path."""
    names = Names.of(name)
    target = Path(parent) / name
    if target.exists() or target.is_symlink():
        raise ScaffoldError(f"{target} already exists; not overwriting it")
    try:
        target.mkdir(parents=True)
    except FileExistsError:  # created between the check and now
        raise ScaffoldError(f"{target} already exists; not overwriting it") from None
    written = []
    for relative, text in files(names).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return target, names, written
