"""The short-term (on-demand and spot) market, vectorised over buyers x offers.

Each buyer considers ``K`` offers (its consideration set). It splits its demand among them by a
logit rule on a score (price, trust, switching cost). Offers with less capacity than is asked of
them fill every request in the same proportion; the unmet part goes round again among offers with
capacity left, for ``rounds`` rounds.

:func:`clear` is the rule compiled with Numba: two passes over the (buyers, K) arrays a round,
which is what lets ten thousand buyers clear in a few milliseconds. :func:`clear_reference` is the
same rule written with whole-array numpy operations; it is the readable statement of the rule,
and the tests hold the compiled one to it.
"""

from __future__ import annotations

import numpy as np

from market import portable
from market.compiled import kernels


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

    ``offer_idx`` (buyers x K) names the offers each buyer considers (-1: none) and ``score``
    (buyers x K) how much it likes each. Returns ``served`` (buyers x K, units bought from each
    considered offer) and ``capacity_left`` (per offer). Conserves quantity: served sums to at
    most demand per buyer and at most capacity per offer.
    """
    idx = np.ascontiguousarray(offer_idx, dtype=np.int64)
    # the scores do not change between rounds, only which offers have capacity left: take the
    # exponentials once (numpy's exp is vectorised), shifted by each row's best valid score
    k = _compiled()
    e = portable.exp(k.shifted(idx, np.ascontiguousarray(score, dtype=np.float64)))
    return k.rounds(np.ascontiguousarray(demand, dtype=np.float64), idx, e,
                    np.ascontiguousarray(capacity, dtype=np.float64), int(rounds))


def _shifted(offer_idx, score):  # pragma: no cover - compiled
    """Each valid score less its row's best valid score; -inf where there is no offer."""
    n, K = offer_idx.shape
    out = np.full((n, K), -np.inf)
    for i in range(n):
        top = -np.inf
        for k in range(K):
            if offer_idx[i, k] >= 0 and score[i, k] > top:
                top = score[i, k]
        if top == -np.inf:
            continue
        for k in range(K):
            if offer_idx[i, k] >= 0:
                out[i, k] = score[i, k] - top
    return out


def _clear_rounds(demand, offer_idx, e, capacity, rounds):  # pragma: no cover - compiled
    n, K = offer_idx.shape
    n_offers = capacity.shape[0]
    want_left = demand.copy()
    cap_left = capacity.copy()
    served = np.zeros((n, K))
    total_demand = 0.0
    for i in range(n):
        total_demand += demand[i]
    total_demand = max(1e-9, total_demand)
    asked = np.zeros((n, K))
    # the buyers still in the market: those that want more and consider an offer with capacity
    # left (offers only ever close, so a buyer that drops out stays out)
    active = np.arange(n)
    n_active = n
    for _ in range(rounds):
        open_offer = cap_left > 1e-9
        total_asked = np.zeros(n_offers)
        wanted = 0.0
        kept = 0
        for j in range(n_active):
            i = active[j]
            w = want_left[i]
            if w <= 0.0:
                continue
            wanted += w
            tot = 0.0
            for k in range(K):
                o = offer_idx[i, k]
                if o >= 0 and open_offer[o]:
                    tot += e[i, k]
            if tot <= 0.0:
                continue
            active[kept] = i
            kept += 1
            per = w / tot
            for k in range(K):
                o = offer_idx[i, k]
                if o >= 0 and open_offer[o]:
                    a = e[i, k] * per
                    asked[i, k] = a
                    total_asked[o] += a
        n_active = kept
        if n_active == 0 or wanted <= 1e-9:
            break
        fill = np.ones(n_offers)
        for o in range(n_offers):
            if total_asked[o] > cap_left[o]:
                fill[o] = cap_left[o] / total_asked[o]
        got_total = 0.0
        sold = np.zeros(n_offers)
        still = 0
        for j in range(n_active):
            i = active[j]
            w = want_left[i]
            got_i = 0.0
            for k in range(K):
                o = offer_idx[i, k]
                if o >= 0 and open_offer[o]:
                    g = asked[i, k] * fill[o]
                    served[i, k] += g
                    sold[o] += g
                    got_i += g
            want_left[i] = max(w - got_i, 0.0)
            got_total += got_i
            if want_left[i] > 0.0:
                still += 1
        for o in range(n_offers):
            cap_left[o] = max(cap_left[o] - sold[o], 0.0)
        if got_total <= 1e-3 * total_demand:
            break  # (nearly) no more progress: what is left cannot be matched
        if still == 0:
            break
    return served, cap_left


