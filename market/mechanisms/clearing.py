"""The short-term (on-demand and spot) market, vectorised over buyers x offers.

Each buyer considers ``K`` offers (its consideration set). It splits its demand among them by a
logit rule on a score (price, trust, switching cost). Offers with less capacity than is asked of
them fill every request in the same proportion; the unmet part goes round again among offers with
capacity left, for ``rounds`` rounds.

Everything is whole-array numpy over (buyers, K), so ten thousand buyers clear in a few
milliseconds.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np


def logit_weights(score: np.ndarray, available: np.ndarray) -> np.ndarray:
    """exp(score) over the entries where ``available`` is true, shifted by each row's best score
    (so nothing overflows; each row's logit shares are its weights over their sum), 0 elsewhere.
    (Each row's best is taken column by column, K - 1 whole-column maxima, and exp never sees
    -inf: both much faster than their row-wise forms, with the same numbers.)"""
    top = functools.reduce(np.maximum, np.where(available, score, -np.inf).T)
    top = np.where(np.isfinite(top), top, 0.0)[:, None]
    return np.exp(np.fmin(score - top, 0.0)) * available


def row_sums(a: np.ndarray) -> np.ndarray:
    """The sum of each row, column after column: on ten thousand rows of a dozen offers about 3x
    faster than numpy's ``sum(axis=1)`` (which loops over each short row); small or wide arrays
    are left to numpy. The two can differ in the last bit: a sum's order is not part of any rule."""
    n = a.shape[1]
    if n > 128 or n == 0 or a.shape[0] < 500:
        return a.sum(axis=1)
    return functools.reduce(np.add, [a[:, j] for j in range(1, n)], a[:, 0].copy())


def consideration(offer_idx: np.ndarray, offer_custom: np.ndarray, offer_trust: np.ndarray) -> SimpleNamespace:
    """The buyers' consideration sets (buyers x K, ``idx``: the offers, -1: none) as
    :func:`offer_terms` reads them: ``safe`` (0 for none), ``valid``, and each offer's custom
    silicon flag and provider trust (from ``offer_custom``, ``offer_trust``), per buyer and offer.
    They change only with the sets: kept for a run (``Exchange.clear_short_term``)."""
    safe = np.maximum(offer_idx, 0)
    return SimpleNamespace(idx=offer_idx, safe=safe, valid=offer_idx >= 0, custom=np.take(offer_custom, safe),
                           trust=np.take(offer_trust, safe))


def offer_terms(consider: SimpleNamespace, switching: np.ndarray, trust_value: np.ndarray) -> SimpleNamespace:
    """What :func:`price_scores` needs of each buyer and offer it considers (``consider``, from
    :func:`consideration`) whatever the prices: the offers (``idx``, ``safe``, ``valid``),
    1 + the buyer's switching cost on custom silicon, ln(1 + switching) on custom silicon, and
    trust value x the provider's trust."""
    custom = consider.custom
    # (x 1 and + 0 where the offer is not custom silicon: masks multiplied in, faster than np.where)
    return SimpleNamespace(idx=consider.idx, safe=consider.safe, valid=consider.valid,
                           markup=1.0 + switching[:, None] * custom,
                           log_markup=np.log(1.0 + switching)[:, None] * custom,
                           trust=trust_value[:, None] * consider.trust)


def price_scores(terms: SimpleNamespace, price: np.ndarray, max_price: np.ndarray,
                 beta: float) -> tuple[np.ndarray, np.ndarray]:
    """Each buyer's score for each offer it considers (buyers x K; ``terms`` from
    :func:`offer_terms`, whatever the prices): -beta x ln(p~) + beta x trust value x provider
    trust / p~, where p~ is the offer's ``price`` (at least 1e-6) times 1 + the buyer's switching
    cost on custom silicon. Returns (index of the offers it may buy from: offers without a price,
    or with p~ above the buyer's maximum, are dropped as -1; score, which means nothing where the
    index is -1)."""
    safe = terms.safe
    base = np.maximum(price, 1e-6)
    pr = np.take(base, safe) * terms.markup
    # ln p~ = ln price + ln(1 + switching) on custom silicon: the logarithms taken once per offer and buyer
    log_pr = np.take(np.log(base), safe) + terms.log_markup
    score = beta * (terms.trust / pr - log_pr)
    ok = terms.valid & np.take(price > 0, safe) & (pr <= max_price[:, None])
    return np.where(ok, terms.idx, -1), score


def short_term(s: SimpleNamespace, sold_hours_g: np.ndarray, own_sold_hours_g: np.ndarray) -> SimpleNamespace:
    """The month's short-term market. ``s`` holds the providers' running, committed and resold
    GPUs and their on-demand and spot prices (providers x generations), which providers trade
    (``live``), the offers (provider row ``prow``, custom silicon or not), the generations
    (NVIDIA or not, inference throughput ``inf``, ``hours`` a month), and the buyers' consideration
    sets (``consider``, from :func:`consideration`, kept by the caller), demand, contracted hours, cash, the
    market price, spot share, switching cost, trust value, maximum price, the logit ``beta`` and
    the clearing ``rounds``.

    Each provider offers its idle GPUs (running less those serving contracts, plus what it
    resells) as one product and its custom silicon as another, priced per H100-equivalent hour at
    the capacity-weighted mean of its generations' prices. Buyers' demand left after contracts,
    capped by their cash at the market price, is split into on-demand and spot; on-demand clears
    first (:func:`price_scores`, :func:`clear`), then spot on the capacity left. Sellers' physical
    hours sold are added to ``sold_hours_g`` and, for their own fleet's share, ``own_sold_hours_g``."""
    idle, own_share, w, cap, p_od, p_spot = _offers(s)
    prow = s.prow
    # demand left after contracts, capped by cash, split into on-demand and spot
    left = np.maximum(0.0, s.demand_eq - s.contract_eq)
    left = np.minimum(left, np.maximum(0.0, s.cash) / s.price)
    spot_dem = left * s.spot_frac
    od_dem = left - spot_dem
    served = []
    cap_left = cap
    excess = np.zeros(cap.size)
    terms = offer_terms(s.consider, s.switching, s.trust_value)  # (the same for both prices)
    for price, dem in ((p_od, od_dem), (p_spot, spot_dem)):
        ok_idx, score = price_scores(terms, price, s.max_price, s.beta)
        asked, open_cap = np.zeros(cap.size), cap_left
        got, cap_left = clear(dem, ok_idx, score, cap_left, s.rounds, asked)
        excess += turned_away(asked, open_cap)
        served.append(got)
    served_od, served_sp = served
    safe = s.consider.safe
    pay, spend = _afford(served_od, served_sp, np.take(p_od, safe), np.take(p_spot, safe), np.maximum(0.0, s.cash))
    bought_k = served_od + served_sp
    sold_eq = np.bincount(safe.ravel(), weights=bought_k.ravel(), minlength=prow.size)
    bought = row_sums(bought_k)
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
        spend=spend, sold_eq=sold_eq, gap=np.maximum(0.0, od_dem + spot_dem - bought), phys=phys,
        own_phys=own_phys, st_eq_p=st_eq_p, inference_bought=float(np.dot(bought, inf_frac)), excess=excess)


