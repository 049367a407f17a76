"""Providers' price-setting rules. Every price is $ per GPU-hour of one generation.

Each rule works on numbers or element by element on arrays (one entry per provider), so that the
provider book prices every provider at once with the same statement."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the on-demand pricing strategies, by name (``ProviderSpec.pricing.strategy``)
STRATEGIES = ("cost_plus", "undercut", "utilisation", "sticky", "premium")


@dataclass(slots=True)
class PriceInputs:
    """What a provider knows when it sets the price of one generation for the month."""

    full_cost: float  # capital recovery + power + site operations, per GPU-hour
    cash_cost: float  # power + site operations, per GPU-hour
    previous: float  # last month's on-demand price (nan if none)
    utilisation: float  # last month's utilisation of this generation
    rival_min: float  # cheapest rival on-demand price for the generation (nan if none)
    value_cap: float  # what the generation's work is worth at newer generations' prices (inf if newest)


def floor_price(inp: PriceInputs, min_margin):
    """No provider prices below its cash cost times 1 + min_margin."""
    return inp.cash_cost * (1.0 + min_margin)


def cost_plus(inp: PriceInputs, markup):
    """Full cost times 1 + markup."""
    return inp.full_cost * (1.0 + markup)


def undercut(inp: PriceInputs, gap, markup, target):
    """Match-or-undercut: with idle capacity (utilisation below ``target``) the cheapest rival's
    price less ``gap``; when full, match the cheapest rival or hold its own price, whichever is
    higher. Cost-plus when nobody else sells the generation (then it holds its own price)."""
    first = np.isnan(inp.previous)
    alone = np.where(first, cost_plus(inp, markup), inp.previous)
    answer = np.where((inp.utilisation < target) | first, inp.rival_min * (1.0 - gap),
                      np.fmax(inp.rival_min, inp.previous))
    return np.where(np.isnan(inp.rival_min), alone, answer)


def utilisation_target(inp: PriceInputs, target, step, markup):
    """Last price times 1 + step x (utilisation - target): raise when full, cut when idle."""
    return np.where(np.isnan(inp.previous), cost_plus(inp, markup),
                    inp.previous * (1.0 + step * (inp.utilisation - target)))


def sticky(inp: PriceInputs, markup, band):
    """List prices that move only when the cost-plus target has drifted more than ``band`` away."""
    goal = cost_plus(inp, markup)
    prev = np.asarray(inp.previous, dtype=float)
    known = ~np.isnan(prev) & (prev != 0)
    ratio = np.divide(goal, prev, out=np.zeros(np.broadcast(goal, prev).shape), where=known)
    return np.where(known & (np.abs(ratio - 1.0) <= band), prev, goal)


def scarcity_markup(previous, utilisation, excess_demand, target, speed, most_discount, most_markup):
    """The markup for scarcity a provider puts on its strategy's price, moved each month by
    ``speed`` times the excess demand it saw (a price adjustment, tatonnement-style): where the
    generation ran at or above its ``target`` utilisation, up by ``excess_demand`` (the demand
    turned away, per unit of capacity: the market's unmet share or what its own offers could not
    serve); where it ran below, down by the gap ``target - utilisation`` (its capacity sat
    idle). Kept within [-``most_discount``, ``most_markup``]."""
    signal = np.where(utilisation >= target, excess_demand, utilisation - target)
    return np.clip(previous + speed * signal, -most_discount, most_markup)


def premium(inp: PriceInputs, premium, adjust, markup):
    """Trust and integration priced as a premium over the market (a hyperscaler's list): each month
    ``adjust`` of the way from last month's price to the cheapest rival's times 1 + ``premium``, so
    that the list follows the market slowly; cost-plus when nobody else sells the generation
    (then it holds its own price)."""
    first = np.isnan(inp.previous)
    goal = inp.rival_min * (1.0 + premium)
    moved = np.where(first, goal, inp.previous + adjust * (goal - inp.previous))
    return np.where(np.isnan(inp.rival_min), np.where(first, cost_plus(inp, markup), inp.previous), moved)


def on_demand(strategy, inp: PriceInputs, terms, scarcity=0.0) -> np.ndarray:
    """The on-demand price by the named strategy (one name, or one per entry), times 1 plus the
    ``scarcity`` markup (:func:`scarcity_markup`; ``inp.previous`` is then last month's price
    without last month's markup), bounded above by
    the generation's value cap (old GPUs are priced by the inference work they still do) and by
    full cost x (1 + ``max_markup``), and below by the floor. ``terms``: the strategy's terms by
    their names in the scenario (``ProviderSpec.pricing``: ``markup``, ``undercut``,
    ``target_utilisation``, ``step``, ``sticky_band``, ``premium``, ``adjust``, ``min_margin``,
    ``max_markup``), numbers or
    one per entry."""
    strategy = np.asarray(strategy)
    unknown = ~np.isin(strategy, STRATEGIES)
    if unknown.any():
        raise ValueError(f"unknown pricing strategy {strategy[unknown].flat[0]!r}")
    q = terms
    p = np.select([strategy == s for s in STRATEGIES],
                  [cost_plus(inp, q["markup"]), undercut(inp, q["undercut"], q["markup"], q["target_utilisation"]),
                   utilisation_target(inp, q["target_utilisation"], q["step"], q["markup"]),
                   sticky(inp, q["markup"], q["sticky_band"]), premium(inp, q["premium"], q["adjust"], q["markup"])]
                  ) * (1.0 + np.asarray(scarcity))
    return within_bounds(np.fmin(p, inp.full_cost * (1.0 + q["max_markup"])), inp.value_cap,
                         floor_price(inp, q["min_margin"]))


def within_bounds(price, cap, floor):
    """``price`` no higher than ``cap`` and no lower than ``floor`` (the floor wins). Capping a
    price already within bounds again, at a new cap, is the same as bounding it at that cap first."""
    return np.fmax(np.fmin(price, cap), floor)


def no_faster_fall(price, previous, max_cut):
    """``price``, but no lower than ``(1 - max_cut)`` times last month's ``previous`` price: a
    list falls at most ``max_cut`` of itself in a month, however far its strategy or its caps
    moved (a price never set before, NaN or 0, sets no limit). ``max_cut`` 1 is no limit."""
    return np.fmax(price, np.asarray(previous) * (1.0 - np.asarray(max_cut)))


def reserved_and_spot(od, reserved_discount, spot_discount, idle_share, idle_sensitivity, cash_cost):
    """Reserved = on-demand x (1 - reserved discount). Spot = on-demand x (1 - spot discount -
    sensitivity x idle share), no lower than cash cost and below the reserved price."""
    reserved = od * (1.0 - reserved_discount)
    spot = np.minimum(od * (1.0 - spot_discount - idle_sensitivity * idle_share), reserved * 0.95)
    return reserved, np.maximum(spot, cash_cost)


def full_cost_per_hour(capex_per_gpu, life_months, annual_rate, power_kw, pue, kwh_price, opex_per_hour, hours,
                       site_per_kw_month):
    """Cost of one GPU-hour: capital recovered as an annuity over ``life_months`` at
    ``annual_rate``, plus power at the wall x PUE x $/kWh, plus site operations (the cash cost),
    plus the data centre that houses it (:func:`site_cost_per_hour`)."""
    capital = annuity(capex_per_gpu, annual_rate / 12.0, life_months) / hours
    return (capital + cash_cost_per_hour(power_kw, pue, kwh_price, opex_per_hour)
            + site_cost_per_hour(power_kw, site_per_kw_month, hours))


def cash_cost_per_hour(power_kw, pue, kwh_price, opex_per_hour):
    """What running one GPU for an hour costs in cash: power at the wall x PUE x $/kWh, plus site
    operations. The floor of every price (:func:`floor_price`, the spot price)."""
    return power_kw * pue * kwh_price + opex_per_hour


def site_cost_per_hour(power_kw, per_kw_month, hours):
    """The data centre one GPU occupies, per hour: its kW at the wall x a lease or colocation fee
    (or a builder's shell) per kW a month, over the month's hours. A fixed cost, owed busy or idle:
    in full cost, not in the cash cost that floors a price."""
    return power_kw * per_kw_month / hours


def annuity(principal, monthly_rate, months):
    """Level monthly payment that repays ``principal`` over ``months`` at ``monthly_rate``:
    principal x r / (1 - (1 + r)^-n), with 1 - (1 + r)^-n taken as -expm1(-n log1p(r)) so that a
    rate too small for (1 + r) to differ from 1 still gives principal / n, not a division by 0."""
    principal, monthly_rate, months = (np.asarray(x, dtype=float) for x in (principal, monthly_rate, months))
    r = np.maximum(monthly_rate, 0.0)
    n = np.maximum(months, 1e-300)
    discount = -np.expm1(-n * np.log1p(r))  # 1 - (1 + r)^-n
    plain = np.array(np.broadcast_to(principal / n, np.broadcast(principal, r, n).shape))  # (at no interest)
    level = np.divide(principal * r, discount, out=plain, where=(r > 0) & (discount > 0))
    return np.where(months <= 0, principal, level)
