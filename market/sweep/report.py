"""`gpumarket report DIR`: per design point, the mean of each outcome across seeds with a 95%
Student-t interval (mean ± t(0.975, n−1)·s/√n over the point's successful runs); for Sobol and
Morris designs, SALib's sensitivity indices of the per-point means, as a table and text bars.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from market.errors import UserError
from market.files import atomic_write, write_bytes
from market.sweep import store
from market.sweep.design import Design, design_sample_seed
from market.sweep.outcomes import HEADLINE

FIXED = ("run_id", "point", "replication", "seed", "status", "error")
BAR_WIDTH = 30
#: the chart formats --png writes
CHART_SUFFIXES = (".png", ".svg", ".pdf")


def check_report_flags(csv_dir: Path | None, png: Path | None, max_points: int) -> None:
    """Refuse bad --csv, --png and --max-points before the sweep is read or anything is written."""
    if max_points < 1:
        raise UserError(f"--max-points {max_points}: expected at least 1")
    if csv_dir is not None:
        _check_target(csv_dir, "--csv", folder=True)
    if png is not None:
        if png.suffix.lower() not in CHART_SUFFIXES:
            raise UserError(f"--png {png}: expected a file name ending in {', '.join(CHART_SUFFIXES)}")
        _check_target(png, "--png", folder=False)


def _check_target(path: Path, flag: str, folder: bool) -> None:
    if path.exists():
        if folder and not path.is_dir():
            raise UserError(f"{flag} {path}: exists and is not a folder")
        if not folder and path.is_dir():
            raise UserError(f"{flag} {path}: is a folder; expected a file name")
    ancestor = Path(os.path.abspath(path)).parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{flag} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{flag} {path}: not writable")


@dataclass
class Stat:
    n: int
    mean: float
    lo: float
    hi: float


def t_interval(values: Sequence[float], level: float = 0.95) -> Stat:
    """Mean and Student-t interval; the interval is NaN with fewer than two values."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return Stat(0, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n < 2:
        return Stat(n, mean, math.nan, math.nan)
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return Stat(n, mean, mean - half, mean + half)


def outcome_columns(table: pa.Table, design: Design) -> list[str]:
    skip = set(FIXED) | set(design.params)
    return [c for c in table.column_names if c not in skip]


def choose_outcomes(table: pa.Table, design: Design, wanted: Sequence[str]) -> list[str]:
    available = outcome_columns(table, design)
    if not wanted:
        return [c for c in HEADLINE if c in available] or available[:4]
    chosen: list[str] = []
    for pattern in wanted:
        matches = [c for c in available if fnmatch.fnmatchcase(c, pattern)]
        if not matches:
            sample = ", ".join(available[:8]) + (", ..." if len(available) > 8 else "")
            raise UserError(f"--outcome {pattern}: no such outcome column; there are {sample}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def point_stats(table: pa.Table, design: Design, outcomes: Sequence[str]
                ) -> tuple[list[dict[str, int]], dict[str, list[Stat]]]:
    """Run counts per point, and per outcome a Stat per point over its successful runs."""
    points = table.column("point").to_pylist()
    ok = [s == "ok" for s in table.column("status").to_pylist()]
    n_points = len(design.points)
    counts = [{"ok": 0, "failed": 0} for _ in range(n_points)]
    for p, good in zip(points, ok, strict=True):
        if not isinstance(p, int) or not 0 <= p < n_points:
            raise UserError(f"the stored runs name design point {p!r}, but the manifest's design has {n_points}; "
                            "the sweep folder is damaged: remove it (or choose another --out) to start over")
        counts[p]["ok" if good else "failed"] += 1
    stats: dict[str, list[Stat]] = {}
    for name in outcomes:
        per_point: list[list[float]] = [[] for _ in range(n_points)]
        for p, good, v in zip(points, ok, table.column(name).to_pylist(), strict=True):
            if good and v is not None:
                per_point[p].append(float(v))
        stats[name] = [t_interval(v) for v in per_point]
    return counts, stats


