"""Book depreciation and the market value of GPUs (the collateral)."""

from __future__ import annotations

import numpy as np


def straight_line(cost: np.ndarray, booked: np.ndarray, life_months: float, installed: np.ndarray) -> np.ndarray:
    """This month's depreciation of each cohort of assets of ``cost`` with ``booked`` depreciation
    to date: cost / life for an ``installed`` cohort, until its book value (cost - booked) is gone."""
    return np.where(installed, np.minimum(cost / life_months, np.maximum(0.0, cost - booked)), 0.0)


def accumulated(cost: np.ndarray, life_months: float, age_months: np.ndarray) -> np.ndarray:
    """Depreciation accumulated after ``age`` months: cost x min(age, life) / life."""
    return cost * np.minimum(np.maximum(age_months, 0), life_months) / life_months


def market_value_per_gpu(capex, age_months, economic_life: float, residual: float, newer_generations,
                         obsolescence: float, months_left=np.inf, monthly_margin=np.inf, monthly_rate=0.0):
    """What a used GPU fetches: its capital cost, falling linearly to ``residual`` x cost over the
    economic life, and times (1 - obsolescence) for each newer NVIDIA generation already shipped;
    but never more than what it still earns in its second life (:func:`earnings_value` of
    ``monthly_margin`` over the ``months_left`` of its useful life), so a GPU at the end of its
    useful life, or one that earns nothing above its cash cost, is worth nothing. Without a
    margin (the defaults) the schedule alone. Works on numbers or element-wise on arrays."""
    frac = np.clip(age_months, 0.0, economic_life) / economic_life
    linear = 1.0 - (1.0 - residual) * frac
    schedule = capex * linear * (1.0 - obsolescence) ** np.asarray(newer_generations, dtype=float)
    return np.fmin(schedule, earnings_value(monthly_margin, months_left, monthly_rate))


def earnings_value(monthly_margin, months_left, monthly_rate):
    """What a GPU still earns: ``monthly_margin`` (rent earned less cash cost; none if negative)
    for each of the ``months_left`` of its useful life, discounted at ``monthly_rate``:
    margin x (1 - (1 + r)^-n) / r (margin x n at no interest). NaN margin (no rent known): inf."""
    margin = np.maximum(np.asarray(monthly_margin, dtype=float), 0.0)
    n = np.maximum(np.asarray(months_left, dtype=float), 0.0)
    r = np.maximum(np.asarray(monthly_rate, dtype=float), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        factor = np.where(r > 0, -np.expm1(-n * np.log1p(r)) / np.where(r > 0, r, 1.0), n)
        value = np.where(np.isnan(margin), np.inf, margin * factor)
    return np.where(n <= 0, 0.0, value)
