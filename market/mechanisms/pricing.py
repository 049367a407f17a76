"""Providers' price-setting rules. Every price is $ per GPU-hour of one generation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market.compiled import kernels


@dataclass(slots=True)
class PriceInputs:
    """What a provider knows when it sets the price of one generation for the month."""

    full_cost: float  # capital recovery + power + site operations, per GPU-hour
    cash_cost: float  # power + site operations, per GPU-hour
    previous: float  # last month's on-demand price (nan if none)
    utilisation: float  # last month's utilisation of this generation
    rival_min: float  # cheapest rival on-demand price for the generation (nan if none)
    value_cap: float  # what the generation's work is worth at newer generations' prices (inf if newest)


def floor_price(inp: PriceInputs, min_margin: float) -> float:
    """No provider prices below its cash cost times 1 + min_margin."""
    return inp.cash_cost * (1.0 + min_margin)


def cost_plus(inp: PriceInputs, markup: float) -> float:
    """Full cost times 1 + markup."""
    return inp.full_cost * (1.0 + markup)


def undercut(inp: PriceInputs, gap: float, markup: float, target: float) -> float:
    """Match-or-undercut: with idle capacity (utilisation below ``target``) the cheapest rival's
    price less ``gap``; when full, match the cheapest rival or hold its own price, whichever is
    higher. Cost-plus when nobody else sells the generation."""
    if inp.rival_min != inp.rival_min:  # nan: nobody else sells it
        return cost_plus(inp, markup) if inp.previous != inp.previous else inp.previous
    if inp.utilisation < target or inp.previous != inp.previous:
        return inp.rival_min * (1.0 - gap)
    return max(inp.rival_min, inp.previous)


def utilisation_target(inp: PriceInputs, target: float, step: float, markup: float) -> float:
    """Last price times 1 + step x (utilisation - target): raise when full, cut when idle."""
    if inp.previous != inp.previous:
        return cost_plus(inp, markup)
    return inp.previous * (1.0 + step * (inp.utilisation - target))


def sticky(inp: PriceInputs, markup: float, band: float) -> float:
    """List prices that move only when the cost-plus target has drifted more than ``band`` away."""
    target = cost_plus(inp, markup)
    if inp.previous != inp.previous:
        return target
    if abs(target / inp.previous - 1.0) > band:
        return target
    return inp.previous


def on_demand(strategy: str, inp: PriceInputs, *, markup: float, gap: float, target: float, step: float,
              band: float, min_margin: float, max_markup: float = float("inf")) -> float:
    """The on-demand price by the named strategy, bounded above by the generation's value cap
    (old GPUs are priced by the inference work they still do) and by full cost x (1 + max_markup),
    and below by the floor."""
    if strategy == "cost_plus":
        p = cost_plus(inp, markup)
    elif strategy == "undercut":
        p = undercut(inp, gap, markup, target)
    elif strategy == "utilisation":
        p = utilisation_target(inp, target, step, markup)
    elif strategy == "sticky":
        p = sticky(inp, markup, band)
    else:
        raise ValueError(f"unknown pricing strategy {strategy!r}")
    p = min(p, inp.value_cap, inp.full_cost * (1.0 + max_markup))
    return max(p, floor_price(inp, min_margin))


def reserved_and_spot(od: float, reserved_discount: float, spot_discount: float, idle_share: float,
                      idle_sensitivity: float, cash_cost: float) -> tuple[float, float]:
    """Reserved = on-demand x (1 - reserved discount). Spot = on-demand x (1 - spot discount -
    sensitivity x idle share), no lower than cash cost and below the reserved price."""
    reserved = od * (1.0 - reserved_discount)
    spot = od * (1.0 - spot_discount - idle_sensitivity * idle_share)
    spot = min(spot, reserved * 0.95)
    return reserved, max(spot, cash_cost)


def full_cost_per_hour(capex_per_gpu: float, life_months: float, annual_rate: float, power_kw: float,
                       pue: float, kwh_price: float, opex_per_hour: float, hours: float) -> float:
    """Cost of one GPU-hour: capital recovered as an annuity over ``life_months`` at
    ``annual_rate``, plus power at the wall x PUE x $/kWh, plus site operations."""
    capital = annuity(capex_per_gpu, annual_rate / 12.0, life_months) / hours
    return capital + cash_cost_per_hour(power_kw, pue, kwh_price, opex_per_hour)


def cash_cost_per_hour(power_kw: float, pue: float, kwh_price: float, opex_per_hour: float) -> float:
    return power_kw * pue * kwh_price + opex_per_hour


def annuity(principal: float, monthly_rate: float, months: float) -> float:
    """Level monthly payment that repays ``principal`` over ``months`` at ``monthly_rate``."""
    if months <= 0:
        return principal
    if monthly_rate <= 0:
        return principal / months
    return principal * monthly_rate / (1.0 - (1.0 + monthly_rate) ** (-months))


# ---------------------------------------------------------------------------------------------
# The rules above for every provider at once, compiled with Numba. ``Provider.set_prices`` states
# the monthly price-setting of one provider with the functions above; ``set_prices_all`` does the
# same for many providers in one call, and the tests hold the two equal. Python's min and max are
# spelled out (first argument kept unless another is strictly smaller or larger) so that NaN
# behaves as it does there.

STRATEGY_CODES = {"cost_plus": 0, "undercut": 1, "utilisation": 2, "sticky": 3}


def _price_rows(rows, monthly_rate, life, have, installed, cost_sum, util, rival, od_m, res_m, spot_m, uncut_m,
                capex_new, cash_cost, initial, hours, premium, order, inf, is_nv, strat, params, cpf, cs_gen,
                cs_disc):  # pragma: no cover - compiled
    """``Provider.set_prices`` for each provider in ``rows``, in place in the price matrices."""
    G = order.shape[0]
    for j in range(rows.shape[0]):
        i = rows[j]
        markup, gap, target, step, band, min_margin, max_markup = (
            params[i, 0], params[i, 1], params[i, 2], params[i, 3], params[i, 4], params[i, 5], params[i, 6])
        r = monthly_rate[j]
        months = life[i]
        best_eq = np.inf  # cheapest newer GPU price per unit of inference work so far
        for k in range(G):
            g = order[k]
            if have[j, g] <= 0.0:
                continue
            capex = cost_sum[i, g] / installed[i, g] if installed[i, g] > 0 else capex_new[g]
            cc = cash_cost[i, g]
            # annuity(capex, r, months)
            if months <= 0:
                payment = capex
            elif r <= 0:
                payment = capex / months
            else:
                payment = capex * r / (1.0 - (1.0 + r) ** (-months))
            full = payment / hours + cc
            prev = od_m[i, g] if is_nv[g] else uncut_m[i, g]
            u = util[i, g]
            ini = initial[i, g]
            if prev != prev and ini == ini:
                p = ini
            else:  # on_demand(strategy, ...)
                s = strat[i]
                if s == 0:  # cost_plus
                    p = full * (1.0 + markup)
                elif s == 1:  # undercut
                    rv = rival[i, g]
                    if rv != rv:
                        p = full * (1.0 + markup) if prev != prev else prev
                    elif u < target or prev != prev:
                        p = rv * (1.0 - gap)
                    else:
                        p = rv
                        if prev > p:
                            p = prev
                elif s == 2:  # utilisation
                    p = full * (1.0 + markup) if prev != prev else prev * (1.0 + step * (u - target))
                else:  # sticky
                    p = full * (1.0 + markup)
                    if prev == prev and not abs(p / prev - 1.0) > band:
                        p = prev
                cap = best_eq * inf[g] * premium if is_nv[g] else np.inf
                if cap < p:
                    p = cap
                top = full * (1.0 + max_markup)
                if top < p:
                    p = top
                floor = cc * (1.0 + min_margin)
                if floor > p:
                    p = floor
            if not is_nv[g]:
                c = cs_gen[i]
                if c >= 0:  # custom silicon: at least cs_disc below the cheapest GPU per unit of work
                    low = np.nan
                    for h in range(G):
                        if is_nv[h] and od_m[i, h] == od_m[i, h]:
                            q = od_m[i, h] / inf[h]
                            if low != low or q < low:
                                low = q
                    if low == low:
                        v = low * inf[c] * (1.0 - cs_disc[i])
                        if v < p:
                            p = v
                uncut_m[i, g] = p
                p *= cpf[i]
            # reserved_and_spot
            idle = 1.0 - u
            if not idle > 0.0:
                idle = 0.0
            reserved = p * (1.0 - params[i, 7])
            spot = p * (1.0 - params[i, 8] - params[i, 9] * idle)
            if reserved * 0.95 < spot:
                spot = reserved * 0.95
            if cc > spot:
                spot = cc
            res_m[i, g] = reserved
            spot_m[i, g] = spot
            od_m[i, g] = p
            if is_nv[g]:
                q = p / inf[g]
                if q < best_eq:
                    best_eq = q


_compiled = kernels(price_rows=_price_rows)


def set_prices_all(rows, monthly_rate, life, have, book, capex_new, cash_cost, initial, hours, premium, order, inf,
                   is_nv, strat, params, cpf, cs_gen, cs_disc) -> None:
    """Set on-demand, reserved and spot prices in place in ``book`` (a ``ProviderBook``) for the
    providers in ``rows``; ``monthly_rate`` and ``have`` (GPUs to sell, by generation) are given
    per row, the rest per provider. ``params`` columns: markup, undercut gap, target
    utilisation, step, sticky band, min margin, max markup, reserved discount, spot discount,
    spot idle sensitivity."""
    _compiled().price_rows(rows, monthly_rate, life, have, book.installed, book.cost_sum, book.util_g, book.rival_min, book.od,
                book.res, book.spot, book.custom_uncut, capex_new, cash_cost, initial, hours, premium, order, inf,
                is_nv, strat, params, cpf, cs_gen, cs_disc)


def warm_up() -> None:
    """Load the compiled pricing now (argument types as the engine passes them)."""
    z, one = np.zeros((1, 1)), np.ones(1)
    _compiled().price_rows(np.zeros(1, dtype=np.int64), one, one, z, z, z, z, z, z.copy(), z.copy(), z.copy(), z.copy(), one, z,
                z, 1.0, 1.0, np.zeros(1, dtype=np.int64), one, np.ones(1, dtype=bool), np.zeros(1, dtype=np.int64),
                np.zeros((1, 10)), one, np.zeros(1, dtype=np.int64), one)
