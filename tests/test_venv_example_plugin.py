"""The plugin kit from outside the repository: a fresh virtual environment.

Slow (about a minute: durable_rules compiles its C engine unless pip has a
cached wheel): deselect with ``-m "not slow"``. One module-scoped fixture
builds the environment once: ``python -m venv``, then ONE ``pip install`` of
the core (this repository) and the example plugin (``examples/payer_policy``,
with its test extra for pytest). Both are installed from fresh copies of
their directories (without ``.git``, ``build/``, ``*.egg-info`` and caches):
pip builds in the source tree, and a stale ``build/lib`` left there by an
earlier run could put deleted modules into the wheel. The example plugin is found only through its
entry point. A plugin written by the installed ``scrubber new-plugin`` is then
pip-installed into the same environment and its own test run there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "payer_policy"


class Venv:
    def __init__(self, root: Path, work: Path):
        self.root, self.work = root, work
        self.bin = root / "bin"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "SCRUBBER_PLUGINS", "SCRUBBER_BLOCK_PLUGINS", "VIRTUAL_ENV",
                                 "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"
        self.timings: list[tuple[str, float]] = []

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        program = args[0] if args[0].startswith("/") else str(self.bin / args[0])
        started = time.monotonic()
        done = subprocess.run([program, *args[1:]], cwd=cwd or self.work, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        self.timings.append((" ".join(a if len(a) < 40 else "..." for a in args[:4]), time.monotonic() - started))
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done


JUNK = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
                              ".venv", "venv*")


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Venv:
    work = tmp_path_factory.mktemp("plugin-kit")
    core = shutil.copytree(REPO, work / "src" / "claim-scrubber", ignore=JUNK)
    example = shutil.copytree(EXAMPLE, work / "src" / "payer_policy", ignore=JUNK)
    root = work / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    env = Venv(root, work)
    env.run("python", "-m", "pip", "install", "-q", str(core), f"{example}[test]")
    env.timings.append(("venv + one pip install", time.monotonic() - started))
    yield env
    print("\nvenv timings (s): " + ", ".join(f"{k}: {v:.1f}" for k, v in env.timings))


def test_venv_core_is_installed_not_imported_from_the_repository(venv):
    where = venv.run("python", "-c", "import scrubber, scrubber_example_payer; print(scrubber.__file__); "
                     "print(scrubber_example_payer.__file__)").stdout.split()
    assert all(str(venv.root) in path and "site-packages" in path for path in where), where


def test_venv_scrubber_plugins_lists_the_example_plugin(venv):
    rows = {row["name"]: row for row in map(json.loads, venv.run("scrubber", "plugins", "--format", "json").stdout.splitlines())}
    assert rows["example-payer"]["status"] == "loaded" and rows["example-payer"]["version"] == "0.1.0"
    assert rows["example-payer"]["module"] == "scrubber_example_payer.plugin"
    assert rows["example-payer"]["rules"] == 1 and rows["example-payer"]["tables"][0]["name"] == "payer_policies"
    assert rows["dry-needling"]["status"] == "loaded"
    text = venv.run("scrubber", "plugins").stdout
    assert "example-payer 0.1.0 (scrubber_example_payer.plugin): loaded, 1 rules" in text


def test_venv_scrubber_check_fires_the_example_rule(venv):
    done = venv.run("scrubber", "check", "--format", "json", str(EXAMPLE / "claims.json"), check=False)
    assert done.returncode == 1, done.stderr
    first, second = map(json.loads, done.stdout.splitlines())
    found = {(f["rule_id"], f["line"], f["severity"], f["plugin"]) for f in first["findings"]}
    assert ("EXPAY-DN-WAIVER", 1, "error", "example-payer") in found
    assert ("DN-MOD-UNNEEDED-BYPASS", 1, "error", "dry-needling") in found  # raised by the example's review hook
    assert first["status"] == "rejected" and second["status"] == "clean"
    blocked = venv.run("scrubber", "check", "--block-plugin", "example-payer", "--format", "json",
                       str(EXAMPLE / "claims.json"), check=False)
    assert "EXPAY-DN-WAIVER" not in blocked.stdout
    explained = venv.run("scrubber", "rules", "--explain", "EXPAY-DN-WAIVER").stdout
    assert "ruleset:   example-payer/waiver" in explained and "plugin example-payer" in explained


def test_venv_example_plugin_own_tests_pass(venv):
    done = venv.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests"), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


def test_venv_scaffolded_plugin_installs_and_its_test_passes(venv):
    venv.run("scrubber", "new-plugin", "demo-clinic")
    plugin = venv.work / "demo-clinic"
    refused = venv.run("scrubber", "new-plugin", "demo-clinic", check=False)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    venv.run("python", "-m", "pip", "install", "-q", str(plugin))
    rows = {row["name"]: row for row in map(json.loads, venv.run("scrubber", "plugins", "--format", "json").stdout.splitlines())}
    assert rows["demo-clinic"]["status"] == "loaded" and rows["demo-clinic"]["rules"] == 1
    done = venv.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=plugin, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
