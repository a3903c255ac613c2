"""Scrubber throughput and memory (plain script, no test framework).

Workloads come from the oracle's seeded generators (tests/oracle/workloads.py):
W1 = 20,000 claims of 3 lines, all with dry-needling codes; W2 = 100,000
claims, about 5 % with 20560/20561. For each it prints claims per second
through ``Scrubber.scrub`` on one core and through the plain-Python oracle,
and the number of claims whose findings differ between the two (the
differential test's ``as_tuples`` comparison; it must be 0).

    python3 bench/bench_scrub.py                 # W1, W2, --jobs figure (a few minutes)
    python3 bench/bench_scrub.py --million       # + RSS growth over 1,000,000 claims
    python3 bench/bench_scrub.py --skip-jobs     # W1 and W2 only

Claims are validated (``Claim`` objects) before timing, as the oracle gets
them; ``scrub`` is timed with ``time.perf_counter`` around the whole loop,
best of ``--repeat`` runs. The ``--jobs`` figure runs ``scrubber check
--format json`` on a generated W1-like NDJSON file with 1 and N worker
processes (wall clock, including start-up) and checks the outputs are
byte-identical.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from differential import as_tuples  # noqa: E402
from oracle import dry_needling as oracle  # noqa: E402
from oracle.workloads import w1, w2  # noqa: E402

from scrubber import Scrubber  # noqa: E402


def vm_rss_kb() -> int:
    """Current resident set size (VmRSS) in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def best_rate(function, claims: list, repeat: int) -> tuple[float, float]:
    """Best of ``repeat`` runs: (claims/s by wall clock, claims/s by process CPU time)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        for claim in claims:
            function(claim)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return len(claims) / wall, len(claims) / cpu


def workload(name: str, claims: list, scrubber: Scrubber, repeat: int) -> None:
    engine, engine_cpu = best_rate(scrubber.scrub, claims, repeat)
    plain, _ = best_rate(oracle.check, claims, repeat)
    mismatches = sum(1 for c in claims if as_tuples(scrubber.scrub(c).findings) != set(oracle.check(c)))
    print(f"{name}: {len(claims):,} claims; engine {engine:,.0f} claims/s ({1e6 / engine:.1f} us/claim) on one core "
          f"[by CPU time {engine_cpu:,.0f} claims/s]; oracle {plain:,.0f} claims/s; engine findings == oracle "
          f"findings on every claim: {'yes' if mismatches == 0 else 'NO'} ({mismatches} mismatches)", flush=True)


def million(scrubber: Scrubber, pool: list, total: int) -> None:
    """RSS growth while scrubbing ``total`` claims cycled from ``pool``."""
    warm = 20_000
    for claim in itertools.islice(itertools.cycle(pool), warm):
        scrubber.scrub(claim)
    before = vm_rss_kb()
    start = time.perf_counter()
    for claim in itertools.islice(itertools.cycle(pool), total):
        scrubber.scrub(claim)
    elapsed = time.perf_counter() - start
    after = vm_rss_kb()
    print(f"RSS over {total:,} claims (W1/W2 cycled, after {warm:,} warm-up): VmRSS {before / 1024:.1f} MB -> "
          f"{after / 1024:.1f} MB, growth {(after - before) / 1024:+.2f} MB; {total / elapsed:,.0f} claims/s", flush=True)


_CHILD = (
    "import sys\n"
    "from scrubber.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "    sys.stderr.write(f'\\nVmHWM {hwm}\\n')\n"
    "sys.exit(code)\n"
)


def run_cli(path: Path, jobs: int, out: Path) -> tuple[float, float]:
    """Run ``scrubber check --format json`` on ``path``: (wall seconds, peak RSS
    MB of the parent process, from its VmHWM: ru_maxrss would include the
    pre-exec copy of this large benchmark process)."""
    cmd = [sys.executable, "-c", _CHILD, "check", "--format", "json", "--progress", "never",
           "--jobs", str(jobs), str(path)]
    start = time.perf_counter()
    with open(out, "wb") as sink:
        run = subprocess.run(cmd, stdout=sink, stderr=subprocess.PIPE, cwd=ROOT)
    elapsed = time.perf_counter() - start
    hwm = int(run.stderr.decode().rsplit("VmHWM", 1)[1].split()[0])
    return elapsed, hwm / 1024


def jobs_figure(jobs: int, n: int) -> None:
    """CLI throughput with 1 and ``jobs`` processes on a W1-like NDJSON file, and
    peak RSS on that file and on a file 1/5 its size (streaming: about equal)."""
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "w1.ndjson", Path(tmp) / "w1-small.ndjson"
        with big.open("w") as out, small.open("w") as part:
            for i, claim in enumerate(w1(n, seed=7, as_dict=True)):
                line = json.dumps(claim) + "\n"
                out.write(line)
                if i < n // 5:
                    part.write(line)
        t1, rss1 = run_cli(big, 1, Path(tmp) / "out1.ndjson")
        tn, _ = run_cli(big, jobs, Path(tmp) / "outn.ndjson")
        _, rss_small = run_cli(small, 1, Path(tmp) / "out-small.ndjson")
        same = (Path(tmp) / "out1.ndjson").read_bytes() == (Path(tmp) / "outn.ndjson").read_bytes()
        print(f"CLI --format json on a {n:,}-claim W1-like NDJSON file ({big.stat().st_size / 1e6:.0f} MB): --jobs 1 "
              f"{n / t1:,.0f} claims/s, --jobs {jobs} {n / tn:,.0f} claims/s (speed-up {t1 / tn:.2f}x, wall clock incl. "
              f"start-up); outputs byte-identical: {'yes' if same else 'NO'}", flush=True)
        print(f"CLI streaming memory (--jobs 1): peak RSS {rss_small:.0f} MB on {n // 5:,} claims, {rss1:.0f} MB on "
              f"{n:,} claims", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--w1", type=int, default=20_000)
    parser.add_argument("--w2", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="also measure RSS growth over 1,000,000 claims")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the CLI figure")
    parser.add_argument("--jobs-claims", type=int, default=100_000)
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument("--only-cli", action="store_true", help="only the CLI figures (--jobs, streaming memory)")
    args = parser.parse_args(argv)

    print(f"cores: {os.cpu_count()}; python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}", flush=True)
    if args.only_cli:
        jobs_figure(args.jobs, args.jobs_claims)
        return
    scrubber = Scrubber()
    w1_claims = list(w1(args.w1))
    w2_claims = list(w2(args.w2))
    # The 120,000 materialised Claim objects are a benchmark artefact (the CLI
    # streams); keep the cyclic GC from rescanning them during the timings.
    gc.freeze()
    workload("W1", w1_claims, scrubber, args.repeat)
    workload("W2", w2_claims, scrubber, args.repeat)
    print(f"peak RSS so far: {peak_rss_mb():.1f} MB", flush=True)
    if args.million:
        million(scrubber, w1_claims + w2_claims, 1_000_000)
        print(f"peak RSS: {peak_rss_mb():.1f} MB", flush=True)
    if not args.skip_jobs:
        jobs_figure(args.jobs, args.jobs_claims)
    print(f"load average at the end {os.getloadavg()[0]:.2f} (other processes share these cores)", flush=True)


if __name__ == "__main__":
    main()
