"""What a worker process does: rebuild each run's scenario from a plain dict, simulate, and
return the outcome figures and monthly model table. Nothing live crosses the process boundary:
tasks are dicts, ints and strings; results are dicts and Arrow tables.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from market import runtime
from market.sweep.outcomes import extract


@dataclass(frozen=True)
class Hooks:
    """Where the engine lives, as "module:attribute" strings so tasks pickle by name.

    Tests point these at a small fake engine; everything else uses the defaults.
    """

    load_scenario: str = "market.scenario:load_scenario"
    scenario_class: str = "market.scenario:Scenario"
    simulate: str = "market.simulate:simulate"

    def resolve(self, name: str) -> Callable[..., Any]:
        return _resolve(getattr(self, name))


_CACHE: dict[str, Any] = {}


def _resolve(path: str) -> Any:
    if path not in _CACHE:
        module, _, attr = path.partition(":")
        _CACHE[path] = getattr(importlib.import_module(module), attr)
    return _CACHE[path]


@dataclass(frozen=True)
class ChunkTask:
    """A chunk of runs for one worker call."""

    hooks: Hooks
    months: int | None
    #: (run_id, point, seed) per run.
    runs: tuple[tuple[str, int, int], ...]
    #: The validated scenario of each design point in the chunk, as model_dump(mode="json").
    scenarios: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The sweep lifted the size limits (--allow-large).
    allow_large: bool = False


@dataclass
class RunOutcome:
    run_id: str
    error: str | None
    outcomes: dict[str, Any]


@dataclass
class ChunkResult:
    runs: list[RunOutcome]
    #: model.parquet rows of the chunk's successful runs, with a leading run_id column.
    timeseries: pa.Table | None


def describe(exc: BaseException) -> str:
    """An error in one line: the type and the message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Run every run of the chunk; a run that raises is recorded with its error."""
    scenario_class = task.hooks.resolve("scenario_class")
    simulate = task.hooks.resolve("simulate")
    if multiprocessing.parent_process() is not None:  # a worker process (not a caller's own process)
        runtime.settle()
    outcomes: list[RunOutcome] = []
    tables: list[pa.Table] = []
    for rid, point, seed in task.runs:
        try:
            scenario = scenario_class.model_validate(
                task.scenarios[point], context={"allow_large": task.allow_large}
            )
            # (the outcomes and the model table do not read the top customers' shares, a costly figure)
            result = simulate(scenario, seed, months=task.months)
            row = extract(result.model, result.agents)
            model = result.model
            tables.append(
                model.add_column(0, "run_id", pa.array([rid] * model.num_rows, pa.string()))
            )
        except Exception as exc:  # noqa: BLE001 - one run's failure must not stop the sweep
            outcomes.append(RunOutcome(rid, describe(exc), {}))
            continue
        outcomes.append(RunOutcome(rid, None, row))
    timeseries = pa.concat_tables(tables, promote_options="permissive") if tables else None
    return ChunkResult(outcomes, timeseries)
