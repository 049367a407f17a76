"""Bilateral negotiation of a capacity contract: time-dependent concession (Faratin et al. 1998).

The seller opens at its ask and concedes towards its reservation price; the buyer opens at its bid
and concedes towards its ceiling. In round r of R the seller offers
``res + (ask - res) * (1 - (r/R) ** (1/e_s))`` and the buyer bids ``bid + (ceil - bid) * (r/R) ** (1/e_b)``.
An exponent below one concedes late (tough, "Boulware"); above one concedes early ("conceder").
A tight market makes the seller tough and the buyer soft; rival offers make the buyer tough.
The deal closes at the midpoint in the first round where the bid reaches the offer; if none does,
both walk away. The buyer's ceiling is its reservation price (:func:`buyer_reservation`, the cheapest
of its outside options) and the seller's is its own; :func:`walk_away` says who walked and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Outcome:
    signed: bool
    price: float
    rounds: list[tuple[float, float]] = field(default_factory=list)  # (seller offer, buyer bid) per round
    reason: str = ""
    walked: str = ""  # who walked away: "buyer" or "seller"
    option: str = ""  # the buyer's outside option that set its ceiling


def award(score: np.ndarray, qty: np.ndarray, need: int, sensitivity: float, min_share: float,
          max_sellers: int) -> np.ndarray:
    """GPUs of a request of ``need`` the buyer puts to each offer (``score``: the lower, the better;
    ``qty``: what each seller offers at most), best first in the order given. A buyer spreads a large
    commitment over its suppliers (supply risk, bargaining power): each offer's weight is
    ``exp(-sensitivity x (score / best score - 1))``; offers whose weight is under ``min_share`` of
    the total are left out, and any beyond the best ``max_sellers``; the need is split in
    proportion to the weights, each offer capped at its ``qty`` and what it cannot take split
    again among the rest. What is still unplaced goes to the
    offers with room, best first (so a very large ``sensitivity`` gives the whole request to the best
    offer, then the next). Whole GPUs: the fractions' remainders go best first."""
    qty = np.asarray(qty, dtype=float)
    score = np.asarray(score, dtype=float)
    best = score.min() if score.size else 0.0
    w = np.exp(-sensitivity * np.maximum(0.0, score / best - 1.0)) if best > 0 else (score == best).astype(float)
    w = np.where(w >= min_share * w.sum(), w, 0.0)
    w[np.flatnonzero(w > 0)[max_sellers:]] = 0.0
    alloc = np.zeros(qty.size)
    left = float(min(need, qty.sum()))
    open_ = (w > 0) & (qty > 0)
    while left > 1e-9 and open_.any():  # (each pass fills at least one offer or places all that is left)
        take = np.minimum(left * np.where(open_, w, 0.0) / w[open_].sum(), qty - alloc)
        alloc += take
        left -= take.sum()
        open_ &= qty - alloc > 1e-9
    out = np.floor(alloc + 1e-9).astype(np.int64)
    short = int(min(need, qty.sum())) - int(out.sum())
    for i in range(qty.size):  # best first: remainders, then the offers left out or capped
        if short <= 0:
            break
        add = min(short, int(qty[i]) - int(out[i]))
        out[i] += add
        short -= add
    return out


def customer_room(held: float, fleet: float, share: float) -> int:
    """GPUs a seller may still offer one buyer under its concentration limit: the buyer's live
    contracts hold ``held`` GPUs, the seller's fleet is ``fleet`` GPUs (installed, coming and on
    order) and no buyer may hold more than ``share`` of it, counting the offer's own GPUs on both
    sides: the largest q with held + q <= share x (fleet + q), i.e. (share x fleet - held) / (1 - share),
    never below 0. A share of 1 sets no limit (a large number)."""
    if share >= 1.0:
        return 2**62
    return max(0, math.floor((share * fleet - held) / (1.0 - share) + 1e-9))


def buyer_reservation(short_term: float, risk_premium: float, in_house: float, wait: float, wait_months: float,
                      delay_cost: float) -> tuple[float, str]:
    """The buyer's walk-away price per GPU-hour and the outside option that sets it: the cheapest of
    the short-term market (``short_term`` x (1 + ``risk_premium``) for capacity not guaranteed),
    building in-house (``in_house``: the full cost of owning the GPU; inf for a buyer that cannot
    build) and waiting ``wait_months`` for the next generation at ``wait`` per GPU-hour of this one,
    x (1 + ``delay_cost`` per month of waiting). A NaN or inf option is not available."""
    options = {"spot": short_term * (1.0 + risk_premium), "in-house": in_house,
               "wait": wait * (1.0 + delay_cost * max(0.0, wait_months))}
    live = {k: v for k, v in options.items() if v == v and v < math.inf}
    if not live:
        return math.inf, "none"
    name = min(live, key=live.__getitem__)
    return live[name], name


def walk_away(seller_res: float, ceiling: float, reference: float, option: str) -> tuple[str, str]:
    """Who walks away from a negotiation that fails (the buyer's ``ceiling`` below the seller's
    reservation ``seller_res``) and why: the buyer, if its ceiling is below the market's
    ``reference`` price (its outside option beats the market); else the seller, whose reservation
    is above what the market pays."""
    if ceiling < reference:
        return "buyer", f"above its reservation (${seller_res:.2f} > ${ceiling:.2f}, outside option: {option})"
    return "seller", f"below its reservation (${ceiling:.2f} < ${seller_res:.2f})"


def exponents(tightness: float, rival_offers: int, tightness_weight: float, outside_weight: float) -> tuple[float, float]:
    """Concession exponents (seller, buyer). ``tightness`` is demand over supply (1 = balanced)."""
    e_s = math.exp(-tightness_weight * (tightness - 1.0))
    e_b = math.exp(tightness_weight * (tightness - 1.0) - outside_weight * max(0, rival_offers - 1))
    return max(0.05, min(20.0, e_s)), max(0.05, min(20.0, e_b))


def seller_offer(reservation: float, ask: float, r: int, rounds: int, e_s: float) -> float:
    return reservation + (ask - reservation) * (1.0 - (r / rounds) ** (1.0 / e_s))


def buyer_bid(bid: float, ceiling: float, r: int, rounds: int, e_b: float) -> float:
    return bid + (ceiling - bid) * (r / rounds) ** (1.0 / e_b)


def firm_offer(price: float, bid: float, ceiling: float) -> Outcome:
    """A take-it-or-leave-it offer (a human player's answer without a floor): the buyer, opening
    at ``bid``, signs at ``price`` if it is at most its ``ceiling`` and walks away otherwise."""
    if price <= ceiling:
        return Outcome(True, price, [(price, bid)])
    return Outcome(False, float("nan"), [(price, bid)], f"${price:.2f} is above its ceiling")


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
