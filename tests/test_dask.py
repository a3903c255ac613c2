"""Scrubbing on Dask: a LocalCluster with 2 worker processes gives the same
results as one process (docs/scale-out.md). dask[distributed] is in the
``test`` extra, so this test runs in CI; it is not skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dask.bag as db
from dask.distributed import Client, LocalCluster
from oracle.workloads import w1

import scrubber.partitions
from scrubber.partitions import scrub_partition

ROOT = Path(__file__).resolve().parent.parent


def _without_source(doc: dict) -> dict:
    doc.pop("source", None)
    for error in doc.get("errors", ()):
        error.pop("source", None)
    return doc


def _scrubbers_built() -> int:
    return len(scrubber.partitions._SCRUBBERS)


def test_dask_local_cluster_matches_single_process(tmp_path):
    path = tmp_path / "claims.ndjson"
    with path.open("w") as out:
        for i, claim in enumerate(w1(1500, seed=5, as_dict=True)):
            if i % 251 == 9:
                out.write("{not json\n")
            if i % 307 == 4:
                out.write(json.dumps({"claim_id": f"BAD-{i}", "lines": []}) + "\n")
            out.write(json.dumps(claim) + "\n")

    single = subprocess.run([sys.executable, "-m", "scrubber.cli", "check", "--format", "json", str(path)],
                            capture_output=True, cwd=ROOT, timeout=600)
    expected = [_without_source(json.loads(line)) for line in single.stdout.splitlines()]

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        bag = db.read_text(str(path), blocksize=200_000)
        assert bag.npartitions >= 4
        lines = bag.map_partitions(scrub_partition).compute()
        built = client.run(_scrubbers_built)  # per worker process: its cached Scrubbers
    got = [json.loads(line) for line in lines]
    assert got == expected
    assert len(built) == 2 and all(n == 1 for n in built.values()), built
    assert sum(doc["status"] == "invalid" for doc in got) >= 10
