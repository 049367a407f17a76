"""The sweep's files in --out: the manifest, the Parquet parts and the combined runs.parquet.

Every file is written under a temporary name and renamed when complete, so a reader (or a
resumed sweep) sees a file whole or not at all. A chunk writes its timeseries part first and
its runs part last: the runs part is what marks the chunk's runs as done.

    DIR/manifest.json                 the design and every run id, written before any run
    DIR/runs/part-NNNNN.parquet       one row per run of a chunk
    DIR/timeseries/part-NNNNN.parquet model.parquet rows of the chunk's runs, with run_id
    DIR/runs.parquet                  all runs, sorted by run_id, written at the end
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from market.errors import UserError
from market.files import TMP_SUFFIX, write_bytes, write_parquet
from market.sweep.design import Design, RunSpec
from market.sweep.outcomes import outcome_sort_key, outcome_type
from market.sweep.worker import RunOutcome

MANIFEST = "manifest.json"
RUNS_DIR = "runs"
TIMESERIES_DIR = "timeseries"
RUNS_FILE = "runs.parquet"
_PART = re.compile(r"^part-(\d+)\.parquet$")
# --- the manifest ----------------------------------------------------------------------------


#: keys every manifest has, and the type of each
MANIFEST_KEYS = {"fingerprint": str, "design": dict, "n_runs": int, "runs": list}
#: a manifest larger than this is not one this program wrote (a million runs take about 100 MB)
MAX_MANIFEST_BYTES = 512 * 2**20


def _start_over(out: Path) -> str:
    return f"remove {out} (or choose another --out) to start the sweep over"


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of the sweep in ``out``, checked; None if there is none. A damaged one is a
    one-line UserError saying what is wrong and how to start over."""
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    if not path.is_file():
        raise UserError(f"{path}: not a sweep manifest (it is not a file); {_start_over(out)}")
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise UserError(f"{path}: not a sweep manifest (larger than {MAX_MANIFEST_BYTES // 2**20} MB); "
                            f"{_start_over(out)}")
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UserError(f"{path}: not a readable sweep manifest ({exc}); {_start_over(out)}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the sweep manifest: {exc.strerror or exc}") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: not a sweep manifest (expected a JSON object, got "
                        f"{type(manifest).__name__}); {_start_over(out)}")
    for key, kind in MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            what = "missing" if key not in manifest else f"not a{'n' if kind is int else ''} {kind.__name__}"
            raise UserError(f"{path}: {key}: {what}; the manifest is damaged; {_start_over(out)}")
    try:
        design = Design.from_json(manifest["design"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: design: damaged ({type(exc).__name__}: {exc}); {_start_over(out)}") from None
    if design.kind not in ("single", "grid", "lhs", "sobol", "morris") or any(
        len(p) != len(design.params) for p in design.points
    ):
        raise UserError(f"{path}: design: damaged (kind {design.kind!r}, {len(design.params)} parameters); "
                        f"{_start_over(out)}")
    return manifest


def read_part(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One stored part; a damaged one (a truncated copy, say) is a one-line UserError."""
    try:
        table = pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError, ValueError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise UserError(f"{path}: a damaged part ({text}); delete this file and run the same sweep again "
                        "to redo its runs") from None
    if "run_id" not in table.column_names:
        raise UserError(f"{path}: a damaged part (no run_id column); delete this file and run the same "
                        "sweep again to redo its runs")
    return table


def check_out(out: Path, manifest: dict[str, Any]) -> bool:
    """Check, creating nothing, that --out can take this sweep; True if it holds it already (a resume)."""
    from market.files import check_out_dir

    check_out_dir(out)
    if not out.exists():
        return False
    existing = read_manifest(out)
    if existing is not None:
        if existing.get("fingerprint") != manifest["fingerprint"]:
            raise UserError(
                f"--out {out}: holds a different sweep ({_describe(existing)}; this one is "
                f"{_describe(manifest)}); choose another --out or remove the directory"
            )
        for sub in (RUNS_DIR, TIMESERIES_DIR):
            if (out / sub).exists() and not (out / sub).is_dir():
                raise UserError(f"{out / sub}: not a folder; the sweep folder is damaged; {_start_over(out)}")
        return True
    if any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise UserError(f"--out {out}: the directory is not empty and holds no sweep manifest")
    return False


def prepare_out(out: Path, manifest: dict[str, Any]) -> bool:
    """Make --out ready for this design; True if it already holds it (a resume).

    Refuses a directory that holds a different design or files that are not a sweep's.
    """
    resumed = check_out(out, manifest)
    if not resumed:
        out.mkdir(parents=True, exist_ok=True)
        write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2), out / MANIFEST)
    (out / RUNS_DIR).mkdir(exist_ok=True)
    (out / TIMESERIES_DIR).mkdir(exist_ok=True)
    _clean(out)
    return resumed


def _describe(manifest: dict[str, Any]) -> str:
    design = manifest.get("design", {})
    if not isinstance(design, dict):
        design = {}
    return (
        f"{manifest.get('scenario', '?')}, {design.get('kind', '?')} design over "
        f"{', '.join(design.get('params', [])) or 'no parameters'}, "
        f"{manifest.get('n_runs', '?')} runs, fingerprint {str(manifest.get('fingerprint'))[:8]}"
    )


def _clean(out: Path) -> None:
    """Drop temporary files and timeseries parts whose runs part never landed (a kill)."""
    for path in out.iterdir():
        if path.name.startswith(".") and path.name.endswith(TMP_SUFFIX) and path.is_file():
            path.unlink(missing_ok=True)
    for sub in (RUNS_DIR, TIMESERIES_DIR):
        for path in (out / sub).iterdir():
            if path.name.endswith(TMP_SUFFIX):
                path.unlink(missing_ok=True)
    done = set(part_numbers(out / RUNS_DIR))
    for number in part_numbers(out / TIMESERIES_DIR):
        if number not in done:
            (out / TIMESERIES_DIR / part_name(number)).unlink(missing_ok=True)


def part_name(number: int) -> str:
    return f"part-{number:05d}.parquet"


def part_numbers(directory: Path) -> list[int]:
    if not directory.exists():
        return []
    found = (_PART.match(p.name) for p in directory.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def stored_run_ids(out: Path) -> set[str]:
    ids: set[str] = set()
    for number in part_numbers(out / RUNS_DIR):
        table = read_part(out / RUNS_DIR / part_name(number), columns=["run_id"])
        ids.update(table.column("run_id").to_pylist())
    return ids


# --- parts -----------------------------------------------------------------------------------


def param_types(design: Design) -> list[pa.DataType]:
    """A column type per parameter: int64 if every value is an int, float64 if every value is
    a number, else string."""
    types: list[pa.DataType] = []
    for i in range(len(design.params)):
        values = [p[i] for p in design.points]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            types.append(pa.int64())
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            types.append(pa.float64())
        else:
            types.append(pa.string())
    return types


def _param_value(value: Any, dtype: pa.DataType) -> Any:
    if pa.types.is_string(dtype):
        return str(value)
    if pa.types.is_floating(dtype):
        return float(value)
    return value


def runs_table(design: Design, specs: Sequence[RunSpec], results: Sequence[RunOutcome]) -> pa.Table:
    """One row per run: ids, parameters, status, error and the outcome columns."""
    by_id = {r.run_id: r for r in results}
    ordered = [by_id[s.run_id] for s in specs]
    columns: dict[str, pa.Array] = {
        "run_id": pa.array([s.run_id for s in specs], pa.string()),
        "point": pa.array([s.point for s in specs], pa.int64()),
        "replication": pa.array([s.replication for s in specs], pa.int64()),
        "seed": pa.array([s.seed for s in specs], pa.int64()),
    }
    for i, (name, dtype) in enumerate(zip(design.params, param_types(design), strict=True)):
        values = [_param_value(design.points[s.point][i], dtype) for s in specs]
        columns[name] = pa.array(values, dtype)
    columns["status"] = pa.array(["failed" if r.error else "ok" for r in ordered], pa.string())
    columns["error"] = pa.array([r.error for r in ordered], pa.string())
    names = sorted({k for r in ordered for k in r.outcomes}, key=outcome_sort_key)
    for name in names:
        columns[name] = pa.array([r.outcomes.get(name) for r in ordered], outcome_type(name))
    return pa.table(columns)


class PartWriter:
    """Writes each finished chunk as the next numbered pair of parts."""

    def __init__(self, out: Path, design: Design) -> None:
        self.out = out
        self.design = design
        numbers = part_numbers(out / RUNS_DIR)
        self.next_number = numbers[-1] + 1 if numbers else 0
        self.parts_written = 0

    def write(
        self, specs: Sequence[RunSpec], results: Sequence[RunOutcome], timeseries: pa.Table | None
    ) -> None:
        name = part_name(self.next_number)
        if timeseries is not None and timeseries.num_rows:
            write_parquet(timeseries, self.out / TIMESERIES_DIR / name)
        write_parquet(runs_table(self.design, specs, results), self.out / RUNS_DIR / name)
        self.next_number += 1
        self.parts_written += 1


# --- combining -------------------------------------------------------------------------------


def combine(out: Path, design: Design) -> pa.Table:
    """All runs parts as one table sorted by run_id, with a column order that does not depend on
    how the runs were chunked; written to runs.parquet atomically."""
    table = _stored_runs(out)
    fixed = ["run_id", "point", "replication", "seed", *design.params, "status", "error"]
    outcome_cols = sorted((c for c in table.column_names if c not in fixed), key=outcome_sort_key)
    table = table.select(fixed + outcome_cols)
    for i, name in enumerate(outcome_cols, start=len(fixed)):
        dtype = outcome_type(name)
        if table.schema.field(name).type != dtype:
            table = table.set_column(i, name, table.column(name).cast(dtype))
    write_parquet(table, out / RUNS_FILE)
    return table


def _stored_runs(out: Path) -> pa.Table:
    """Every runs part as one table sorted by run_id, keeping the first stored row of a run id
    (only a hand-copied part could repeat one)."""
    parts = [read_part(out / RUNS_DIR / part_name(n)) for n in part_numbers(out / RUNS_DIR)]
    if not parts:
        raise UserError(f"{out}: the sweep has no stored runs yet")
    table = pa.concat_tables(parts, promote_options="permissive")
    first: dict[str, int] = {}  # each run id's first row
    for i, rid in enumerate(table.column("run_id").to_pylist()):
        first.setdefault(rid, i)
    if len(first) < table.num_rows:
        table = table.take(list(first.values()))
    return table.sort_by("run_id")


def read_runs(out: Path) -> pa.Table:
    """runs.parquet, or the parts combined in memory if the sweep has not finished."""
    path = out / RUNS_FILE
    if path.exists():
        try:
            return pq.read_table(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            text = " ".join(str(exc).split())[:200]
            raise UserError(f"{path}: damaged ({text}); delete it and run the same sweep again to rebuild it "
                            "from the parts") from None
    if read_manifest(out) is None:
        raise UserError(f"{out}: not a sweep directory (no {MANIFEST})")
    return _stored_runs(out)


def iter_chunks(specs: Sequence[RunSpec], size: int) -> Iterable[list[RunSpec]]:
    for start in range(0, len(specs), size):
        yield list(specs[start : start + size])