def offer_scores(offer_idx: np.ndarray, price: np.ndarray, offer_custom: np.ndarray, offer_trust: np.ndarray,
                 switching: np.ndarray, trust_value: np.ndarray, max_price: np.ndarray,
                 beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Each buyer's score for each offer it considers (buyers x K, with ``offer_idx``): see
    :func:`offer_scores_reference`, the same rule in numpy. Returns (index of the offers it may
    buy from, -1 elsewhere; score)."""
    return _compiled().scores(np.ascontiguousarray(offer_idx, dtype=np.int64), np.asarray(price, dtype=float),
                              np.asarray(offer_custom, dtype=np.bool_), np.asarray(offer_trust, dtype=float),
                              np.asarray(switching, dtype=float), np.asarray(trust_value, dtype=float),
                              np.asarray(max_price, dtype=float), float(beta))


def _offer_scores(offer_idx, price, offer_custom, offer_trust, switching, trust_value, max_price,
                  beta):  # pragma: no cover - compiled
    """Each buyer's score for each offer it considers: -beta x log(price x (1 + switching cost
    if the offer is custom silicon)) + beta x the buyer's trust value for the provider (in $ per
    GPU-hour) as a share of that price. Offers without a price, or priced above the buyer's
    maximum, are dropped (-1 in the returned index)."""
    n, K = offer_idx.shape
    ok_idx = np.full((n, K), -1, dtype=np.int64)
    score = np.zeros((n, K))
    base = np.maximum(price, 1e-6)
    # on a GPU offer the score is a[o] + trust value x b[o]: take both once per offer
    a = -beta * np.log(base)
    b = beta * offer_trust / base
    for i in range(n):
        tv = trust_value[i]
        cap = max_price[i]
        sw = 1.0 + switching[i]
        for k in range(K):
            o = offer_idx[i, k]
            if o < 0:
                continue
            if offer_custom[o]:  # custom silicon: its price carries the buyer's switching cost
                pr = base[o] * sw
                score[i, k] = -beta * np.log(pr) + beta * (tv * offer_trust[o]) / pr
            else:
                pr = base[o]
                score[i, k] = a[o] + tv * b[o]
            if price[o] > 0 and pr <= cap:
                ok_idx[i, k] = o
    return ok_idx, score


def offer_scores_reference(offer_idx: np.ndarray, price: np.ndarray, offer_custom: np.ndarray,
                           offer_trust: np.ndarray, switching: np.ndarray, trust_value: np.ndarray,
                           max_price: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Score = -beta x ln(p~) + beta x trust value x provider trust / p~, where p~ is the offer's
    price (at least 1e-6) times 1 + the buyer's switching cost on custom silicon. Offers without a
    price, or with p~ above the buyer's maximum, are dropped (-1)."""
    valid = offer_idx >= 0
    safe = np.where(valid, offer_idx, 0)
    pr = np.maximum(price, 1e-6)[safe] * (1.0 + np.where(offer_custom[safe], switching[:, None], 0.0))
    score = -beta * np.log(pr) + beta * (trust_value[:, None] * offer_trust[safe]) / pr
    ok = valid & (price[safe] > 0) & (pr <= max_price[:, None])
    return np.where(ok, offer_idx, -1), np.where(valid, score, 0.0)


def warm_up() -> None:
    """Load the compiled kernels now (a user interface can do this while the user reads)."""
    clear(np.ones(1), np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1)), np.ones(1))
    offer_scores(np.zeros((1, 1), dtype=np.int64), np.ones(1), np.zeros(1, dtype=bool), np.ones(1), np.zeros(1),
                 np.zeros(1), np.ones(1), 1.0)


def clear_reference(demand: np.ndarray, offer_idx: np.ndarray, score: np.ndarray, capacity: np.ndarray,
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
    total_demand = max(1e-9, float(demand.sum()))
    for _ in range(rounds):
        avail = valid & (cap_left[idx] > 1e-9)
        if not avail.any() or want_left.sum() <= 1e-9:
            break
        asked = logit_shares(score, avail) * want_left[:, None]
        total_asked = np.bincount(idx.ravel(), weights=asked.ravel(), minlength=n_offers)
        fill = np.ones(n_offers)
        np.divide(cap_left, total_asked, out=fill, where=total_asked > cap_left)
        got = asked * fill[idx]
        served += got
        want_left = np.maximum(want_left - got.sum(axis=1), 0.0)
        cap_left = np.maximum(cap_left - np.bincount(idx.ravel(), weights=got.ravel(), minlength=n_offers), 0.0)
        if got.sum() <= 1e-3 * total_demand or not (want_left > 0).any():
            break  # (nearly) no more progress, or every buyer is served
    return served, cap_left


def price_response(base: np.ndarray, price: float, reference: np.ndarray, elasticity: np.ndarray) -> np.ndarray:
    """Constant-elasticity demand: base x (price / reference) ^ -elasticity."""
    return base * portable.power(price / reference, -elasticity)


_compiled = kernels(shifted=_shifted, rounds=_clear_rounds, scores=_offer_scores)