def sensitivity(design: Design, stats: dict[str, list[Stat]]) -> tuple[list[dict], list[str]]:
    """SALib indices per outcome and parameter; outcomes with a missing point are skipped."""
    rows: list[dict] = []
    notes: list[str] = []
    problem = design.salib_problem()
    seed = design_sample_seed(design.root_seed)
    for name, per_point in stats.items():
        y = np.array([s.mean for s in per_point], dtype=float)
        if np.isnan(y).any():
            notes.append(f"{name}: some design points have no successful run; no indices")
            continue
        if float(y.std()) == 0.0:
            notes.append(f"{name}: the same at every design point; no indices")
            continue
        if design.kind == "sobol":
            from SALib.analyze import sobol

            second = bool(design.options.get("second_order", False))
            res = sobol.analyze(problem, y, calc_second_order=second, seed=seed)
            rows += _index_rows(name, design.params, res, ("S1", "S1_conf", "ST", "ST_conf"))
        else:
            from SALib.analyze import morris

            x = np.array(design.points, dtype=float)
            res = morris.analyze(problem, x, y, num_levels=int(design.options.get("levels", 4)), seed=seed)
            rows += _index_rows(name, design.params, res, ("mu", "mu_star", "sigma", "mu_star_conf"))
    return rows, notes


def _num(x: float) -> str:
    if math.isnan(x):
        return "—"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.4g}" if abs(x) < 1e3 else f"{x:,.0f}"


def _interval(s: Stat) -> str:
    return "—" if math.isnan(s.lo) else f"[{_num(s.lo)}, {_num(s.hi)}]"


def design_table(design: Design, counts: list[dict[str, int]], max_points: int) -> Table:
    """The design points: their parameter values and how many of their runs succeeded."""
    table = Table(title="design points", title_justify="left")
    table.add_column("point", justify="right")
    for key in design.params:
        table.add_column(escape(key), justify="right", overflow="fold")
    table.add_column("runs ok", justify="right")
    for p in range(min(len(design.points), max_points)):
        values = [_num(v) if isinstance(v, float) else escape(str(v)) for v in design.points[p]]
        table.add_row(str(p), *values, f"{counts[p]['ok']}/{counts[p]['ok'] + counts[p]['failed']}")
    return table


def outcome_table(design: Design, stats: dict[str, list[Stat]], max_points: int) -> Table:
    """One row per design point and outcome, so it stays readable however many there are."""
    table = Table(title="outcomes across seeds: mean and 95% t-interval", title_justify="left")
    table.add_column("point", justify="right")
    table.add_column("outcome", overflow="fold")
    table.add_column("mean", justify="right", no_wrap=True)
    table.add_column("95% t-interval", justify="right", no_wrap=True)
    table.add_column("n", justify="right")
    for p in range(min(len(design.points), max_points)):
        for i, name in enumerate(stats):
            s = stats[name][p]
            mean = "—" if s.n == 0 else _num(s.mean)
            table.add_row(str(p) if i == 0 else "", escape(name), mean, _interval(s), str(s.n),
                          end_section=i == len(stats) - 1)
    return table


def bars(values: Sequence[tuple[str, float]], width: int = BAR_WIDTH) -> list[str]:
    """Plain text bars scaled to the largest value."""
    top = max((abs(v) for _, v in values if not math.isnan(v)), default=0.0)
    label = max((len(k) for k, _ in values), default=0)
    lines = []
    for key, v in values:
        n = 0 if top == 0 or math.isnan(v) else round(width * abs(v) / top)
        lines.append(f"  {key:<{label}} {'█' * n}{' ' * (width - n)} {_num(v)}")
    return lines


def report(out: Path, outcomes: Sequence[str] = (), csv_dir: Path | None = None, png: Path | None = None,
           max_points: int = 20, console: Console | None = None) -> None:
    check_report_flags(csv_dir, png, max_points)
    if not out.exists():
        raise UserError(f"{out}: no such sweep folder")
    manifest = store.read_manifest(out) if out.is_dir() else None
    if manifest is None:
        raise UserError(f"{out}: not a sweep directory (no {store.MANIFEST})")
    design = Design.from_json(manifest["design"])
    table = store.read_runs(out)
    chosen = choose_outcomes(table, design, outcomes)
    counts, stats = point_stats(table, design, chosen)
    console = console or Console()
    done = table.num_rows
    failed = sum(c["failed"] for c in counts)
    console.print(f"[bold]{escape(str(manifest.get('scenario_name')))}[/]: {design.kind} design, {len(design.points)} "
                  f"points × {design.seeds} seeds, {manifest.get('months')} months; {done} of "
                  f"{manifest.get('n_runs')} runs stored, {failed} failed")
    if design.params:
        console.print(design_table(design, counts, max_points))
    console.print(outcome_table(design, stats, max_points))
    if len(design.points) > max_points:
        console.print(f"… {len(design.points) - max_points} more points; --csv DIR writes all")

    sens: list[dict] = []
    if design.kind in ("sobol", "morris"):
        sens, notes = sensitivity(design, stats)
        for note in notes:
            console.print(f"[yellow]{escape(note)}")
        if sens:
            _print_sensitivity(console, design, sens)
    if csv_dir is not None:
        _write_csv(csv_dir, design, counts, stats, sens)
        console.print(f"wrote {escape(str(csv_dir / 'points.csv'))}" + (" and sensitivity.csv" if sens else ""))
    if png is not None:
        _write_png(png, design, stats, sens)
        console.print(f"wrote {escape(str(png))}")


