"""Shared fixtures of the engine's tests (tests/tui and tests/sweep have their own).

Every fixture here is explicit (no autouse), so the UI and sweep suites are unaffected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BASELINE = "baseline-2026"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture
def make_model():
    """``make_model(overrides, months, seed, scenario, keep_ledger)`` -> a stepped MarketModel."""
    from market.model import MarketModel
    from market.scenario import load_scenario

    def _make(overrides=None, months: int = 0, seed: int = 0, scenario: str = BASELINE,
              keep_ledger: bool = False):
        scn = load_scenario(scenario, overrides or {})
        model = MarketModel(scn, seed=seed, keep_ledger=keep_ledger)
        for _ in range(months):
            model.step()
        return model

    return _make


@pytest.fixture
def agents_frame():
    """The agents table of a stepped model as a pandas DataFrame."""
    import pandas as pd

    def _frame(model):
        return pd.DataFrame(model.recorder.agent_table())

    return _frame


@pytest.fixture
def cli():
    """``cli(*args, cwd=..., env=...)``: ``python -m market ARGS`` in a subprocess."""

    def _run(*args: str, cwd: Path | None = None, env: dict | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
        full_env.pop("GPUMARKET_SCENARIOS", None)
        return subprocess.run([sys.executable, "-m", "market", *args], capture_output=True, text=True,
                              cwd=cwd or REPO, env=full_env, timeout=timeout)

    return _run
