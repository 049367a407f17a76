"""The `gpumarket sweep` and `gpumarket report` subcommands; market.cli calls add_parsers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from market.errors import UserError, one_line

#: root seeds are stored as signed 64-bit integers (manifest, runs.parquet)
MAX_SEED = 2**63 - 1


def _int_in(low: int, high: int, what: str = "a whole number"):
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        t = text.strip()
        if not t or len(t) > 30 or not (t.isdigit() or (t[0] in "+-" and t[1:].isdigit())):
            raise argparse.ArgumentTypeError(f"expected {what}, got {one_line(t)!r}")
        v = int(t)
        if not low <= v <= high:
            top = "2**63-1" if high == MAX_SEED else f"{high:,}"
            raise argparse.ArgumentTypeError(f"expected {what} from {low} to {top}, got {v}")
        return v

    return parse


def _path(text: str) -> Path:
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a path, got {text!r}")
    return Path(text)

SWEEP_EPILOG = """\
designs (choose one; none means one point with --seeds replications):
  --grid KEY=V1,V2,...     repeatable; the cartesian product of the values
  --lhs N --range KEY=LOW:HIGH ...     a Latin hypercube of N points
  --sobol N --range ...    Saltelli's sample for Sobol indices, N a power of 2: N*(D+2) points
  --morris N --range ...   N Morris trajectories: N*(D+1) points

Each run's seed comes from --seed by numpy's SeedSequence (replication r uses
SeedSequence(seed, spawn_key=(r,))); every design point shares the seeds of a replication.
Running the same command again resumes: stored runs are skipped. See docs/sweep.md.
"""


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register `sweep` and `report` on the main parser's subparsers."""
    sweep = subparsers.add_parser(
        "sweep", help="many headless runs over a design, locally or on a Dask cluster",
        description="Run a scenario over a design of parameter values and seeds, streaming results to Parquet in "
        "--out.", epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("scenario", metavar="SCENARIO", help="a bundled scenario name or a TOML path")
    _design_flags(sweep.add_argument_group("design"))
    _running_flags(sweep.add_argument_group("running"))
    sweep.set_defaults(func=cmd_sweep)
    _report_parser(subparsers)


def _design_flags(design: argparse._ArgumentGroup) -> None:
    """`sweep`'s flags that choose the design, the seeds, the overrides and the run length."""
    design.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="grid values of a scenario key (repeatable)")
    design.add_argument("--lhs", type=_int_in(1, 10**7), metavar="N", help="a Latin hypercube of N points")
    design.add_argument("--sobol", type=_int_in(1, 10**7), metavar="N",
                        help="a Sobol (Saltelli) sample with base size N, a power of 2")
    design.add_argument("--morris", type=_int_in(1, 10**7), metavar="N", help="N Morris trajectories")
    design.add_argument("--range", dest="ranges", action="append", default=[], metavar="KEY=LOW:HIGH",
                        help="the range of a sampled key (repeatable)")
    design.add_argument("--levels", type=_int_in(2, 1000), default=4, metavar="N",
                        help="Morris grid levels, even (default 4)")
    design.add_argument("--second-order", action="store_true",
                        help="Sobol: sample for second-order indices too (N*(2D+2) points)")
    design.add_argument("--seeds", type=_int_in(0, 10**6), default=1, metavar="N",
                        help="replications per design point (default 1)")
    design.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0, metavar="N",
                        help="the root seed every run's seed derives from (default 0)")
    design.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a fixed override for every run (repeatable)")
    design.add_argument("--months", type=_int_in(1, 10**6, "a whole number of months"), metavar="N",
                        help="months per run (default: the scenario's length; at most 600 without --allow-large)")
    design.add_argument("--allow-large", action="store_true",
                        help="lift the limits that keep a sweep within this machine's memory (100,000 runs, 600 "
                        "months, and the scenario limits of gpumarket run)")


def _running_flags(run: argparse._ArgumentGroup) -> None:
    """`sweep`'s flags for where and how the runs go: the folder, the workers, the engine."""
    run.add_argument("--out", type=_path, metavar="DIR",
                     help="output directory (default sweeps/<scenario>-<design hash>)")
    run.add_argument("--workers", type=_int_in(1, 4096), metavar="N",
                     help="worker processes (default: the number of cores)")
    run.add_argument("--chunk-size", type=_int_in(1, 10**6), metavar="N",
                     help="runs per task and per Parquet part (default: about 4 chunks per worker, at most 25)")
    run.add_argument("--engine", choices=("process", "dask"), default="process",
                     help="process: a local spawn process pool (default); dask: a Dask cluster")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="with --engine dask: an existing scheduler, such as tcp://10.0.0.5:8786 "
                     "(default: a local cluster on 127.0.0.1); checked before anything is written")
    run.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                     help="seconds to reach --scheduler and hear its handshake (default 10)")
    run.add_argument("--dashboard", action="store_true",
                     help="with --engine dask and no --scheduler: serve Dask's web pages on 127.0.0.1:8787 "
                     "(off by default)")
    run.add_argument("--max-retries", type=_int_in(0, 100), default=2, metavar="N",
                     help="retries of a run whose worker died (default 2)")
    run.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto",
                     help="auto: a bar on a terminal, log lines otherwise (default)")


def _report_parser(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report", help="summarise a sweep: means, 95%% intervals and sensitivity indices",
        description="Per design point, the mean and 95%% t-interval of each outcome across seeds; for Sobol and "
        "Morris designs, the sensitivity indices.")
    report.add_argument("dir", metavar="DIR", type=_path, help="a sweep's --out directory")
    report.add_argument("--outcome", action="append", default=[], metavar="NAME",
                        help="an outcome column of runs.parquet, or a glob such as '*.market_share' (repeatable; "
                        "default: the headline outcomes)")
    report.add_argument("--csv", type=_path, metavar="DIR", help="write points.csv (and sensitivity.csv) to DIR")
    report.add_argument("--png", type=_path, metavar="FILE",
                        help="write a chart to FILE, a .png, .svg or .pdf (needs matplotlib)")
    report.add_argument("--max-points", type=_int_in(1, 10**6), default=20, metavar="N",
                        help="design points shown in the terminal (default 20; --csv has all)")
    report.set_defaults(func=cmd_report)


def cmd_sweep(args: argparse.Namespace) -> int:
    from market.sweep.design import build_design
    from market.sweep.runner import MAX_RUNS, SweepConfig, default_workers, prepare, run_sweep

    if not 0.1 <= args.connect_timeout <= 600:  # NaN fails too
        raise UserError(f"--connect-timeout {args.connect_timeout}: expected seconds from 0.1 to 600")
    if args.scheduler is not None:  # before the design is sampled or anything is created
        from market.sweep.runner import check_scheduler

        if args.engine != "dask":
            raise UserError("--scheduler goes with --engine dask")
        check_scheduler(args.scheduler)
    design = build_design(grid=args.grid, ranges=args.ranges, lhs=args.lhs, sobol=args.sobol, morris=args.morris,
                          seeds=args.seeds, root_seed=args.seed, morris_levels=args.levels,
                          second_order=args.second_order, max_runs=None if args.allow_large else MAX_RUNS)
    cfg = SweepConfig(scenario=args.scenario, design=design, overrides=tuple(args.overrides), months=args.months,
                      out=args.out, workers=args.workers if args.workers is not None else default_workers(),
                      chunk_size=args.chunk_size, engine=args.engine, scheduler=args.scheduler,
                      max_retries=args.max_retries, progress=args.progress, allow_large=args.allow_large,
                      dashboard=args.dashboard, connect_timeout=args.connect_timeout)
    prepared = prepare(cfg)
    try:
        report = run_sweep(cfg, prepared)
    except KeyboardInterrupt:
        print("sweep: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(f"sweep: {report.total} runs in {report.out}: {report.ok} ok, {report.failed} failed"
          + (f" ({report.skipped} were stored before)" if report.skipped else ""))
    if report.failed:
        print(f"sweep: the failed runs' messages are in the error column of {report.out / 'runs.parquet'}",
              file=sys.stderr, flush=True)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from market.sweep.report import report

    report(args.dir, outcomes=args.outcome, csv_dir=args.csv, png=args.png, max_points=args.max_points)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m market.sweep sweep ...`), the same as `gpumarket sweep`."""
    parser = argparse.ArgumentParser(prog="python -m market.sweep")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args: Any = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
