"""Providers' price-setting rules. Every price is $ per GPU-hour of one generation."""

from __future__ import annotations

from dataclasses import dataclass


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
