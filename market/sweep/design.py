"""Experimental designs for sweeps: parsing the flags, the design points, run ids and seeds.

Pure functions and small frozen dataclasses; nothing here imports the engine, so the whole
module is testable with numbers on paper.

The seed rule (also in docs/sweep.md): replication ``r`` of every design point runs with

    seed(root, r) = int(SeedSequence(root, spawn_key=(r,)).generate_state(1, uint64)[0] >> 1)

which is the same as ``SeedSequence(root).spawn(n)[r]`` for any ``n > r``. Design points share
the seeds of a replication (common random numbers), so differences between points are not
blurred by different random draws. Sampled designs (LHS, Sobol, Morris) draw their points
with ``int(SeedSequence(root).generate_state(1, uint32)[0])``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import orjson

from market.errors import UserError

DesignKind = Literal["single", "grid", "lhs", "sobol", "morris"]
Value = int | float | str

#: Columns of runs.parquet that a parameter key may not shadow.
RESERVED_COLUMNS = frozenset({"run_id", "point", "replication", "seed", "status", "error"})


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a design point, a replication and its seed."""

    run_id: str
    point: int
    replication: int
    seed: int


@dataclass(frozen=True)
class Design:
    """A sweep's design: the parameters, the points and the replications."""

    kind: DesignKind
    params: tuple[str, ...]
    points: tuple[tuple[Value, ...], ...]
    seeds: int
    root_seed: int
    #: Sampled designs only: the ``--range`` bounds, in ``params`` order.
    bounds: tuple[tuple[float, float], ...] = ()
    #: The sample size N given to --lhs / --sobol / --morris (0 for grids).
    n: int = 0
    #: Design options that the analysis needs (Morris levels, Sobol second order).
    options: dict[str, object] = field(default_factory=dict)

    def point_params(self, point: int) -> dict[str, Value]:
        return dict(zip(self.params, self.points[point], strict=True))

    def overrides(self, point: int) -> list[str]:
        """The design point as ``KEY=VALUE`` overrides, in the form ``--set`` takes."""
        return [f"{k}={format_value(v)}" for k, v in self.point_params(point).items()]

    def run_specs(self) -> list[RunSpec]:
        """Every run, ordered by design point then replication."""
        seeds = [replication_seed(self.root_seed, r) for r in range(self.seeds)]
        return [RunSpec(run_id(p, self.point_params(p), r, seeds[r]), p, r, seeds[r])
                for p in range(len(self.points)) for r in range(self.seeds)]

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.seeds

    def salib_problem(self) -> dict[str, object]:
        return _problem([(k, lo, hi) for k, (lo, hi) in zip(self.params, self.bounds, strict=True)])

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "params": list(self.params), "points": [list(p) for p in self.points],
                "seeds": self.seeds, "root_seed": self.root_seed, "bounds": [list(b) for b in self.bounds],
                "n": self.n, "options": dict(self.options)}

    @classmethod
    def from_json(cls, data: dict) -> Design:
        return cls(kind=data["kind"], params=tuple(data["params"]), points=tuple(tuple(p) for p in data["points"]),
                   seeds=int(data["seeds"]), root_seed=int(data["root_seed"]),
                   bounds=tuple((float(lo), float(hi)) for lo, hi in data.get("bounds", [])),
                   n=int(data.get("n", 0)), options=dict(data.get("options", {})))


# --- seeds and run ids -----------------------------------------------------------------------