def _print_sensitivity(console: Console, design: Design, sens: list[dict]) -> None:
    if design.kind == "sobol":
        cols, key, what = ("S1", "S1_conf", "ST", "ST_conf"), "ST", "total-order index ST"
    else:
        cols, key, what = ("mu_star", "mu_star_conf", "mu", "sigma"), "mu_star", "Morris μ*"
    table = Table(title=f"{design.kind} sensitivity indices (SALib)", title_justify="left")
    table.add_column("outcome", overflow="fold")
    table.add_column("parameter", overflow="fold")
    for c in cols:
        table.add_column(c, justify="right")
    for row in sens:
        table.add_row(escape(row["outcome"]), escape(row["parameter"]), *(_num(row[c]) for c in cols))
    console.print(table)
    for outcome in dict.fromkeys(r["outcome"] for r in sens):
        console.print(f"{escape(outcome)}: {what}")
        rows = [(r["parameter"], r[key]) for r in sens if r["outcome"] == outcome]
        for line in bars(rows):
            console.print(line, markup=False, highlight=False)


def _write_csv(directory: Path, design: Design, counts: list[dict[str, int]], stats: dict[str, list[Stat]],
               sens: list[dict]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    header = ["point", *design.params, "runs_ok", "runs_failed"]
    for name in stats:
        header += [f"{name}.mean", f"{name}.ci95_low", f"{name}.ci95_high", f"{name}.n"]
    fh = io.StringIO(newline="")
    writer = csv.writer(fh)
    writer.writerow(header)
    for p, values in enumerate(design.points):
        row: list[object] = [p, *values, counts[p]["ok"], counts[p]["failed"]]
        for per_point in stats.values():
            s = per_point[p]
            row += ["" if math.isnan(v) else v for v in (s.mean, s.lo, s.hi)] + [s.n]
        writer.writerow(row)
    write_bytes(fh.getvalue().encode(), directory / "points.csv")
    if sens:
        fh = io.StringIO(newline="")
        dict_writer = csv.DictWriter(fh, fieldnames=list(sens[0]))
        dict_writer.writeheader()
        dict_writer.writerows(sens)
        write_bytes(fh.getvalue().encode(), directory / "sensitivity.csv")


def _write_png(path: Path, design: Design, stats: dict[str, list[Stat]], sens: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("--png needs matplotlib: pip install matplotlib") from None
    names = list(dict.fromkeys(r["outcome"] for r in sens)) if sens else list(stats)
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.5 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        if sens:
            rows = [r for r in sens if r["outcome"] == name]
            key, conf = ("ST", "ST_conf") if design.kind == "sobol" else ("mu_star", "mu_star_conf")
            ax.barh([r["parameter"] for r in rows], [r[key] for r in rows], xerr=[r[conf] for r in rows])
            ax.set_xlabel(key)
        else:
            s = stats[name]
            x = np.arange(len(s))
            mean = np.array([v.mean for v in s])
            err = np.array([[v.mean - v.lo, v.hi - v.mean] for v in s]).T
            ax.errorbar(x, mean, yerr=np.nan_to_num(err), fmt="o", capsize=3)
            ax.set_xlabel("design point")
        ax.set_title(name)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lower().lstrip(".")))
    finally:
        plt.close(fig)


def _index_rows(outcome: str, params: list[str], res, keys: tuple[str, ...]) -> list[dict]:
    """One row per parameter: the outcome, the parameter and SALib's ``keys`` for it."""
    return [{"outcome": outcome, "parameter": p, **{k: float(res[k][i]) for k in keys}} for i, p in enumerate(params)]
