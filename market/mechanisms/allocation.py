"""NVIDIA's allocation of scarce output among open orders."""

from __future__ import annotations

import numpy as np


def allocate(output: float, requested: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Split ``output`` units among orders of size ``requested``.

    Each order receives output in proportion to ``weights * requested`` (pro-rata when weights are
    all one), never more than it asked for; what a capped order leaves is shared again among the
    rest (water-filling). If output covers every order, each gets what it asked for.
    """
    req = np.asarray(requested, dtype=float)
    alloc = np.zeros_like(req)
    if output <= 0 or req.size == 0:
        return alloc
    if float(req[req > 0].sum()) <= output:
        return np.maximum(req, 0.0)  # output covers every order
    w = np.ones_like(req) if weights is None else np.asarray(weights, dtype=float)
    left = float(output)
    open_ = req > 0
    while left > 1e-9 and open_.any():
        claim = np.where(open_, w * req, 0.0)
        total = claim.sum()
        if total <= 0:
            break
        share = left * claim / total
        room = req - alloc
        give = np.minimum(share, room)
        alloc += give
        left -= give.sum()
        open_ = open_ & (room - give > 1e-9)
    return alloc


def seniority_weights(weights: np.ndarray, waited: np.ndarray, seniority: float) -> np.ndarray:
    """Allocation weights that grow with the months an order has ``waited``: ``weights`` x
    (1 + ``seniority`` x months). At 0 every open order shares alike (by its policy weight), so
    orders placed later dilute earlier ones; the higher, the nearer to first come, first served,
    so that a start date quoted from the queue holds."""
    return np.asarray(weights, dtype=float) * (1.0 + seniority * np.asarray(waited, dtype=float))


def allocate_many(outputs: np.ndarray, requested: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """:func:`allocate` of several outputs, in whole units: output ``k`` is split among the orders
    ``starts[k]:starts[k + 1]`` of ``requested`` and ``weights``, each order's share rounded down,
    and the units the rounding left over go one each to the orders with the largest remainders
    (the first in the book among equals), so that a small order is not starved by rounding."""
    req = np.asarray(requested, dtype=float)
    w = np.asarray(weights, dtype=float)
    alloc = np.zeros(req.size)
    for k in range(len(outputs)):
        lo, hi = starts[k], starts[k + 1]
        share = allocate(outputs[k], req[lo:hi], w[lo:hi])
        whole = np.floor(share)
        left = int(np.floor(share.sum() + 1e-9) - whole.sum())
        if left > 0:
            room = whole + 1.0 <= req[lo:hi] + 1e-9
            order = np.argsort(-np.where(room, share - whole, -1.0), kind="stable")[:left]
            whole[order[room[order]]] += 1.0
        alloc[lo:hi] = whole
    return alloc


def policy_weight(policy: str, partner: bool, rival_silicon: bool, partner_weight: float) -> float:
    """The allocation weight of one buyer's orders under NVIDIA's policy. ``pro_rata``: every order
    alike. ``partner_priority``: NVIDIA's partners (equity stakes, backstops) weigh
    ``partner_weight`` times as much. ``no_rival_silicon``: buyers that build no competing silicon
    weigh ``partner_weight`` times as much."""
    if policy == "pro_rata":
        return 1.0
    if policy == "partner_priority":
        return float(partner_weight) if partner else 1.0
    if policy == "no_rival_silicon":
        return 1.0 if rival_silicon else float(partner_weight)
    raise ValueError(f"unknown allocation policy {policy!r}")


def nvidia_prices(list_price: list[float], backlog_units: list[float], output_units: list[float],
                  nvidia: list[bool], old: list[float], target_months: float, sensitivity: float,
                  floor: float, cap: float) -> list[float]:
    """:func:`nvidia_price` of each NVIDIA generation (``old`` kept for the others), on lists."""
    out = list(old)
    for g, nv in enumerate(nvidia):
        if nv:
            out[g] = nvidia_price(list_price[g], backlog_units[g], output_units[g], target_months, sensitivity,
                                  floor, cap)
    return out


def nvidia_price(list_price: float, backlog_units: float, output_units: float, target_months: float,
                 sensitivity: float, floor: float, cap: float) -> float:
    """NVIDIA's unit price: list price times 1 + sensitivity x (backlog in months of output - target),
    held within [floor, cap] x list price."""
    if output_units <= 0:
        months = target_months
    else:
        months = backlog_units / output_units
    factor = 1.0 + sensitivity * (months - target_months)
    return list_price * min(cap, max(floor, factor))


def delivery_wait(queue: np.ndarray, cum_output: np.ndarray) -> np.ndarray:
    """Months of output it takes to ship a queue of ``queue`` units (numbers or an array), where
    ``cum_output[k]`` is the generation's cumulative output over the next ``k + 1`` months:
    the first ``k + 1`` with ``cum_output[k] >= queue``, at least 1; past the horizon, the rest at
    the last month's rate, at most a year more (the horizon plus a year: not in sight). NVIDIA
    ships every month's output pro rata over its open orders, so an order waits, in effect,
    for the whole queue ahead of it and beside it."""
    queue = np.asarray(queue, dtype=float)
    h = cum_output.size
    k = np.searchsorted(cum_output, queue, side="left") + 1
    if (k <= h).all():  # (every queue ships within the horizon)
        return np.maximum(1, k).astype(np.int64)
    last = cum_output[-1] - cum_output[-2] if h > 1 else cum_output[-1]
    with np.errstate(over="ignore"):  # (a last month's output near 0: the rest waits the year's cap)
        more = np.minimum(np.ceil(np.divide(queue - cum_output[-1], last, out=np.full(queue.shape, 12.0),
                                            where=last > 0)), 12.0)
    beyond = h + more
    return np.maximum(1, np.where(k <= h, k, beyond)).astype(np.int64)
