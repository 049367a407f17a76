"""Serving take-or-pay contracts for a month: each seller's running GPUs of a generation go to
its contracts due in the order they were signed, and each contract's fee is billed in
proportion to what it got. ``market.exchange.Exchange`` moves the money (penalties,
prepayments, fees) through the ledger with the amounts returned.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

# the tallies a month's service adds to (arrays updated in place): the sellers' GPUs committed
# to contracts, their GPU-hours sold (all, and of their own fleet), resellers' contracted GPUs
# (providers x generations), and the buyers' physical and equivalent contracted hours (buyers)
TALLIES = ("committed", "sold_hours_g", "own_sold_hours_g", "resale", "buyer_hours", "contract_eq")


def serve(c: SimpleNamespace, prepaid: np.ndarray, running: np.ndarray, hours_per_month: float,
                    tally: SimpleNamespace, demand_eq: np.ndarray, inference_eq: np.ndarray) -> tuple:
    """Deliveries and bills of the contracts due. ``c`` holds their terms as arrays in signing
    order: the seller's provider row ``srow``, generation ``gen``, ``gpus``, monthly ``fee``,
    ``prepay_share`` (the share of each bill taken from a prepayment), ``resale`` (the buyer is
    a provider, whose provider row is ``brow``; else ``brow`` is its buyer row) and ``perf`` (the
    generation's equivalent hours per hour for the contract's purpose). ``prepaid``: the
    prepayment each has left; ``running``: the sellers' running GPUs (providers x generations).

    A contract gets min(its GPUs, what the seller's earlier contracts of the generation left),
    at least zero; it owes ``fee`` x (delivered / GPUs), of which up to ``prepay_share`` is
    taken from its prepayment. What was delivered is added to the ``tally`` arrays (see
    ``TALLIES``). A buyer's contracted hours serve its training first (its equivalent demand
    ``demand_eq`` less ``inference_eq``) and its inference with the rest.

    Returns (delivered, due, short, from prepayment, to pay, hours delivered, the buyers'
    physical hours that served inference)."""
    srow, gen, gpus = c.srow, c.gen, c.gpus
    key = srow * running.shape[1] + gen
    order = np.argsort(key, kind="stable")
    k, want = key[order], gpus[order]
    before = np.cumsum(want) - want  # GPUs asked by the contracts before, across groups
    first = np.ones(k.size, dtype=bool)
    first[1:] = k[1:] != k[:-1]
    before -= np.maximum.accumulate(np.where(first, before, 0.0))  # ... within the group
    deliver = np.empty(order.size)
    deliver[order] = np.clip(running[srow[order], gen[order]] - before, 0.0, want)
    share = deliver / gpus
    due = c.fee * share
    short = share < 1.0
    use_prepaid = np.minimum(prepaid, due * c.prepay_share)
    hours = deliver * hours_per_month
    own = ~c.resale
    np.add.at(tally.committed, (srow, gen), deliver)
    np.add.at(tally.sold_hours_g, (srow, gen), hours)
    np.add.at(tally.own_sold_hours_g, (srow, gen), hours)
    np.add.at(tally.resale, (c.brow[c.resale], gen[c.resale]), deliver[c.resale])
    np.add.at(tally.buyer_hours, c.brow[own], hours[own])
    np.add.at(tally.contract_eq, c.brow[own], (hours * c.perf)[own])
    # a buyer's contracted capacity serves its running training first and its inference with the rest
    train_eq = np.maximum(0.0, demand_eq - inference_eq)
    train_frac = np.clip(np.divide(train_eq, tally.contract_eq, out=np.zeros(train_eq.size),
                                   where=tally.contract_eq > 0), 0.0, 1.0)
    inference_hours = float(np.dot(tally.buyer_hours, 1.0 - train_frac))
    return deliver, due, short, use_prepaid, due - use_prepaid, hours, inference_hours


def credit_backlogs(seller: np.ndarray, value: np.ndarray, ig: np.ndarray, n_sellers: int) -> np.ndarray:
    """Every seller's backlog from its live contracts' ``seller`` rows, remaining ``value`` and
    whether the buyer is investment grade (``ig``, or the share of it that counts, 0..1): rows
    investment-grade and total backlog."""
    return np.array([np.bincount(seller, weights=value * ig, minlength=n_sellers),
                     np.bincount(seller, weights=value, minlength=n_sellers)])


def top_buyer_shares(seller: np.ndarray, buyer: np.ndarray, value: np.ndarray, n_sellers: int) -> np.ndarray:
    """Each seller's largest buyer's share of its remaining contracted value (0 with none)."""
    left = value > 0
    total = np.bincount(seller[left], weights=value[left], minlength=n_sellers)
    top = np.zeros(n_sellers)
    if left.any():  # (each seller and buyer pair as one key: a 1-d unique, much faster than over pairs' columns)
        s, b = seller[left].astype(np.int64), buyer[left].astype(np.int64)
        b -= b.min()
        span = int(b.max()) + 1
        keys, which = np.unique(s * span + b, return_inverse=True)
        np.maximum.at(top, keys // span, np.bincount(which.ravel(), weights=value[left]))
    return np.divide(top, total, out=np.zeros(n_sellers), where=total > 0)


def promised_gpus(rows: np.ndarray, installed: np.ndarray, in_transit: np.ndarray, on_order: np.ndarray,
                  sched: np.ndarray, t: int, horizon: int) -> np.ndarray:
    """GPUs each provider in ``rows`` has spoken for, by generation: the larger of its fleet with
    what is coming and ordered, and the most GPUs its signed contracts need in any month
    t..t+horizon (``sched``: providers x generations x months)."""
    fleet = installed[rows] + in_transit[rows] + on_order[rows]
    if t < sched.shape[2]:
        fleet = np.maximum(fleet, sched[rows, :, t : t + horizon + 1].max(axis=2))
    return np.maximum(fleet, 0.0)


def promised_kw(rows: np.ndarray, installed: np.ndarray, in_transit: np.ndarray, on_order: np.ndarray,
                sched: np.ndarray, t: int, horizon: int, power_kw: np.ndarray) -> np.ndarray:
    """kW each seller in ``rows`` has spoken for: its :func:`promised_gpus` at each generation's kW."""
    return (promised_gpus(rows, installed, in_transit, on_order, sched, t, horizon) * power_kw).sum(axis=1)
