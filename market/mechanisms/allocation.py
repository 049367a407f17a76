"""NVIDIA's allocation of scarce output among open orders."""

from __future__ import annotations

import numpy as np

from market.compiled import kernels
from market.portable import pairwise_sum


def allocate(output: float, requested: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Split ``output`` units among orders of size ``requested``.

    Each order receives output in proportion to ``weights * requested`` (pro-rata when weights are
    all one), never more than it asked for; what a capped order leaves is shared again among the
    rest (water-filling). If output covers every order, each gets what it asked for.

    This is :func:`allocate_reference` compiled with Numba (its sums added in numpy's order, so
    the result is the same to the bit; the tests hold it to that).
    """
    req = np.ascontiguousarray(requested, dtype=np.float64)
    if req.size > 128:  # (the kernel adds up to 128 terms in numpy's order)
        return allocate_reference(output, req, weights)
    w = np.ones(req.size) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    alloc = np.zeros(req.size)
    if output > 0 and req.size:
        _compiled().allocate(float(output), req, w, alloc)
    return alloc


def allocate_many(outputs: np.ndarray, requested: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """:func:`allocate` for several outputs at once, each floored to whole units: output ``k``
    is split among the orders ``starts[k]:starts[k + 1]`` of ``requested`` and ``weights``. One
    compiled call for all (the same results as ``np.floor(allocate(...))`` for each)."""
    req = np.ascontiguousarray(requested, dtype=np.float64)
    w = np.ascontiguousarray(weights, dtype=np.float64)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    outputs = np.ascontiguousarray(outputs, dtype=np.float64)
    alloc = np.zeros(req.size)
    if not _compiled().allocate_many(outputs, req, w, starts, alloc):  # (more than 128 orders of a generation)
        for k in range(outputs.size):
            lo, hi = starts[k], starts[k + 1]
            alloc[lo:hi] = np.floor(allocate(outputs[k], req[lo:hi], w[lo:hi]))
    return alloc


def _allocate_many(outputs, req, w, starts, alloc):  # pragma: no cover - compiled
    """Returns False, having done nothing, where a generation has more than 128 orders (the
    kernel adds up to 128 terms in numpy's order)."""
    for k in range(outputs.shape[0]):
        if starts[k + 1] - starts[k] > 128:
            return False
    for k in range(outputs.shape[0]):
        lo, hi = starts[k], starts[k + 1]
        if outputs[k] > 0 and hi > lo:
            _allocate_kernel(outputs[k], req[lo:hi], w[lo:hi], alloc[lo:hi])
        for i in range(lo, hi):
            alloc[i] = np.floor(alloc[i])
    return True


def allocate_reference(output: float, requested: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """:func:`allocate` written with whole-array numpy operations: the readable statement of the rule."""
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


def policy_weights(policy: str, partner: np.ndarray, rival_silicon: np.ndarray, partner_weight: float) -> np.ndarray:
    """Weights of the allocation policies.

    ``pro_rata``: every order alike. ``partner_priority``: NVIDIA's partners (equity stakes,
    backstops) weigh ``partner_weight`` times as much. ``no_rival_silicon``: buyers that build no
    competing silicon weigh ``partner_weight`` times as much.
    """
    if policy == "pro_rata":
        return np.ones(partner.shape)
    if policy == "partner_priority":
        return np.where(partner, partner_weight, 1.0)
    if policy == "no_rival_silicon":
        return np.where(rival_silicon, 1.0, partner_weight)
    raise ValueError(f"unknown allocation policy {policy!r}")


def policy_weight(policy: str, partner: bool, rival_silicon: bool, partner_weight: float) -> float:
    """One order's entry of :func:`policy_weights` (as a float, like numpy's)."""
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


def _allocate_kernel(output, req, w, alloc):  # pragma: no cover - compiled
    """:func:`allocate_reference` on the arrays, into ``alloc`` (zeros). Each sum is numpy's
    pairwise sum (``portable.pairwise_sum``), so that the result is the same to the bit."""
    n = req.shape[0]
    buf = np.empty(n)
    give = np.empty(n)
    is_open = np.empty(n, dtype=np.bool_)
    # output covers every order: each gets what it asked for
    m = 0
    for i in range(n):
        if req[i] > 0:
            buf[m] = req[i]
            m += 1
    if pairwise_sum(buf, m) <= output:
        for i in range(n):
            alloc[i] = req[i] if req[i] > 0.0 else 0.0
        return
    left = output
    any_open = False
    for i in range(n):
        is_open[i] = req[i] > 0
        any_open = any_open or is_open[i]
    while left > 1e-9 and any_open:
        for i in range(n):
            buf[i] = w[i] * req[i] if is_open[i] else 0.0  # the claims
        total = pairwise_sum(buf, n)
        if total <= 0:
            break
        any_open = False
        for i in range(n):
            share = left * buf[i] / total
            room = req[i] - alloc[i]
            g = room if room < share else share
            give[i] = g
            alloc[i] += g
            is_open[i] = is_open[i] and room - g > 1e-9
            any_open = any_open or is_open[i]
        left -= pairwise_sum(give, n)


# the kernel calls pairwise_sum, inlined into it
_compiled = kernels((pairwise_sum, _allocate_kernel), allocate=_allocate_kernel, allocate_many=_allocate_many)


def warm_up() -> None:
    """Load the compiled allocation now."""
    allocate(1.0, np.array([2.0, 3.0]), np.ones(2))
    allocate_many(np.ones(1), np.array([2.0, 3.0]), np.ones(2), np.array([0, 2]))
