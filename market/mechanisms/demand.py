"""Demand with limits: adoption that saturates, and training projects a lab's means must carry.

Both rules work on numbers or element-wise on arrays (one entry per buyer).
"""

from __future__ import annotations

import numpy as np


def adoption(t, growth, ceiling):
    """End-user adoption at month ``t`` as a multiple of its month-0 level: a logistic curve that
    starts at 1, grows at ``growth`` a month at the start and saturates at ``ceiling`` (a multiple
    of the month-0 level; infinite: no ceiling, and the curve is (1 + growth)^t).

        r    = ln(1 + growth) x K / (K - 1)          (so that the growth at month 0 is ``growth``)
        A(t) = K / (1 + (K - 1) x exp(-r t))

    A ceiling of 1 holds adoption at 1. A negative growth makes the curve fall towards 0, as
    (1 + growth)^t does."""
    t = np.asarray(t, dtype=float)
    g = np.log1p(np.asarray(growth, dtype=float))
    k = np.asarray(ceiling, dtype=float)
    bounded = np.isfinite(k) & (k > 1.0)
    ks = np.where(bounded, k, 2.0)  # (a harmless stand-in where the formula is not used)
    r = g * ks / (ks - 1.0)
    logistic = ks / (1.0 + (ks - 1.0) * np.exp(-r * t))
    free = np.exp(g * t)
    return np.where(bounded, logistic, np.where(np.isfinite(k), 1.0, free))


def affordable_project(planned, income, committed, budget_share, fee_per_gpu):
    """GPUs of a lab's next training project its means can carry: the planned size, or less when
    its contract fees would pass ``budget_share`` of its monthly income (funding plus end-user
    revenue). The headroom, budget_share x income - fees already committed for that month, pays
    ``fee_per_gpu`` a month per GPU; a lab without headroom stalls (0 GPUs):

        gpus = min(planned, max(0, budget_share x income - committed) / fee_per_gpu)"""
    headroom = np.maximum(0.0, np.asarray(budget_share) * income - committed)
    return np.minimum(planned, headroom / np.maximum(fee_per_gpu, 1e-9))
