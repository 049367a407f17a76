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

from types import SimpleNamespace

import numpy as np

from market import portable
from market.compiled import kernels
from market.portable import pairwise_sum


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


# ---------------------------------------------------------------------------------------------
# The whole month's short-term market: offers from idle capacity, demand left after contracts,
# the two passes (on-demand, then spot) and what was sold. ``short_term_reference`` states it in
# numpy; ``short_term`` is the same compiled into one call, its sums added in numpy's order.


def short_term_reference(s: SimpleNamespace, sold_hours_g: np.ndarray, own_sold_hours_g: np.ndarray) -> SimpleNamespace:
    """The month's short-term market. ``s`` holds the providers' running, committed and resold
    GPUs and their on-demand and spot prices (providers x generations), which providers trade
    (``live``), the offers (provider row ``prow``, custom silicon or not, trust), the generations
    (NVIDIA or not, inference throughput ``inf``, ``hours`` a month), and the buyers' consideration
    sets (``idx``, -1: none; ``safe``: the same with 0 there), demand, contracted hours, cash, the
    market price, spot share, switching cost, trust value, maximum price, the logit ``beta`` and
    the clearing ``rounds``.

    Each provider offers its idle GPUs (running less those serving contracts, plus what it
    resells) as one product and its custom silicon as another, priced per H100-equivalent hour at
    the capacity-weighted mean of its generations' prices. Buyers' demand left after contracts,
    capped by their cash at the market price, is split into on-demand and spot; on-demand clears
    first (:func:`offer_scores`, :func:`clear`), then spot on the capacity left. Sellers' physical
    hours sold are added to ``sold_hours_g`` and, for their own fleet's share, ``own_sold_hours_g``."""
    own_idle = np.maximum(0.0, s.running - s.committed)
    idle = np.where(s.live[:, None] & ~np.isnan(s.od), own_idle + s.resale, 0.0)
    own_share = np.divide(own_idle, idle, out=np.zeros_like(idle), where=idle > 0)
    prow = s.prow
    gmask = np.where(s.custom[:, None], ~s.nvidia[None, :], s.nvidia[None, :])
    eq = idle[prow] * gmask * (s.hours * s.inf)
    cap = eq.sum(axis=1)
    w = np.divide(eq, cap[:, None], out=np.zeros_like(eq), where=cap[:, None] > 0)
    od0 = np.where(np.isnan(s.od), 0.0, s.od)  # (unpriced generations have no idle capacity: weight 0)
    spot0 = np.where(np.isnan(s.spot), 0.0, s.spot)
    p_od = np.sum(w * od0[prow] / s.inf, axis=1)
    p_spot = np.sum(w * spot0[prow] / s.inf, axis=1)
    # demand left after contracts, capped by cash, split into on-demand and spot
    left = np.maximum(0.0, s.demand_eq - s.contract_eq)
    left = np.minimum(left, np.maximum(0.0, s.cash) / s.price)
    spot_dem = left * s.spot_frac
    od_dem = left - spot_dem
    served = []
    cap_left = cap
    for price, dem in ((p_od, od_dem), (p_spot, spot_dem)):
        ok_idx, score = offer_scores(s.idx, price, s.custom, s.trust, s.switching, s.trust_value, s.max_price, s.beta)
        got, cap_left = clear(dem, ok_idx, score, cap_left, s.rounds)
        served.append(got)
    served_od, served_sp = served
    safe = s.safe
    pay = served_od * p_od[safe] + served_sp * p_spot[safe]  # (nothing is served where a buyer has no offer)
    bought_k = served_od + served_sp
    sold_eq = np.bincount(safe.ravel(), weights=bought_k.ravel(), minlength=prow.size)
    bought = bought_k.sum(axis=1)
    # physical GPU-hours by provider and generation: each offer's sales split over its mix
    phys = np.zeros_like(idle)
    np.add.at(phys, prow, sold_eq[:, None] * w / s.inf)
    own_phys = phys * own_share
    st_eq_p = np.bincount(prow, weights=sold_eq, minlength=idle.shape[0])
    sellers = np.flatnonzero(st_eq_p > 0)
    sold_hours_g[sellers] += phys[sellers]
    own_sold_hours_g[sellers] += own_phys[sellers]
    # each buyer's purchases that served inference, by its inference share of need
    inf_frac = np.clip(np.divide(s.inference_eq, s.demand_eq, out=np.ones(s.demand_eq.size),
                                 where=s.demand_eq > 0), 0.0, 1.0)
    return SimpleNamespace(
        p_od=p_od, p_spot=p_spot, served_od=served_od, served_sp=served_sp, cap_left=cap_left, pay=pay,
        spend=pay.sum(axis=1), sold_eq=sold_eq, gap=np.maximum(0.0, od_dem + spot_dem - bought), phys=phys,
        own_phys=own_phys, st_eq_p=st_eq_p, inference_bought=portable.dot(bought, inf_frac))


