"""The short-term (on-demand and spot) market, vectorised over buyers x offers.

Each buyer considers ``K`` offers (its consideration set). It splits its demand among them by a
logit rule on a score (price, trust, switching cost). Offers with less capacity than is asked of
them fill every request in the same proportion; the unmet part goes round again among offers with
capacity left, for ``rounds`` rounds. All of it is numpy over (buyers, K) arrays.
"""

from __future__ import annotations

import numpy as np


def logit_shares(score: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``score`` over the entries where ``available`` is true."""
    s = np.where(available, score, -np.inf)
    top = s.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(available, np.exp(s - top), 0.0)
    tot = e.sum(axis=1, keepdims=True)
    return np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)


def clear(demand: np.ndarray, offer_idx: np.ndarray, score: np.ndarray, capacity: np.ndarray,
          rounds: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Match ``demand`` (per buyer) to ``capacity`` (per offer).

    ``offer_idx`` (buyers x K) names the offers each buyer considers and ``score`` (buyers x K) how
    much it likes each. Returns ``served`` (buyers x K, units bought from each considered offer)
    and ``capacity_left`` (per offer). Conserves quantity: served sums to at most demand per buyer
    and at most capacity per offer.
    """
    n_offers = capacity.shape[0]
    want_left = demand.astype(float).copy()
    cap_left = capacity.astype(float).copy()
    served = np.zeros(offer_idx.shape)
    valid = offer_idx >= 0
    idx = np.where(valid, offer_idx, 0)
    # the scores do not change between rounds, only which offers have capacity left: take the
    # exponentials once (shifted by each row's best valid score, as logit_shares does)
    s = np.where(valid, score, -np.inf)
    top = s.max(axis=1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0.0))
    total_demand = max(1e-9, float(demand.sum()))
    n_buyers = want_left.size
    rows = slice(None)  # every buyer; once fewer than half still want, only those
    for _ in range(rounds):
        r_idx = idx[rows]
        avail = valid[rows] & (cap_left[r_idx] > 1e-9)
        want = want_left[rows]
        if not avail.any() or want.sum() <= 1e-9:
            break
        ea = np.where(avail, e[rows], 0.0)
        tot = ea.sum(axis=1, keepdims=True)
        shares = np.divide(ea, tot, out=np.zeros_like(ea), where=tot > 0)
        asked = shares * want[:, None]
        total_asked = np.bincount(r_idx.ravel(), weights=asked.ravel(), minlength=n_offers)
        fill = np.ones(n_offers)
        np.divide(cap_left, total_asked, out=fill, where=total_asked > cap_left)
        got = asked * fill[r_idx]
        served[rows] += got
        want_left[rows] = np.maximum(want - got.sum(axis=1), 0.0)
        cap_left -= np.bincount(r_idx.ravel(), weights=got.ravel(), minlength=n_offers)
        np.maximum(cap_left, 0.0, out=cap_left)
        if got.sum() <= 1e-3 * total_demand:
            break  # (nearly) no more progress: what is left cannot be matched
        still = np.flatnonzero(want_left > 0)
        if still.size == 0:
            break
        rows = still if still.size < n_buyers // 2 else slice(None)
    return served, cap_left


def price_response(base: np.ndarray, price: float, reference: np.ndarray, elasticity: np.ndarray) -> np.ndarray:
    """Constant-elasticity demand: base x (price / reference) ^ -elasticity."""
    return base * np.power(price / reference, -elasticity)
