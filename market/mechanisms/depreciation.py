"""Book depreciation and the market value of GPUs (the collateral)."""

from __future__ import annotations

import numpy as np


def straight_line(cost: np.ndarray, life_months: float, age_months: np.ndarray) -> np.ndarray:
    """This month's depreciation of assets of ``cost`` and ``age``: cost / life while age < life."""
    return np.where(age_months < life_months, cost / life_months, 0.0)


def accumulated(cost: np.ndarray, life_months: float, age_months: np.ndarray) -> np.ndarray:
    """Depreciation accumulated after ``age`` months: cost x min(age, life) / life."""
    return cost * np.minimum(np.maximum(age_months, 0), life_months) / life_months


def market_value_per_gpu(capex, age_months, economic_life: float, residual: float, newer_generations,
                         obsolescence: float):
    """What a used GPU fetches: its capital cost, falling linearly to ``residual`` x cost over the
    economic life, and times (1 - obsolescence) for each newer NVIDIA generation already shipped.
    Works on numbers or element-wise on arrays."""
    frac = np.clip(age_months, 0.0, economic_life) / economic_life
    linear = 1.0 - (1.0 - residual) * frac
    return capex * linear * (1.0 - obsolescence) ** np.asarray(newer_generations, dtype=float)
