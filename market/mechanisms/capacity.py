"""Capacity plans: how many GPUs a provider orders and how many MW it builds, from its expected
demand, its contracted backlog, its power pipeline and its funding.

Every function works on all providers at once: one row per provider (and one column per GPU
generation where a quantity is by generation).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def growth_gpus(st_sold_eq: np.ndarray, growth_target: np.ndarray, horizon: np.ndarray,
                target_utilisation: np.ndarray, short_term_share: np.ndarray, need: np.ndarray, supply: np.ndarray,
                inf: np.ndarray, inf_planned: np.ndarray, hours: float) -> np.ndarray:
    """GPUs of the planned generation that expected short-term demand needs ``horizon`` months
    ahead beyond the fleet coming: last month's short-term sales (H100-equivalent hours) grown at
    ``growth_target`` a month over the horizon and held at ``target_utilisation``, less the
    equivalent hours of the supply (``supply``, GPUs by generation) that contracts do not need
    (``need``), in GPUs of the planned generation (``inf_planned`` equivalent hours an hour each).
    At most what keeps the capacity without a contract within ``short_term_share`` of the whole
    fleet coming, growth included (a contract-first provider builds for its backlog: with free
    capacity F, fleet S and share s, growth G satisfies F + G <= s (S + G), so G <= (s S - F) /
    (1 - s); a share of 1 sets no limit). Never below zero."""
    target = st_sold_eq * (1.0 + growth_target) ** horizon / np.maximum(target_utilisation, 0.05)
    free = (np.maximum(0.0, supply - need) * inf).sum(axis=1) * hours
    fleet = (supply * inf).sum(axis=1) * hours
    room = np.divide(short_term_share * fleet - free, 1.0 - short_term_share, out=np.full(free.size, np.inf),
                     where=short_term_share < 1.0)
    return np.maximum(0.0, np.minimum(target - free, room)) / (inf_planned * hours)


class Plan(NamedTuple):
    """A month's capacity plan, one row per provider."""

    orders: np.ndarray  # GPUs ordered, by generation (whole units)
    mw: np.ndarray  # MW to start building
    beyond_mw: np.ndarray  # MW of the GPUs ordered that the power ready by their arrival cannot run


def plan(shortfall: np.ndarray, growth: np.ndarray, planned: np.ndarray, unit_capex: np.ndarray,
         power_kw: np.ndarray, budget: np.ndarray, ready_mw: np.ndarray, supply_kw: np.ndarray,
         power_overbook: np.ndarray, mw_wanted: np.ndarray, mw_cost: np.ndarray) -> Plan:
    """The capacity plan that follows the market (``ProviderBook.plan_capacity`` works out its
    inputs). The orders may need at most the power ready by the GPUs' arrival,
    ``ready_mw`` x 1000 x (1 + ``power_overbook``) kW, less the kW of the fleet coming
    (``supply_kw``): with ``power_overbook`` 0 no GPU is ordered to wait dark for power; above 0
    it is the share of the ready power a provider orders beyond, and those GPUs are dark until
    power comes (they depreciate and are financed meanwhile). Within that and the ``budget``
    (cash above the buffer plus what lenders would still advance):

    1. **Contracts** first: the GPUs signed contracts need beyond the fleet coming
       (``shortfall``, by generation), scaled down in proportion to what the budget pays for and
       the power room runs (a contract the provider cannot power in time is delivered late).
    2. **Growth**: ``growth`` GPUs of the ``planned`` generation, at most what the budget and the
       power room have left.
    3. **Power**: the ``mw_wanted`` MW are built as far as the budget left after the orders pays
       for them at ``mw_cost`` per MW.

    GPUs are ordered in whole units (rounded down). ``beyond_mw`` is the part of the orders the
    ready power cannot run: the kW of the fleet coming and the orders past ``ready_mw`` x 1000, at
    most the kW ordered, in MW."""
    n = budget.size
    budget = np.maximum(0.0, budget)
    room_kw = np.maximum(0.0, ready_mw * 1000.0 * (1.0 + power_overbook) - supply_kw)
    spend, kw = shortfall @ unit_capex, shortfall @ power_kw
    fit = np.minimum.reduce([np.ones(n), np.divide(budget, spend, out=np.ones(n), where=spend > 0),
                             np.divide(room_kw, kw, out=np.ones(n), where=kw > 0)])
    contract = shortfall * fit[:, None]
    left = np.maximum(0.0, budget - contract @ unit_capex)
    room_kw = np.maximum(0.0, room_kw - contract @ power_kw)
    grow = np.maximum(0.0, np.minimum.reduce([growth, left / unit_capex[planned], room_kw / power_kw[planned]]))
    orders = contract
    orders[np.arange(n), planned] += grow
    orders = np.floor(orders)
    left = np.maximum(0.0, left - grow * unit_capex[planned])
    mw = np.maximum(0.0, np.minimum(mw_wanted, np.divide(left, mw_cost, out=np.full(n, np.inf), where=mw_cost > 0)))
    ordered_kw = orders @ power_kw
    beyond = np.minimum(np.maximum(0.0, supply_kw + ordered_kw - ready_mw * 1000.0), ordered_kw) / 1000.0
    return Plan(orders, mw, beyond)


def mw_wanted(need: np.ndarray, supply: np.ndarray, growth: np.ndarray, planned: np.ndarray, power_kw: np.ndarray,
              mw_buffer: np.ndarray, powered_mw: np.ndarray, building_mw: np.ndarray) -> np.ndarray:
    """MW to start building now, so that power is ready for the fleet expected when a build
    started now finishes: each generation's larger of the contracted need (``need``, the most
    GPUs contracts need up to then) and the fleet coming (``supply``), plus the ``growth`` GPUs of
    the ``planned`` generation that expected short-term demand needs then, at their kW, with
    ``mw_buffer`` to spare, less the MW powered and under construction. Never below zero."""
    kw = np.maximum(need, supply) @ power_kw + growth * power_kw[planned]
    return np.maximum(0.0, kw / 1000.0 * (1.0 + mw_buffer) - powered_mw - building_mw)
