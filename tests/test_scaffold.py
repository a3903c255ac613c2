"""``scrubber new-plugin``: the package it writes works, and it never overwrites.

The slow test in ``test_venv_example_plugin.py`` also pip-installs a
scaffolded plugin into a fresh virtual environment and runs its own test
there.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib

import pytest

from scrubber.cli import main
from scrubber.rules import load_ruleset
from scrubber.scaffold import Names, ScaffoldError, new_plugin
from scrubber.testing import assert_fires, assert_not_fires, make_claim, make_scrubber


def test_new_plugin_writes_a_package(tmp_path, capsys):
    assert main(["new-plugin", "acme-payer", "--directory", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    root = tmp_path / "acme-payer"
    assert "created plugin acme-payer" in out and str(root / "pyproject.toml") in out
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == "scrubber-acme-payer"
    assert project["project"]["entry-points"]["scrubber"] == {"acme-payer": "scrubber_acme_payer.plugin"}
    assert "claim-scrubber>=0.1" in project["project"]["dependencies"]
    assert project["tool"]["setuptools"]["package-data"] == {"scrubber_acme_payer": ["rules/*.yaml"]}
    [rules] = (root / "src" / "scrubber_acme_payer" / "rules").glob("*.yaml")
    assert [r.id for r in load_ruleset(rules).rules] == ["ACME-PAYER-MAX-UNITS"]
    assert (root / "tests" / "test_plugin.py").exists() and (root / "README.md").exists()


def test_new_plugin_rule_and_hooks_work(tmp_path, monkeypatch):
    root, names, _ = new_plugin("tiny", tmp_path)
    assert names == Names("tiny", "scrubber-tiny", "scrubber_tiny", "TINY", "tiny")
    monkeypatch.syspath_prepend(str(root / "src"))
    module = importlib.import_module("scrubber_tiny.plugin")
    try:
        scrubber = make_scrubber(("tiny", module))
        assert [t.name for _, t in scrubber.tables] == ["max_units"]
        result = scrubber.scrub(make_claim({"code": "97140", "units": 5}))
        assert_fires(result, "TINY-MAX-UNITS", line=1, severity="error", fix={"action": "set_units", "units": 4})
        assert_not_fires(scrubber.scrub(make_claim({"code": "97140", "units": 4})), "TINY-MAX-UNITS")
    finally:
        for name in [m for m in sys.modules if m.startswith("scrubber_tiny")]:
            del sys.modules[name]


def test_new_plugin_own_test_passes_through_its_entry_point(tmp_path):
    """Its test finds the plugin by entry point: give it one with a dist-info
    directory on the path (pip does the same in the slow venv test)."""
    root, names, _ = new_plugin("quick-check", tmp_path)
    info = root / "src" / "scrubber_quick_check-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scrubber-quick-check\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[scrubber]\nquick-check = scrubber_quick_check.plugin\n")
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    env.pop("SCRUBBER_PLUGINS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_new_plugin_refuses_to_overwrite(tmp_path, capsys):
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    assert main(["new-plugin", "taken", "--directory", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ScaffoldError, match="already exists"):
        new_plugin("afile", tmp_path)


@pytest.mark.parametrize("name", ["Acme", "acme_payer", "acme-", "acme--payer", "1acme", "a" * 41, ""])
def test_new_plugin_refuses_bad_names(tmp_path, capsys, name):
    assert main(["new-plugin", name, "--directory", str(tmp_path)]) == 2
    assert "plugin name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