def short_term(s: SimpleNamespace, sold_hours_g: np.ndarray, own_sold_hours_g: np.ndarray) -> SimpleNamespace:
    """:func:`short_term_reference` in one compiled call: the same results, to the bit."""
    n, K = s.idx.shape
    P, G = s.running.shape
    if K > 128 or G > 128:  # (the kernel adds up to 128 terms in numpy's order)
        return short_term_reference(s, sold_hours_g, own_sold_hours_g)
    n_offers = s.prow.shape[0]
    o = SimpleNamespace(p_od=np.empty(n_offers), p_spot=np.empty(n_offers), served_od=np.empty((n, K)),
                        served_sp=np.empty((n, K)), cap_left=np.empty(n_offers), pay=np.empty((n, K)),
                        spend=np.empty(n), sold_eq=np.empty(n_offers), gap=np.empty(n), phys=np.empty((P, G)),
                        own_phys=np.empty((P, G)), st_eq_p=np.empty(P))
    o.inference_bought = _compiled().month(
        s.running, s.committed, s.resale, s.od, s.spot, s.live, s.prow, s.custom, s.trust, s.nvidia, s.inf,
        float(s.hours), s.idx, s.safe, s.demand_eq, s.contract_eq, s.cash, float(s.price), s.spot_frac, s.switching,
        s.trust_value, s.max_price, float(s.beta), int(s.rounds), s.inference_eq, sold_hours_g, own_sold_hours_g,
        o.p_od, o.p_spot, o.served_od, o.served_sp, o.cap_left, o.pay, o.spend, o.sold_eq, o.gap, o.phys, o.own_phys,
        o.st_eq_p)
    return o


