"""A tiny stand-in for the engine, for runner tests that must not depend on the real model:
it raises on demand (``boom``) and can kill its worker process (``die``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from market.errors import UserError
from market.sweep.worker import Hooks

HOOKS = Hooks(
    load_scenario="sweep_fake_engine:load_scenario",
    scenario_class="sweep_fake_engine:Scenario",
    simulate="sweep_fake_engine:simulate",
)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "fake"
    months: int = 12
    growth: float = 0.1
    noise: float = 0.0  # no effect: a dummy for sensitivity tests
    boom: bool = False
    die: bool = False


def load_scenario(ref: str, overrides: Sequence[str] | Mapping[str, object] = ()) -> Scenario:
    if ref != "fake":
        raise UserError(f"{ref}: no such scenario")
    data: dict[str, object] = {}
    items = (
        overrides.items()
        if isinstance(overrides, Mapping)
        else (o.split("=", 1) for o in overrides)
    )
    for key, value in items:
        if key not in Scenario.model_fields:
            raise UserError(f"{key}: unknown key")
        data[key] = value
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"bad value: {exc.errors()[0]['msg']}") from None


class Result:
    def __init__(self, model: pa.Table, agents: pa.Table) -> None:
        self.model, self.agents = model, agents


def simulate(scenario: Scenario, seed: int, months: int | None = None, ledger: bool = False):
    if scenario.boom:
        raise RuntimeError("boom at month 3")
    if scenario.die:
        os._exit(3)
    n = months or scenario.months
    rng = np.random.default_rng(seed)
    price = 2.0 * np.cumprod(1 + scenario.growth + 0.01 * rng.standard_normal(n))
    model = pa.table(
        {
            "month": np.arange(n),
            "avg_price_per_gpu_hour": price,
            "inference_share": np.linspace(0.3, 0.6, n),
            "hhi_revenue": np.full(n, 0.25),
        }
    )
    share = rng.uniform(0.2, 0.8, n)
    rows = []
    for m in range(n):
        for name, s in (("Alpha", share[m]), ("Beta", 1 - share[m])):
            rows.append(
                {
                    "month": m,
                    "agent": name,
                    "kind": "neocloud",
                    "cash": 100.0 * s,
                    "debt": 10.0,
                    "market_share": s,
                    "market_value": None,
                    "defaulted": name == "Beta" and m >= n - 2,
                }
            )
        rows.append(
            {
                "month": m,
                "agent": "Lab",
                "kind": "lab",
                "cash": 1.0,
                "debt": 0.0,
                "market_share": 0.0,
                "market_value": None,
                "defaulted": False,
            }
        )
    return Result(model, pa.Table.from_pylist(rows))
