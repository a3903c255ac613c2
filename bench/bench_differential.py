"""Differential run at scale: the rule engine against the plain-Python oracle,
and the Python API from several threads against a single-threaded run.

    python3 bench/bench_differential.py [--claims 100000] [--threads 8] [--seed 1] [--skip-threads]

Claims come from ``tests/claimgen.py`` (edge-heavy random claims); the option
variants cycle claim by claim through ``claimgen.OPTION_VARIANTS`` (passed to
the Scrubber as config and to the oracle as options). Findings are compared
as sets (the engine de-duplicates identical findings). Prints claims checked,
mismatches (the first few in full), seconds and the core count; exits 1 on
any mismatch.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from claimgen import OPTION_VARIANTS, random_claim  # noqa: E402
from differential import as_tuples  # noqa: E402
from oracle import dry_needling as oracle  # noqa: E402

from scrubber import Scrubber  # noqa: E402
from scrubber.config import parse_config  # noqa: E402
from scrubber.models import Claim  # noqa: E402


def scrubbers() -> list[Scrubber]:
    out = []
    for options in OPTION_VARIANTS:
        config = parse_config({"plugins": {"dry-needling": options}}) if options else None
        out.append(Scrubber(allow_plugins=["dry-needling"], config=config))
    return out


def differential(n: int, seed: int) -> int:
    built = scrubbers()
    rng = random.Random(seed)
    mismatches = 0
    rules: Counter[str] = Counter()
    start = time.perf_counter()
    for i in range(n):
        variant = i % len(OPTION_VARIANTS)
        options = OPTION_VARIANTS[variant]
        data = random_claim(rng, f"B{i}")
        claim = Claim.model_validate(data)
        result = built[variant].scrub(claim)
        engine = as_tuples(result.findings)
        expected = set(oracle.check(claim, options or None))
        rules.update(f[0] for f in expected)
        if engine != expected or result.status.value == "failed":
            mismatches += 1
            if mismatches <= 5:
                print(f"MISMATCH options={options} claim={data}\n  engine only: {sorted(engine - expected, key=str)}"
                      f"\n  oracle only: {sorted(expected - engine, key=str)}\n  errors: {result.errors}")
    seconds = time.perf_counter() - start
    print(f"differential: {n} claims checked, {mismatches} mismatches, {seconds:.1f} s "
          f"({n / seconds:.0f} claims/s, engine + oracle), {os.cpu_count()} cores, seed {seed}")
    print(f"  findings by rule (oracle): {dict(sorted(rules.items()))}")
    return mismatches


def _key(result) -> tuple:
    return (result.claim_id, result.status.value,
            tuple((f.rule_id, f.severity.value, f.line, f.code, f.message, f.fix) for f in result.findings))


def threads(n: int, workers: int, seed: int) -> int:
    scrubber = Scrubber(allow_plugins=["dry-needling"], config=parse_config({
        "payers": {"62308": {"plugins": {"dry-needling": {"investigational": True}}}}}))
    rng = random.Random(seed)
    inputs = [random_claim(rng, f"T{i}") for i in range(n)]
    start = time.perf_counter()
    single = [_key(scrubber.scrub(d)) for d in inputs]
    t_single = time.perf_counter() - start

    def work(offset: int) -> list[tuple[int, tuple]]:
        return [(i, _key(scrubber.scrub(inputs[i]))) for i in range(offset, n, workers)]

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        got = dict(pair for part in pool.map(work, range(workers)) for pair in part)
    t_threads = time.perf_counter() - start
    differ = sum(1 for i in range(n) if got.get(i) != single[i])
    print(f"threads: {n} claims, {workers} threads vs 1: {differ} differ; single {t_single:.1f} s, "
          f"threaded {t_threads:.1f} s, {os.cpu_count()} cores")
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-threads", action="store_true")
    args = parser.parse_args(argv)
    bad = differential(args.claims, args.seed)
    if not args.skip_threads:
        bad += threads(args.claims, args.threads, args.seed + 1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