def _month(running, committed, resale, od, spot, live, prow, custom, trust, nvidia, inf, hours, idx, safe,
           demand_eq, contract_eq, cash, price, spot_frac, switching, trust_value, max_price, beta, rounds,
           inference_eq, sold_hours_g, own_sold_hours_g, p_od, p_spot, served_od, served_sp, cap_left, pay, spend,
           sold_eq, gap, phys, own_phys, st_eq_p):  # pragma: no cover - compiled
    P, G = running.shape
    n, K = idx.shape
    n_offers = prow.shape[0]
    # idle capacity by provider and generation, and the share of it that is the provider's own
    idle = np.empty((P, G))
    own_share = np.empty((P, G))
    for i in range(P):
        for g in range(G):
            x = running[i, g] - committed[i, g]
            own = 0.0 if 0.0 >= x else x  # (numpy's maximum(0.0, x))
            v = own + resale[i, g] if live[i] and not np.isnan(od[i, g]) else 0.0
            idle[i, g] = v
            own_share[i, g] = own / v if v > 0 else 0.0
    # offers: capacity in equivalent hours, the mix of generations, and the mean prices
    eq = np.empty((n_offers, G))
    w = np.empty((n_offers, G))
    cap = np.empty(n_offers)
    buf = np.empty(G)
    for o in range(n_offers):
        r = prow[o]
        for g in range(G):
            on = (not nvidia[g]) if custom[o] else nvidia[g]
            eq[o, g] = (idle[r, g] * (1.0 if on else 0.0)) * (hours * inf[g])
        cap[o] = pairwise_sum(eq[o], G)
        for g in range(G):
            w[o, g] = eq[o, g] / cap[o] if cap[o] > 0 else 0.0
        for g in range(G):
            price_g = od[r, g]
            buf[g] = w[o, g] * (0.0 if np.isnan(price_g) else price_g) / inf[g]
        p_od[o] = pairwise_sum(buf, G)
        for g in range(G):
            price_g = spot[r, g]
            buf[g] = w[o, g] * (0.0 if np.isnan(price_g) else price_g) / inf[g]
        p_spot[o] = pairwise_sum(buf, G)
    # demand left after contracts, capped by cash at the market price, split into on-demand and spot
    od_dem = np.empty(n)
    spot_dem = np.empty(n)
    for b in range(n):
        x = demand_eq[b] - contract_eq[b]
        left = 0.0 if 0.0 >= x else x
        c = cash[b]
        y = (0.0 if 0.0 >= c else c) / price
        left = left if (left <= y or np.isnan(left)) else y  # (numpy's minimum)
        sp = left * spot_frac[b]
        spot_dem[b] = sp
        od_dem[b] = left - sp
    # on-demand first, then spot on the capacity left
    for b in range(n_offers):
        cap_left[b] = cap[b]
    for p in range(2):
        prices = p_od if p == 0 else p_spot
        dem = od_dem if p == 0 else spot_dem
        ok_idx, score = _offer_scores(idx, prices, custom, trust, switching, trust_value, max_price, beta)
        e = _shifted(ok_idx, score)
        for b in range(n):
            for k in range(K):
                e[b, k] = np.exp(e[b, k])
        got, left_after = _clear_rounds(dem, ok_idx, e, cap_left, rounds)
        out = served_od if p == 0 else served_sp
        for b in range(n):
            for k in range(K):
                out[b, k] = got[b, k]
        for b in range(n_offers):
            cap_left[b] = left_after[b]
    # what was bought and paid
    for o in range(n_offers):
        sold_eq[o] = 0.0
    bought_k = np.empty(K)
    inference_bought = 0.0
    for b in range(n):
        for k in range(K):
            o = safe[b, k]
            pay[b, k] = served_od[b, k] * p_od[o] + served_sp[b, k] * p_spot[o]
            bk = served_od[b, k] + served_sp[b, k]
            bought_k[k] = bk
            sold_eq[o] += bk
        bought = pairwise_sum(bought_k, K)
        spend[b] = pairwise_sum(pay[b], K)
        x = od_dem[b] + spot_dem[b] - bought
        gap[b] = 0.0 if 0.0 >= x else x
        frac = inference_eq[b] / demand_eq[b] if demand_eq[b] > 0 else 1.0
        frac = frac if frac > 0.0 else 0.0  # (numpy's clip: max, then min)
        frac = frac if frac < 1.0 else 1.0
        inference_bought += bought * frac
    # physical GPU-hours sold by provider and generation (each offer's sales split over its mix)
    for i in range(P):
        st_eq_p[i] = 0.0
        for g in range(G):
            phys[i, g] = 0.0
    for o in range(n_offers):
        for g in range(G):
            phys[prow[o], g] += sold_eq[o] * w[o, g] / inf[g]
    for i in range(P):
        for g in range(G):
            own_phys[i, g] = phys[i, g] * own_share[i, g]
    for o in range(n_offers):
        st_eq_p[prow[o]] += sold_eq[o]
    for i in range(P):
        if st_eq_p[i] > 0:
            for g in range(G):
                sold_hours_g[i, g] += phys[i, g]
            for g in range(G):
                own_sold_hours_g[i, g] += own_phys[i, g]
    return inference_bought


def warm_up() -> None:
    """Load the compiled kernels now (a user interface can do this while the user reads)."""
    clear(np.ones(1), np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1)), np.ones(1))
    offer_scores(np.zeros((1, 1), dtype=np.int64), np.ones(1), np.zeros(1, dtype=bool), np.ones(1), np.zeros(1),
                 np.zeros(1), np.ones(1), 1.0)
    one, none = np.ones((1, 1)), np.zeros(1, dtype=np.int64)
    s = SimpleNamespace(running=one, committed=one, resale=one, od=one, spot=one, live=np.ones(1, dtype=bool),
                        prow=none, custom=np.zeros(1, dtype=bool), trust=np.ones(1), nvidia=np.ones(1, dtype=bool),
                        inf=np.ones(1), hours=1.0, idx=np.zeros((1, 1), dtype=np.int64),
                        safe=np.zeros((1, 1), dtype=np.int64), demand_eq=np.ones(1), contract_eq=np.zeros(1),
                        cash=np.ones(1), price=1.0, spot_frac=np.zeros(1), switching=np.zeros(1),
                        trust_value=np.zeros(1), max_price=np.ones(1), beta=1.0, rounds=1, inference_eq=np.ones(1))
    short_term(s, np.zeros((1, 1)), np.zeros((1, 1)))


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


_compiled = kernels((pairwise_sum, _offer_scores, _shifted, _clear_rounds), shifted=_shifted, rounds=_clear_rounds,
                    scores=_offer_scores, month=_month)