def replication_seed(root_seed: int, replication: int) -> int:
    """The engine seed of replication ``replication`` under ``root_seed`` (63 bits, fits int64)."""
    state = np.random.SeedSequence(root_seed, spawn_key=(replication,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def design_sample_seed(root_seed: int) -> int:
    """The seed SALib gets to draw a sampled design's points."""
    return int(np.random.SeedSequence(root_seed).generate_state(1, np.uint32)[0])


def run_id(point: int, params: dict[str, Value], replication: int, seed: int) -> str:
    """A short stable id: sha256 of the sorted parameters, point, replication and seed.

    The point index is included because sampled designs (Morris above all) can repeat a
    parameter combination, and each repetition is a run of its own.
    """
    payload = {"params": params, "point": point, "replication": replication, "seed": seed}
    blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:16]


# --- parsing the flags -----------------------------------------------------------------------


def parse_value(text: str) -> Value:
    """A grid value: an int if it reads as one, else a float, else the text as given."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def format_value(value: Value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _split_key(flag: str, spec: str, expected: str) -> tuple[str, str]:
    key, sep, rest = spec.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"{flag} {spec!r}: expected {expected}")
    if key in RESERVED_COLUMNS:
        raise UserError(f"{flag} {spec!r}: {key!r} is a column name of runs.parquet, not a key")
    return key, rest.strip()


def parse_grid(specs: Sequence[str]) -> list[tuple[str, tuple[Value, ...]]]:
    """``--grid KEY=V1,V2,...`` flags into (key, values) pairs."""
    out: list[tuple[str, tuple[Value, ...]]] = []
    for spec in specs:
        key, rest = _split_key("--grid", spec, "KEY=V1,V2,...")
        items = [item.strip() for item in rest.split(",")]
        if not rest or any(not item for item in items):
            raise UserError(f"--grid {spec!r}: expected KEY=V1,V2,... with no empty value")
        out.append((key, tuple(parse_value(item) for item in items)))
    _no_duplicates("--grid", [k for k, _ in out])
    return out


def parse_range(specs: Sequence[str]) -> list[tuple[str, float, float]]:
    """``--range KEY=LOW:HIGH`` flags into (key, low, high) triples."""
    out: list[tuple[str, float, float]] = []
    for spec in specs:
        key, rest = _split_key("--range", spec, "KEY=LOW:HIGH")
        parts = rest.split(":")
        if len(parts) != 2:
            raise UserError(f"--range {spec!r}: expected KEY=LOW:HIGH, such as {key}=0.1:0.5")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise UserError(f"--range {spec!r}: LOW and HIGH must be numbers") from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise UserError(f"--range {spec!r}: LOW and HIGH must be finite numbers")
        if low > high:
            raise UserError(f"--range {spec!r}: LOW ({low:g}) is above HIGH ({high:g})")
        if low == high:
            raise UserError(f"--range {spec!r}: the range is empty (LOW equals HIGH)")
        out.append((key, low, high))
    _no_duplicates("--range", [k for k, _, _ in out])
    return out


def _no_duplicates(flag: str, keys: list[str]) -> None:
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise UserError(f"{flag} {key}: the key is given twice")


# --- building designs ------------------------------------------------------------------------


def build_design(*, grid: Sequence[str] = (), ranges: Sequence[str] = (), lhs: int | None = None,
                 sobol: int | None = None, morris: int | None = None, seeds: int = 1, root_seed: int = 0,
                 morris_levels: int = 4, second_order: bool = False, max_runs: int | None = None) -> Design:
    """The design the sweep flags describe; raises UserError for a bad one, or for one of more than
    ``max_runs`` runs (counted before any point is drawn)."""
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: expected at least 1 replication")
    if root_seed < 0:
        raise UserError(f"--seed {root_seed}: expected a non-negative integer")
    sampled = {"--lhs": lhs, "--sobol": sobol, "--morris": morris}
    chosen = [flag for flag, n in sampled.items() if n is not None]
    if len(chosen) > 1 or (chosen and grid):
        given = (["--grid"] if grid else []) + chosen
        raise UserError(f"choose one design, not {' and '.join(given)}")
    if grid:
        if ranges:
            raise UserError("--range goes with --lhs, --sobol or --morris, not with --grid")
        parsed_grid = parse_grid(grid)
        _check_runs(math.prod(len(v) for _, v in parsed_grid) * seeds, max_runs)
        return grid_design(parsed_grid, seeds, root_seed)
    if not chosen:
        if ranges:
            raise UserError("--range needs a sampled design: --lhs N, --sobol N or --morris N")
        return Design("single", (), ((),), seeds, root_seed)
    flag = chosen[0]
    n = sampled[flag]
    assert n is not None
    if n < 1:
        raise UserError(f"{flag} {n}: expected a sample size of at least 1")
    parsed = parse_range(ranges)
    if not parsed:
        raise UserError(f"{flag} needs at least one --range KEY=LOW:HIGH")
    d = len(parsed)
    per_n = {"--lhs": 1, "--sobol": 2 * d + 2 if second_order else d + 2, "--morris": d + 1}[flag]
    _check_runs(n * per_n * seeds, max_runs)
    if flag == "--lhs":
        return lhs_design(parsed, n, seeds, root_seed)
    if flag == "--sobol":
        return sobol_design(parsed, n, seeds, root_seed, second_order)
    return morris_design(parsed, n, seeds, root_seed, morris_levels)


def _check_runs(n_runs: int, max_runs: int | None) -> None:
    if max_runs is not None and n_runs > max_runs:
        raise UserError(f"the design has {n_runs:,} runs, above the limit of {max_runs:,} that keeps a sweep "
                        "within this machine's memory; --allow-large lifts it")


def grid_design(grid: Sequence[tuple[str, Sequence[Value]]], seeds: int, root_seed: int) -> Design:
    """The cartesian product of the grid values; the first key varies slowest."""
    params = tuple(k for k, _ in grid)
    points = tuple(itertools.product(*(tuple(v) for _, v in grid)))
    return Design("grid", params, points, seeds, root_seed)


Ranges = Sequence[tuple[str, float, float]]


def _sampled(kind: DesignKind, ranges: Ranges, sample: np.ndarray, n: int, seeds: int, root_seed: int,
             options: dict[str, object] | None = None) -> Design:
    params = tuple(k for k, _, _ in ranges)
    bounds = tuple((lo, hi) for _, lo, hi in ranges)
    points = tuple(tuple(float(x) for x in row) for row in np.asarray(sample, dtype=float))
    return Design(kind, params, points, seeds, root_seed, bounds, n, options or {})


def _problem(ranges: Ranges) -> dict[str, object]:
    """The ranges as SALib's problem."""
    return {"num_vars": len(ranges), "names": [k for k, _, _ in ranges], "bounds": [[lo, hi] for _, lo, hi in ranges]}


def lhs_design(ranges: Ranges, n: int, seeds: int, root_seed: int) -> Design:
    from SALib.sample import latin

    sample = latin.sample(_problem(ranges), n, seed=design_sample_seed(root_seed))
    return _sampled("lhs", ranges, sample, n, seeds, root_seed)


def sobol_design(ranges: Ranges, n: int, seeds: int, root_seed: int, second_order: bool = False) -> Design:
    """Saltelli's scheme: N × (D + 2) points, or N × (2D + 2) with second-order indices."""
    from SALib.sample import sobol

    if n & (n - 1):
        raise UserError(f"--sobol {n}: expected a power of 2 (such as 64 or 256)")
    sample = sobol.sample(_problem(ranges), n, calc_second_order=second_order, seed=design_sample_seed(root_seed))
    return _sampled("sobol", ranges, sample, n, seeds, root_seed, {"second_order": second_order})


def morris_design(ranges: Ranges, n: int, seeds: int, root_seed: int, levels: int = 4) -> Design:
    """N Morris trajectories of D + 1 points each."""
    from SALib.sample import morris

    if levels < 2 or levels % 2:
        raise UserError(f"--levels {levels}: expected an even number of at least 2")
    sample = morris.sample(_problem(ranges), n, num_levels=levels, seed=design_sample_seed(root_seed))
    return _sampled("morris", ranges, sample, n, seeds, root_seed, {"levels": levels})
