"""Keep the plugin kit honest (datasette style).

Every hook must be documented (a heading naming it in some ``docs/*.md``)
and have a test of its own (a test function ``test_hook_<hook name>...``
somewhere under ``tests/``). Every key of the rule file format and of the
config file, and every fact field the core and the dry-needling plugin
provide, must appear in ``docs/*.md`` as `` `key` ``. The lists come from the
code, so a new hook, key or field fails here until it is documented.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from scrubber import config, hookspecs, rules
from scrubber.facts import Facts
from scrubber.models import Claim
from scrubber.testing import make_claim

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TESTS = ROOT / "tests"


def hooks() -> list[str]:
    return sorted(name for name, fn in vars(hookspecs).items()
                  if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec"))


def model_keys(module) -> set[str]:
    keys = set()
    for obj in vars(module).values():
        if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__:
            keys |= {f.alias or name for name, f in obj.model_fields.items()}
    return keys


def docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def documented(key: str, text: str) -> bool:
    return f"`{key}`" in text


def test_the_hook_list_comes_from_the_code():
    assert {"scrubber_rulesets", "scrubber_tables", "scrubber_options", "scrubber_facts", "scrubber_review"} <= set(hooks())


@pytest.mark.parametrize("hook", hooks())
def test_every_hook_is_documented(hook):
    headings = [line for p in DOCS.glob("*.md") for line in p.read_text(encoding="utf-8").splitlines()
                if line.startswith("#")]
    assert any(re.search(rf"\b{hook}\b", h) for h in headings), (
        f"hook {hook} has no heading in docs/*.md: add a section '## {hook}' (arguments, when it is called, "
        "what it may return), in docs/hooks.md or a page of its own")


def test_hook_test_names_are_found():
    names = set()
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_hook_"):
                names.add(node.name)
    missing = [h for h in hooks() if not any(n == f"test_hook_{h}" or n.startswith(f"test_hook_{h}_") for n in names)]
    assert not missing, f"hooks without a test of their own (name it test_hook_<hook>...): {missing}"


def test_rule_file_keys_are_documented():
    keys = model_keys(rules)
    assert {"ruleset", "watches", "when", "then", "in", "as", "not", "assert", "any_of", "alternatives"} <= keys
    text = docs_text()
    missing = sorted(k for k in keys if not documented(k, text))
    assert not missing, f"rule file keys missing from docs/*.md: {missing}"


def test_config_keys_are_documented():
    keys = model_keys(config)
    assert {"rules", "plugins", "payers", "enabled", "severity"} <= keys
    text = docs_text()
    missing = sorted(k for k in keys if not documented(k, text))
    assert not missing, f"config keys missing from docs/*.md: {missing}"


def _fields(facts: Facts) -> set[str]:
    return {("mod_<XX>" if key.startswith("mod_") else key) for fact in facts.all() for key in fact}


SAMPLES = [
    make_claim({"code": "20561", "modifiers": ["59", "GY", "GA", "AT"]}, {"code": "99213", "modifiers": ["25"]},
               {"code": "20560"}, {"code": "J3301"}, diagnoses=["M545", "M7918"], filing_indicator="MB",
               frequency="1", rendering_provider={"npi": "1234567893", "taxonomy": "225100000X"}),
    make_claim({"code": "20561", "service_date": "2021-01-05", "service_date_end": "2021-01-06"},
               diagnoses=["M5450"], billing_provider={"npi": "1234567893", "taxonomy": "207X00000X"}),
]


def test_core_fact_fields_are_documented():
    fields = set()
    for sample in SAMPLES:
        fields |= _fields(Facts(Claim.model_validate(sample)))
    assert {"payer_class", "units", "dos", "mod_<XX>", "charge_cents"} <= fields
    text = (DOCS / "facts.md").read_text(encoding="utf-8")
    missing = sorted(k for k in fields if not documented(k, text))
    assert not missing, f"core fact fields missing from docs/facts.md: {missing}"


def test_dry_needling_fact_fields_are_documented():
    from scrubber_dry_needling import plugin

    options = {o.name: o.default for o in plugin.scrubber_options()}
    fields, kinds = set(), set()
    for sample in SAMPLES:
        claim = Claim.model_validate(sample)
        facts = Facts(claim)
        core = _fields(facts)
        plugin.scrubber_facts(claim=claim, facts=facts, options=options)
        fields |= _fields(facts) - core
        kinds |= {fact["kind"] for fact in facts.extra}
    assert {"dn", "mue", "provider_class", "col2_bypass"} <= fields and {"ptp", "modifier", "dx_problem"} <= kinds
    text = (DOCS / "facts.md").read_text(encoding="utf-8")
    missing = sorted(k for k in fields | kinds if not documented(k, text))
    assert not missing, f"dry-needling fact fields missing from docs/facts.md: {missing}"


def test_docs_link_to_pages_that_exist():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
