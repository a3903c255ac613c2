"""The example third-party plugin (examples/payer_policy), quickly.

Its tests run here against its source tree, found through an entry point
declared in a dist-info directory on the path. The slow test in
``test_venv_example_plugin.py`` does the real thing: pip installs it into a
fresh virtual environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "payer_policy"


def test_example_plugin_is_its_own_distribution():
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert project["project"]["name"] == "scrubber-example-payer"
    assert project["project"]["entry-points"]["scrubber"] == {"example-payer": "scrubber_example_payer.plugin"}
    source = "\n".join(p.read_text() for p in (EXAMPLE / "src").rglob("*.py"))
    assert "scrubber_dry_needling" not in source and "scrubber." not in source.replace("scrubber.testing", "")


def test_example_plugin_own_tests_pass(tmp_path):
    info = tmp_path / "scrubber_example_payer-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scrubber-example-payer\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[scrubber]\nexample-payer = scrubber_example_payer.plugin\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE / "src"), str(tmp_path)])}
    env.pop("SCRUBBER_PLUGINS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout
