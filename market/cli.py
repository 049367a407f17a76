"""The ``gpumarket`` command (also ``python -m market``).

Exit status: 0 success; 2 a user's mistake (one line on stderr naming the file, flag or field);
1 an internal error. ``play`` loads the Textual UI (package ``tui``) at run time only, so the
engine and the headless commands never import Textual.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
import traceback
from pathlib import Path

from market import runtime
from market.errors import UserError, one_line, shown

DEFAULT_SCENARIO = "baseline-2026"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{self.prog}: {message} (see --help)")


#: seeds are stored as signed 64-bit integers (Parquet, JSON)
MAX_SEED = 2**63 - 1


def _whole(text: str, what: str) -> int:
    text = text.strip()
    if not text or len(text) > 30 or not (text.isdigit() or (text[0] in "+-" and text[1:].isdigit())):
        raise argparse.ArgumentTypeError(f"expected {what}, got {shown(text)!r}")
    return int(text)


def _seed(text: str) -> int:
    v = _whole(text, "a whole number")
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**63-1, got {v}")
    return v


def _months(text: str) -> int:
    v = _whole(text, "a whole number of months")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected at least 1 month, got {v}")
    return v


def out_path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected the path of a folder, got {text!r}")
    if "\0" in text:
        raise argparse.ArgumentTypeError("expected the path of a folder, got a path with a NUL character")
    return Path(text)


LARGE_HELP = ("lift the limits that keep a run within this machine's memory (600 months, 1,000 providers, "
              "20,000 buyers, 10,000 events, 4 MB scenario files)")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="gpumarket", description="An agent-based simulation of the AI compute market.")
    from market import __version__

    ap.add_argument("--version", action="version", version=f"gpumarket {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("play", help="the terminal UI: watch, step and play the market")
    p.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, help="bundled name or TOML path")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--as", dest="as_company", metavar="COMPANY", help="take the seat of this provider")
    p.add_argument("--load", metavar="FILE", help="resume a saved game (JSON)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--allow-large", action="store_true", help=LARGE_HELP)
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("run", help="one headless run to files")
    p.add_argument("scenario", help="bundled name or TOML path")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--months", type=_months, default=None, help="default: the scenario's length")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario field by its dotted path (repeatable)")
    p.add_argument("--out", type=out_path, default=None,
                   help="folder for the output files (default runs/<scenario>-seed<N>); replaced as a whole")
    p.add_argument("--ledger", action="store_true", help="also write every posting to ledger.parquet")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--allow-large", action="store_true", help=LARGE_HELP)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("scenarios", help="list the bundled scenarios")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("validate", help="check a scenario file and say what is wrong")
    p.add_argument("file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--allow-large", action="store_true", help=LARGE_HELP)
    p.set_defaults(func=cmd_validate)

    try:
        sweep_cli = importlib.import_module("market.sweep.cli")
    except ModuleNotFoundError as exc:
        if exc.name not in ("market.sweep", "market.sweep.cli"):
            raise
    else:
        sweep_cli.add_parsers(sub)
    return ap


# ---------------------------------------------------------------------------- commands

def cmd_scenarios(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from market.scenario import list_scenarios

    t = Table(title="Bundled scenarios", show_lines=False)
    t.add_column("name", style="bold")
    t.add_column("title")
    t.add_column("months", justify="right")
    t.add_column("summary")
    for s in list_scenarios():
        t.add_row(escape(s.name), escape(s.title), str(s.months), escape(s.summary))
    Console(width=160 if not sys.stdout.isatty() else None).print(t)
    return 0


def cmd_validate(args) -> int:
    from market.scenario import apply_and_validate, read_toml, resolve

    path = resolve(args.file)
    data = read_toml(path, allow_large=args.allow_large)
    s = apply_and_validate(data, args.overrides, str(path), allow_large=args.allow_large)
    inherits = f" (inherits {' < '.join(p.stem for p in data.bases)})" if data.bases else ""
    print(one_line(f"{args.file}: ok: {s.name!r}{inherits}, {s.months} months from {s.market.start}, "
                   f"{len(s.generations)} generations, {len(s.providers)} provider specs, {len(s.buyers)} buyer specs, "
                   f"{len(s.events)} events"))
    return 0


def cmd_run(args) -> int:
    from market.files import StagedDir, check_out_dir
    from market.scenario import check_months, load_scenario
    from market.simulate import RUN_FILES, simulate, write_run

    scn = load_scenario(args.scenario, args.overrides, allow_large=args.allow_large)
    months = args.months or scn.months
    if args.months:
        check_months(scn, months, allow_large=args.allow_large)
    out: Path = args.out if args.out is not None else Path("runs") / f"{safe_name(scn.name)}-seed{args.seed}"
    check_out_dir(out, replaceable=RUN_FILES)
    runtime.settle()  # the imports and the scenario stay out of the garbage collector's walks
    with StagedDir(out) as staged:  # made before simulating: a folder that cannot be written fails first
        t0 = time.perf_counter()
        progress = _progress(months, args.quiet)
        with progress as tick:
            result = simulate(scn, args.seed, months, ledger=args.ledger, progress=tick)
        elapsed = time.perf_counter() - t0
        write_run(result, staged)
    if not args.quiet:
        _print_summary(result, out, elapsed)
    return 0


def safe_name(name: str) -> str:
    """A scenario's name as one plain folder name: it never decides where outside runs/ files go."""
    words = re.findall(r"\w+(?:[.-]\w+)*", name)  # no separators, no "..", no leading dot
    return "-".join(words)[:100] or "scenario"


class _progress:
    """A rich progress bar on a terminal for long runs; nothing otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                transient=True)

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        task = self.bar.add_task("months", total=self.total)
        return lambda done, total: self.bar.update(task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print_summary(result, out: Path, elapsed: float) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    s = result.summary
    console = Console(width=160 if not sys.stdout.isatty() else None)
    mk = s["market"]
    console.print(f"[bold]{escape(s['title'])}[/] - seed {s['seed']}, {s['months']} months to {s['final_date']} "
                  f"({elapsed:.2f} s)")
    console.print(f"market in {s['final_date']}: compute revenue ${mk['compute_revenue'] / 1e9:,.2f}B/month, "
                  f"avg ${mk['avg_price_per_gpu_hour']:.2f}/GPU-hour, utilisation {mk['utilization']:.0%}, "
                  f"inference share {mk['inference_share']:.0%}, HHI {mk['hhi_revenue']:.3f}")
    t = Table(title=f"Providers in {s['final_date']}")
    t.add_column("company", no_wrap=True, min_width=12)
    for col, just in ( ("kind", "left"), ("share", "right"), ("revenue/mo", "right"),
                      ("net income/mo", "right"), ("cash", "right"), ("debt", "right"), ("backlog", "right"),
                      ("GPUs", "right"), ("util", "right"), ("value", "right"), ("status", "left")):
        t.add_column(col, justify=just, no_wrap=True)
    for name, a in s["agents"].items():
        if a["kind"] not in ("neocloud", "hyperscaler", "nvidia"):
            continue
        mv = a["market_value"]
        t.add_row(escape(name), a["kind"], f"{a['market_share']:.1%}", _b(a["revenue"]), _b(a["net_income"]), _b(a["cash"]),
                  _b(a["debt"]), _b(a["backlog"]), f"{a['gpus_installed']:,.0f}", f"{a['utilization']:.0%}",
                  _b(mv) if mv is not None else "-", "defaulted" if a["defaulted"] else a["status"] or "")
    console.print(t)
    console.print(f"files in {escape(str(out))}/: " + ", ".join(sorted(p.name for p in out.iterdir() if not p.name.startswith("."))))


def _b(x: float) -> str:
    return f"${x / 1e9:,.2f}B"


def cmd_play(args) -> int:
    try:
        app = importlib.import_module("tui.app")
    except ModuleNotFoundError as exc:
        if exc.name in ("textual", "tui", "tui.app"):
            raise UserError(f"play needs the terminal UI, which is not installed ({exc.name}); "
                            "reinstall gpumarket with its dependencies") from None
        raise
    return app.main(args)


# ---------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"gpumarket: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gpumarket: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal error: a bug to report, with its traceback
        from market.files import USER_ERRNOS, describe_os_error

        if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:  # disk full, read-only, permissions
            print(f"gpumarket: error: {one_line(describe_os_error(exc))}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print("gpumarket: internal error (exit 1); please report it with the traceback above", file=sys.stderr)
        return 1
