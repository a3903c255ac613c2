"""Throughput of scrubbing W1 with a claim history on SQLite (plain script).

W1 claims (tests/oracle/workloads.w1) get patients from a pool so that the
history matters: ``--patients`` patients, each with one billing provider
(``--providers`` NPIs), so the same patient comes back on many claims and
cross-claim rules (DN-UNITS-DAY, DN-MCR-FREQUENCY) fire. Claims are built
and validated first; only ``Scrubber.scrub`` is timed, one process, in
three modes: no history, history read-only (the store filled by the
previous run), and history with recording into a fresh SQLite file. Prints
claims per second, the cross-claim findings, and os.cpu_count().

    python3 bench/bench_history.py [--claims 5000] [--patients 300] [--providers 20]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from oracle.workloads import w1  # noqa: E402

from scrubber import Scrubber  # noqa: E402
from scrubber.models import Claim  # noqa: E402


def claims(n: int, patients: int, providers: int, seed: int = 7) -> list[Claim]:
    rng = random.Random(seed)
    npis = [f"1{rng.randrange(10**9):09d}" for _ in range(providers)]
    out = []
    for data in w1(n, as_dict=True):
        patient = rng.randrange(patients)
        data["patient"] = {"id": f"P{patient:06d}"}
        data["billing_provider"]["npi"] = npis[patient % providers]
        out.append(Claim.model_validate(data))
    return out


def run(scrubber: Scrubber, batch: list[Claim]) -> tuple[float, int]:
    cross = 0
    start = time.perf_counter()
    for claim in batch:
        result = scrubber.scrub(claim)
        cross += sum(1 for f in result.findings if f.rule_id == "DN-MCR-FREQUENCY" or "already billed" in f.message)
    return len(batch) / (time.perf_counter() - start), cross


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--providers", type=int, default=20)
    args = parser.parse_args(argv)
    batch = claims(args.claims, args.patients, args.providers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        plain = Scrubber(allow_plugins=["dry-needling"])
        recording = Scrubber(allow_plugins=["dry-needling"], history=path)
        readonly = Scrubber(allow_plugins=["dry-needling"], history=path, record=False)
        run(plain, batch[:200])  # warm up the engine and imports
        base, _ = run(plain, batch)
        write, cross_w = run(recording, batch)
        read, cross_r = run(readonly, batch)
        recording.close()
        readonly.close()
        size = path.stat().st_size
    print(f"W1 {len(batch)} claims, {args.patients} patients, {args.providers} providers; os.cpu_count()={os.cpu_count()}")
    print(f"  no history:               {base:8.0f} claims/s")
    print(f"  SQLite history, recording: {write:8.0f} claims/s ({cross_w} cross-claim findings, file {size / 1e6:.1f} MB)")
    print(f"  SQLite history, read-only: {read:8.0f} claims/s ({cross_r} cross-claim findings against the full history)")


if __name__ == "__main__":
    main()
