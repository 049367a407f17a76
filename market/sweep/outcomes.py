"""The outcome figures of one run, as the wide columns of runs.parquet.

Naming: market-wide figures keep the name of their model.parquet column and are taken from
the final month (``avg_price_per_gpu_hour``, ``inference_share``, ``hhi_revenue``, ...).
Per-provider figures are ``<agent>.<field>`` (``CoreWeave.market_share``), taken from the
agent's last row, with ``<agent>.default_month`` the first month it was in default (empty if
never). Providers are the agents of kind ``neocloud`` or ``hyperscaler``. A NaN figure is
stored empty (null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: Agents whose final figures become columns.
PROVIDER_KINDS = ("neocloud", "hyperscaler")

#: Market-wide figures from the final month of model.parquet, in column order.
MARKET_FIELDS = (
    "avg_price_per_gpu_hour",
    "inference_share",
    "hhi_revenue",
    "gpus_installed",
    "demand_gpu_hours",
    "served_gpu_hours",
)

#: Run-level figures that are not in the model table.
RUN_FIELDS: dict[str, pa.DataType] = {"final_month": pa.int64(), "n_defaults": pa.int64()}

#: Per-provider figures, in column order within each provider.
AGENT_FIELDS: dict[str, pa.DataType] = {
    "market_share": pa.float64(),
    "market_value": pa.float64(),
    "cash": pa.float64(),
    "debt": pa.float64(),
    "defaulted": pa.bool_(),
    "default_month": pa.int64(),
}

#: The outcomes `gpumarket report` shows when no --outcome is given.
HEADLINE = ("avg_price_per_gpu_hour", "inference_share", "hhi_revenue", "n_defaults")


def outcome_type(column: str) -> pa.DataType:
    if column in RUN_FIELDS:
        return RUN_FIELDS[column]
    if column in MARKET_FIELDS:
        return pa.float64()
    _, _, fld = column.rpartition(".")
    return AGENT_FIELDS.get(fld, pa.float64())


def outcome_sort_key(column: str) -> tuple[int, str, int]:
    """Market figures first in MARKET_FIELDS order, then providers by name and field order."""
    if column in RUN_FIELDS:
        return (0, "", list(RUN_FIELDS).index(column))
    if column in MARKET_FIELDS:
        return (1, "", MARKET_FIELDS.index(column))
    agent, _, fld = column.rpartition(".")
    fields = list(AGENT_FIELDS)
    return (2, agent, fields.index(fld) if fld in fields else len(fields))


def _float(value: Any) -> float | None:
    """NaN becomes empty: "no value" has one spelling in runs.parquet (and NaN != NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def extract(model: pa.Table, agents: pa.Table) -> dict[str, Any]:
    """The outcome columns of one run from its model and agents tables."""
    out: dict[str, Any] = {}
    months = model.column("month").to_pylist() if model.num_rows else []
    if months:
        last = max(range(len(months)), key=months.__getitem__)
        out["final_month"] = int(months[last])
        names = set(model.column_names)
        for name in MARKET_FIELDS:
            if name in names:
                out[name] = _float(model.column(name)[last].as_py())
    wanted = [c for c in ("month", "agent", "kind", *AGENT_FIELDS) if c in agents.column_names]
    rows = []
    if "kind" in agents.column_names:  # the providers' rows, picked in Arrow (most rows are buyers')
        providers = agents.filter(pc.is_in(agents.column("kind"), value_set=pa.array(PROVIDER_KINDS)))
        rows = providers.select(wanted).to_pylist()
    last_row: dict[str, Mapping[str, Any]] = {}
    first_default: dict[str, int] = {}
    for row in rows:
        name = str(row["agent"])
        if name not in last_row or row["month"] >= last_row[name]["month"]:
            last_row[name] = row
        if row.get("defaulted") and (
            name not in first_default or row["month"] < first_default[name]
        ):
            first_default[name] = int(row["month"])
    for name, row in last_row.items():
        for fld in ("market_share", "market_value", "cash", "debt"):
            out[f"{name}.{fld}"] = _float(row.get(fld))
        out[f"{name}.defaulted"] = bool(row.get("defaulted")) or name in first_default
        out[f"{name}.default_month"] = first_default.get(name)
    out["n_defaults"] = len(first_default)
    return out