def _afford(served_od: np.ndarray, served_sp: np.ndarray, od_k: np.ndarray, spot_k: np.ndarray,
            cash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each buyer pays each offer (buyers x K, at its on-demand and spot prices ``od_k``,
    ``spot_k``) and in all. Demand was capped by cash at the market's average price; a buyer whose
    offers cost more than its ``cash`` buys only what its cash pays for (each purchase in the same
    proportion: ``served_od`` and ``served_sp`` are cut in place on those rows alone)."""
    pay = served_od * od_k + served_sp * spot_k  # (nothing is served where a buyer has no offer)
    spend = row_sums(pay)
    short = np.flatnonzero(spend > cash)
    if short.size:
        afford = (cash[short] / spend[short])[:, None]
        served_od[short] *= afford
        served_sp[short] *= afford
        pay[short] = served_od[short] * od_k[short] + served_sp[short] * spot_k[short]
        spend[short] = row_sums(pay[short])
    return pay, spend


def _offers(s: SimpleNamespace) -> tuple[np.ndarray, ...]:
    """The providers' idle GPUs (providers x generations) and their own fleet's share of them; each
    offer's mix of generations (offers x generations), capacity in H100-equivalent hours, and
    on-demand and spot prices per H100-equivalent hour (:func:`short_term`)."""
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
    return idle, own_share, w, cap, np.sum(w * od0[prow] / s.inf, axis=1), np.sum(w * spot0[prow] / s.inf, axis=1)


def turned_away(asked: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Demand each offer turns away at its price, per unit of its capacity: what buyers ask of it
    before any is rationed (``asked``: the first round of :func:`clear`, by their logit shares
    over the offers with capacity), less its capacity, over its capacity; 0 where it can serve all
    it is asked (or has no capacity)."""
    return np.divide(np.maximum(0.0, asked - capacity), capacity, out=np.zeros(capacity.size), where=capacity > 1e-9)


def clear(demand: np.ndarray, offer_idx: np.ndarray, score: np.ndarray, capacity: np.ndarray,
          rounds: int = 10, asked_first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Match ``demand`` (per buyer) to ``capacity`` (per offer). ``offer_idx`` (buyers x K) names
    the offers each buyer considers (-1: none) and ``score`` (buyers x K) how much it likes each.
    Each round, every buyer still wanting asks its offers with capacity left for its unmet demand
    split by the logit shares of its scores; an offer asked for more than it has fills every
    request in the same proportion (:func:`_ask_and_fill`). Returns ``served`` (buyers x K, units
    bought from each considered offer) and ``capacity_left`` (per offer); ``asked_first`` (per
    offer), if given, receives what the first round asked of each offer.
    Conserves quantity: served sums to at most demand per buyer and at most capacity per offer.
    The rounds work on the rows of the buyers still in the market (``rows``), cut down only when
    a quarter of them have left: a buyer served in full, or with no offer open, asks nothing
    meanwhile. "No offer" is an extra offer ``n_offers`` that is always closed. A round's weights
    and gathers are written into two buffers made once a call, not into fresh arrays each round."""
    n_offers = capacity.shape[0]
    valid = offer_idx >= 0
    weight = logit_weights(score, valid)
    cap_left = capacity.astype(float).copy()
    want = demand.astype(float)
    total_demand = max(1e-9, float(want.sum()))
    rows = np.flatnonzero(want > 0)  # buyers in the market (offers only ever close)
    ia, wt = np.where(valid, offer_idx, n_offers), weight
    if rows.size < want.size:
        ia, wt, want = ia[rows], wt[rows], want[rows]
    served, got_k = np.zeros(offer_idx.shape), np.zeros(ia.shape)
    bufs = np.empty(ia.size), np.empty(ia.size)
    for k in range(rounds):
        w, on = (b[: ia.size].reshape(ia.shape) for b in bufs)
        np.take(np.append(cap_left > 1e-9, False).astype(float), ia, out=on, mode="clip")  # 1: open, 0: closed
        tot = row_sums(np.multiply(wt, on, out=w))
        faint = np.flatnonzero((tot < 1e-250) & (want > 0))  # its liked offers closed and the rest
        faint = faint[(on[faint] > 0).any(axis=1)]  # underflow: its logit weights again, shifted by
        if faint.size:  # its best offer still open
            w[faint] = logit_weights(score[rows[faint]], on[faint] > 0)
            tot[faint] = w[faint].sum(axis=1)
        live = (tot > 0) & (want > 0)
        if not live.any():
            break
        sold = _ask_and_fill(w, on, ia, np.divide(want, tot, out=np.zeros(tot.size), where=live), cap_left,
                             asked_first if k == 0 else None)
        got_k += w
        got_b = row_sums(w)
        want = np.maximum(want - got_b, 0.0)
        cap_left = np.maximum(cap_left - sold, 0.0)
        if got_b[live].sum() <= 1e-3 * total_demand:
            break  # (nearly) no more progress: what is left cannot be matched
        stay = live & (want > 0)
        if 4 * np.count_nonzero(stay) < 3 * stay.size:  # a quarter have left: their rows are done
            gone = ~stay
            served[np.compress(gone, rows)] = np.compress(gone, got_k, axis=0)
            rows, ia, wt, want, got_k = (np.compress(stay, x, axis=0) for x in (rows, ia, wt, want, got_k))
    served[rows] = got_k
    return served, cap_left


def _ask_and_fill(w: np.ndarray, on: np.ndarray, ia: np.ndarray, per_weight: np.ndarray, cap_left: np.ndarray,
                  asked_first: np.ndarray | None) -> np.ndarray:
    """One round of :func:`clear`, in place: each buyer asks ``per_weight`` x its weights ``w``
    of the offers ``ia``; an offer asked for more than its ``cap_left`` fills every request in
    the same proportion. ``w`` becomes what each got (``on``, a buffer, is written); returns what
    each offer sold, and notes what each was asked in ``asked_first`` if given."""
    n_offers = cap_left.size
    w *= per_weight[:, None]
    total_asked = np.bincount(ia.ravel(), weights=w.ravel(), minlength=n_offers + 1)[:n_offers]
    if asked_first is not None:
        asked_first[:] = total_asked
    short = total_asked > cap_left
    if not short.any():
        return total_asked  # (every offer fills what it is asked)
    fill = np.ones(n_offers + 1)
    np.divide(cap_left, total_asked, out=fill[:n_offers], where=short)
    w *= np.take(fill, ia, out=on, mode="clip")
    return np.bincount(ia.ravel(), weights=w.ravel(), minlength=n_offers + 1)[:n_offers]


def price_response(base: np.ndarray, price: float, reference: np.ndarray, elasticity: np.ndarray) -> np.ndarray:
    """Constant-elasticity demand: base x (price / reference) ^ -elasticity."""
    return base * (price / reference) ** -elasticity
