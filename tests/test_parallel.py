"""``scrubber check --jobs N``: same bytes as one process, in input order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from oracle.workloads import w1

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ndjson(tmp_path_factory) -> Path:
    """3,000 W1 claims with invalid records mixed in: bad JSON, a claim that
    fails validation, a non-object, an over-long field."""
    path = tmp_path_factory.mktemp("parallel") / "claims.ndjson"
    with path.open("w") as out:
        for i, claim in enumerate(w1(3000, seed=11, as_dict=True)):
            if i % 301 == 3:
                out.write("{not json\n")
            if i % 499 == 7:
                out.write(json.dumps({"claim_id": f"BAD-{i}", "lines": [{"number": 1, "code": "2056"}]}) + "\n")
            if i % 997 == 11:
                out.write("[1, 2]\n")
            if i == 1500:
                out.write("\n")  # blank lines are skipped, not claims
            out.write(json.dumps(claim) + "\n")
    return path


def check(path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scrubber.cli", "check", *options, str(path)],
        capture_output=True, cwd=ROOT, timeout=600,
    )


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_jobs_output_is_byte_identical_and_in_order(ndjson, fmt):
    one = check(ndjson, "--format", fmt, "--jobs", "1")
    two = check(ndjson, "--format", fmt, "--jobs", "2", "--batch-size", "64")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout
    assert one.stderr == two.stderr  # the summary line counts the same claims
    if fmt == "json":
        rows = [json.loads(line) for line in two.stdout.splitlines()]
        indexes = [row["source"]["index"] for row in rows]
        assert indexes == list(range(1, len(rows) + 1))  # input order, nothing lost
        invalid = [row for row in rows if row["status"] == "invalid"]
        assert len(invalid) >= 10 and all(row["errors"] for row in invalid)


def test_jobs_with_fix(ndjson, tmp_path):
    one = check(ndjson, "--format", "json", "--fix", "--jobs", "1")
    two = check(ndjson, "--format", "json", "--fix", "--jobs", "2", "--batch-size", "100")
    assert one.stdout == two.stdout and one.returncode == two.returncode


def test_jobs_fix_output_writes_the_same_file(ndjson, tmp_path):
    small = tmp_path / "small.ndjson"
    small.write_bytes(b"".join(ndjson.read_bytes().splitlines(keepends=True)[:300]))
    outputs = []
    for jobs in ("1", "2"):
        target = tmp_path / f"fixed-{jobs}.ndjson"
        run = check(small, "--format", "json", "--fix", "--fix-output", str(target), "--jobs", jobs, "--batch-size", "32")
        assert run.returncode == 1, run.stderr
        outputs.append((run.stdout, target.read_bytes()))
    assert outputs[0] == outputs[1]


def test_no_progress_bar_when_stderr_is_not_a_terminal(ndjson):
    run = check(ndjson, "--format", "json", "--jobs", "2")
    assert b"claims/s" not in run.stderr
    forced = check(ndjson, "--format", "json", "--jobs", "2", "--progress", "always")
    assert b"claims/s" in forced.stderr


@pytest.mark.parametrize("name", ["synthetic-500-claims.837", "dry-needling-malformed.837"])
def test_jobs_on_x12_input(name):
    path = ROOT / "tests" / "data" / "837p" / "generated" / name
    one = check(path, "--format", "json", "--jobs", "1")
    two = check(path, "--format", "json", "--jobs", "2", "--batch-size", "16")
    assert (one.returncode, one.stdout, one.stderr) == (two.returncode, two.stdout, two.stderr)
