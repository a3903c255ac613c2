"""Time the oracle over the W1 and W2 workloads.

    python3 tests/oracle/bench.py [--w1 20000] [--w2 100000] [--repeat 5]

Claims are built (and validated) first; only ``check`` is timed, with
``time.perf_counter`` around a loop over the whole workload. Prints the time
per claim of each run and the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

from oracle.dry_needling import NEEDLING, check
from oracle.workloads import w1, w2


def time_workload(claims: list, repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for claim in claims:
            check(claim)
        runs.append((time.perf_counter() - start) / len(claims) * 1e6)
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--w1", type=int, default=20000)
    parser.add_argument("--w2", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for name, claims in (("W1", list(w1(args.w1))), ("W2", list(w2(args.w2)))):
        runs = time_workload(claims, args.repeat)
        with_findings = sum(1 for c in claims if check(c)) / len(claims)
        needling = sum(1 for c in claims if any(ln.code in NEEDLING for ln in c.lines)) / len(claims)
        print(
            f"{name}: {len(claims)} claims, check() {statistics.median(runs):.2f} us/claim median "
            f"(runs {', '.join(f'{r:.2f}' for r in runs)}); "
            f"{with_findings:.1%} with findings, {needling:.1%} with 20560/20561"
        )


if __name__ == "__main__":
    main()
