"""Sweep throughput and the parent's memory: prints figures, asserts nothing.

    python benchmarks/bench_sweep.py                 # 1,000 runs of baseline-2026 × 60 months
    python benchmarks/bench_sweep.py --runs 100      # a quick check
    python benchmarks/bench_sweep.py --runs 1000 --timing-workers 2 --rss-runs 1000

Each measurement runs in a fresh subprocess (so its peak RSS is its own): one design point,
``--runs`` seeds, with 1 and with 2 workers; then the parent's peak RSS for each of
``--rss-runs`` (reusing a timing measurement of the same size). Peak RSS is the parent's
``ru_maxrss`` (RUSAGE_SELF): the spawned workers are not counted. CPU time is the workers' (their
start-up included, RUSAGE_CHILDREN) per run, and the parent's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(scenario: str, runs: int, months: int, workers: int) -> dict[str, float]:
    from market.sweep.design import build_design
    from market.sweep.runner import SweepConfig, run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        cfg = SweepConfig(
            scenario,
            build_design(seeds=runs),
            months=months,
            out=Path(tmp) / "sweep",
            workers=workers,
            progress="none",
        )
        start = time.perf_counter()
        res = run_sweep(cfg)
        wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    rss_kb = own.ru_maxrss  # KiB on Linux
    # the workers' CPU time: the pool's processes have ended and been waited for
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "rss_mb": rss_kb / 1024, "ok": res.ok, "failed": res.failed,
            "parent_cpu_s": own.ru_utime + own.ru_stime, "workers_cpu_s": workers.ru_utime + workers.ru_stime}


def in_subprocess(scenario: str, runs: int, months: int, workers: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--measure",
        "--scenario",
        scenario,
        "--runs",
        str(runs),
        "--months",
        str(months),
        "--workers",
        str(workers),
    ]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"measurement failed ({' '.join(cmd[2:])}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="baseline-2026")
    ap.add_argument("--runs", type=int, default=1000, help="runs per timing measurement")
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--rss-runs", default="100,1000", help="sweep sizes for the peak RSS")
    ap.add_argument("--timing-workers", default="1,2", help="worker counts to time")
    ap.add_argument("--workers", type=int, default=2, help="(with --measure)")
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.scenario, args.runs, args.months, args.workers)))
        return

    print(f"{args.scenario}, {args.months} months per run")
    timing: dict[int, dict[str, float]] = {}
    for workers in (int(x) for x in args.timing_workers.split(",") if x):
        r = in_subprocess(args.scenario, args.runs, args.months, workers)
        timing[workers] = r
        print(
            f"  {args.runs} runs, {workers} worker(s): {r['wall_s']:.1f} s, "
            f"{args.runs / r['wall_s']:.2f} runs/s, parent peak RSS {r['rss_mb']:.0f} MB"
            f" ({r['ok']} ok, {r['failed']} failed); CPU {r['workers_cpu_s'] / args.runs:.3f} s a run in the"
            f" workers (start-up included), {r['parent_cpu_s']:.1f} s in the parent"
        )
    if 1 in timing and 2 in timing:
        print(f"  speed-up with 2 workers: {timing[1]['wall_s'] / timing[2]['wall_s']:.2f}×")
    for n in (int(x) for x in args.rss_runs.split(",") if x):
        if n == args.runs and 2 in timing:
            r = timing[2]
        else:
            r = in_subprocess(args.scenario, n, args.months, 2)
        print(f"  parent peak RSS, {n} runs, 2 workers: {r['rss_mb']:.0f} MB ({r['wall_s']:.1f} s)")


if __name__ == "__main__":
    main()
