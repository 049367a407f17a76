"""Bilateral negotiation of a capacity contract: time-dependent concession (Faratin et al. 1998).

The seller opens at its ask and concedes towards its reservation price; the buyer opens at its bid
and concedes towards its ceiling. In round r of R the seller offers
``res + (ask - res) * (1 - (r/R) ** (1/e_s))`` and the buyer bids ``bid + (ceil - bid) * (r/R) ** (1/e_b)``.
An exponent below one concedes late (tough, "Boulware"); above one concedes early ("conceder").
A tight market makes the seller tough and the buyer soft; rival offers make the buyer tough.
The deal closes at the midpoint in the first round where the bid reaches the offer; if none does,
both walk away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from market.compiled import kernels


@dataclass(slots=True)
class Outcome:
    signed: bool
    price: float
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (seller offer, buyer bid) per round
    reason: str = ""


def exponents(tightness: float, rival_offers: int, tightness_weight: float, outside_weight: float) -> tuple[float, float]:
    """Concession exponents (seller, buyer). ``tightness`` is demand over supply (1 = balanced)."""
    e_s = math.exp(-tightness_weight * (tightness - 1.0))
    e_b = math.exp(tightness_weight * (tightness - 1.0) - outside_weight * max(0, rival_offers - 1))
    return max(0.05, min(20.0, e_s)), max(0.05, min(20.0, e_b))


def seller_offer(reservation: float, ask: float, r: int, rounds: int, e_s: float) -> float:
    return reservation + (ask - reservation) * (1.0 - (r / rounds) ** (1.0 / e_s))


def buyer_bid(bid: float, ceiling: float, r: int, rounds: int, e_b: float) -> float:
    return bid + (ceiling - bid) * (r / rounds) ** (1.0 / e_b)


def negotiate(reservation: float, ask: float, bid: float, ceiling: float, rounds: int, e_s: float,
              e_b: float) -> Outcome:
    """Alternate offers for ``rounds`` rounds after the opening (round 0)."""
    out = Outcome(False, float("nan"))
    if ceiling < reservation:
        out.reason = "ceiling below the seller's reservation price"
        # still record the opening so the walk-away is visible
        out.rounds.append((ask, bid))
        return out
    for r in range(rounds + 1):
        s = seller_offer(reservation, ask, r, rounds, e_s)
        b = buyer_bid(bid, ceiling, r, rounds, e_b)
        out.rounds.append((s, b))
        if b >= s:
            out.signed = True
            out.price = 0.5 * (s + b)
            return out
    out.reason = "no agreement in the rounds allowed"
    return out


def _quote_rows(rows, qty, spare_kw, mw_lead, rate, t, first, gpu_wait, gpu_lead, kw_per_gpu, capex, term, life_cap,
                econ_life, residual, obsolescence, pue, kwh_price, opex, hours, margin, ask_factor, delay_penalty,
                trust_price, trust_weight, trust, start_out, res_out, ask_out, score_out):  # pragma: no cover - compiled
    """Each seller's quote for one request, as ``Exchange._negotiate`` states it seller by seller:
    the earliest start (``Exchange.earliest_start``: NVIDIA's queue and lead time, given here as
    ``gpu_wait`` (the backlog ahead, over the output, or -1 for GPUs that need no wait beyond a
    month) and ``gpu_lead``; and the build time of any MW the seller lacks), the reservation price
    (``Exchange.reservation_price``), the ask and the buyer's score of the offer. ``rows`` index the
    providers' arrays (``life_cap``, ``pue``, ``kwh_price``, ``opex``, ``margin``, ``trust``); the
    other per-seller inputs are given in the sellers' order."""
    for j in range(rows.shape[0]):
        i = rows[j]
        q = qty[j]
        # earliest_start
        if gpu_wait[0] < 0.0:
            gpu_ready = t + 1
        else:
            if gpu_wait[1] <= t:  # launched: queue behind the backlog
                wait = math.ceil((gpu_wait[2] + q) / gpu_wait[0])
            else:
                wait = int(gpu_wait[1]) - t
            gpu_ready = t + max(1, wait) + 1 + gpu_lead
        power_ready = t if spare_kw[j] >= q * kw_per_gpu else t + mw_lead[j]
        start = max(first, max(gpu_ready, power_ready))
        start_out[j] = start
        # reservation_price
        r = rate[j]
        life = float(term)
        if life_cap[i] < life:
            life = life_cap[i]
        if econ_life < life:
            life = econ_life
        frac = min(max(life, 0.0), econ_life) / econ_life  # market_value_per_gpu, one newer generation
        left = capex * (1.0 - (1.0 - residual) * frac) * (1.0 - obsolescence) ** 1.0
        recover = capex - left / (1.0 + r / 12.0) ** life
        mr = r / 12.0
        if life <= 0:  # annuity
            payment = recover
        elif mr <= 0:
            payment = recover / life
        else:
            payment = recover * mr / (1.0 - (1.0 + mr) ** (-life))
        full = payment / hours + (kw_per_gpu * pue[i] * kwh_price[i] + opex[i])
        res = full * (1.0 + margin[i])
        res_out[j] = res
        ask = res * ask_factor
        ask_out[j] = ask
        delay = start - first
        if delay < 0:
            delay = 0
        score_out[j] = ask * (1.0 + delay_penalty * delay) - trust_price * (trust_weight * trust[i])


_compiled = kernels(quotes=_quote_rows)


def quote_rows(rows, qty, spare_kw, mw_lead, rate, t, first, gpu_wait, gpu_lead, kw_per_gpu, capex, term, life_cap,
               econ_life, residual, obsolescence, pue, kwh_price, opex, hours, margin, ask_factor, delay_penalty,
               trust_price, trust_weight, trust, start_out, out) -> None:
    """Sellers' quotes for one request (see ``_quote_rows``): starts into ``start_out``; reservation
    prices, asks and scores into the rows of ``out``."""
    _compiled().quotes(rows, qty, spare_kw, mw_lead, rate, t, first, gpu_wait, gpu_lead, kw_per_gpu, capex, term,
                       life_cap, econ_life, residual, obsolescence, pue, kwh_price, opex, hours, margin, ask_factor,
                       delay_penalty, trust_price, trust_weight, trust, start_out, out[0], out[1], out[2])


def warm_up() -> None:
    """Load the compiled quotes now (argument types as the exchange passes them)."""
    i, one = np.zeros(1, dtype=np.int64), np.ones(1)
    _compiled().quotes(i, i, one, i, one, 0, 0, np.array([1.0, 0.0, 0.0]), 1, 1.0, 1.0, 36, one, 72.0, 0.1, 0.2, one,
                       one, one, 730.0, one, 1.1, 0.01, 0.1, 0.5, one, i.copy(), np.zeros(1), np.zeros(1), np.zeros(1))
