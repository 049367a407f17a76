"""Scenario events: each kind is a rule that changes the agents' world in its month."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from market import scenario as S
from market.catalogue import NEVER

if TYPE_CHECKING:
    from market.model import MarketModel


def apply(m: MarketModel, e: S.EventSpec) -> None:
    """Apply one event in the current month (its kind's rule) and put it in the news."""
    agents, text = RULES[type(e)](m, e, m.month)
    m.news(f"event:{e.kind}", agents, text + (f". {e.note}" if e.note else ""))


def compute_business_launch(m: MarketModel, e: S.ComputeBusinessLaunch, t: int) -> tuple[list[str], str]:
    """A buyer's compute arm opens for business: it sells its spare capacity (short-term and on
    contracts, as any provider), and its parent brings ``in_house_share`` of its inference and
    of its new training contracts home. The market takes the news through each provider's
    exposure: its sentiment falls by ``news_weight`` x ``in_house_share`` x the buying arm's share
    of its backlog (a provider that does not sell to it loses nothing on the day; it loses what
    the new seller takes from it, through its revenue)."""
    p = m.provider_by_name[e.provider]
    p.active = True
    p.active_from = t
    text = f"{p.name} opens for business and sells its spare capacity to outsiders"
    agents = [p.name]
    if e.buyer:
        b = m.agent_by_name[e.buyer]
        if hasattr(b, "idx"):
            m.buyers.in_house[b.idx] = e.in_house_share
        text += f"; {b.name} brings {e.in_house_share:.0%} of its work in-house"
        agents.append(b.name)
        for q in m.providers:
            total, _, by_buyer = m.exchange.backlog(q.name)
            share = dict(by_buyer).get(b.name, 0.0) / total if total > 0 else 0.0
            q.shock -= e.news_weight * e.in_house_share * share
    return agents, text


def component_cost_rise(m: MarketModel, e: S.ComponentCostRise, t: int) -> tuple[list[str], str]:
    """Systems (networking, cooling, memory) and MW cost ``pct`` more for new clusters."""
    m.cat.system_cost *= 1.0 + e.pct
    for q in m.providers:
        q.mw_cost *= 1.0 + e.pct
    return [], f"Networking, cooling and memory cost {e.pct:+.0%} for new clusters"


def generation_ship(m: MarketModel, e: S.GenerationShip, t: int) -> tuple[list[str], str]:
    """A generation ships now (if not already), its output times ``output_multiplier``."""
    g = m.cat.index[e.generation]
    m.cat.launch[g] = min(int(m.cat.launch[g]), t)
    m.cat.output_multiplier[g] *= e.output_multiplier
    m.cat.reorder()
    return [m.nvidia.name], f"NVIDIA ships {e.generation}; older generations face a newer rival"


def generation_delay(m: MarketModel, e: S.GenerationDelay, t: int) -> tuple[list[str], str]:
    """A generation that has not shipped yet slips ``months``: its launch and end of production
    move later, and so do every later NVIDIA generation's (``successors``: the roadmap slips as a
    whole); its predecessor (the NVIDIA generation launched last before it), if its production
    would end before the new launch, is made until then (NVIDIA keeps its current flagship's lines
    running). Orders and contracts for the generation wait for it; no effect on a generation
    already shipping."""
    cat = m.cat
    g = cat.index[e.generation]
    old = int(cat.launch[g])
    if old <= t:
        return [m.nvidia.name], f"NVIDIA's {e.generation} already ships: nothing to delay"
    slip = cat.nvidia & (cat.launch > old) if e.successors else np.zeros(cat.n, dtype=bool)
    slip[g] = True
    cat.launch[slip] += e.months
    cat.end[slip & (cat.end < NEVER)] += e.months
    new = int(cat.launch[g])
    text = f"NVIDIA delays {e.generation}" + (" and its successors" if slip.sum() > 1 else "") + (
        f" by {e.months} months, to {m.label(new)}")
    older = np.flatnonzero(cat.nvidia & (cat.launch < old))
    if older.size:
        prev = int(older[np.argmax(cat.launch[older])])
        if t < cat.end[prev] < new:
            cat.end[prev] = new
            text += f"; it makes {cat.names[prev]} until then"
    cat.reorder()
    return [m.nvidia.name], text


def scaling_plateau(m: MarketModel, e: S.ScalingPlateau, t: int) -> tuple[list[str], str]:
    """New training projects grow ``growth`` times the last, not more: every lab's next project
    is re-planned at that growth."""
    m.training_growth = e.growth
    for b in m.buyer_agents:
        if b.last_project_gpus is not None:
            b.project_gpus = b.last_project_gpus * e.growth
    return [], f"Frontier scaling plateaus: new training projects grow {e.growth:.2f}x, not more"


def custom_silicon_cut(m: MarketModel, e: S.CustomSiliconCut, t: int) -> tuple[list[str], str]:
    """Custom-silicon prices are cut ``pct`` (once, on the price each strategy sets)."""
    owners = [q for q in m.providers if q.spec.custom_silicon is not None]
    for q in owners:
        q.custom_price_factor *= 1.0 - e.pct
    return [q.name for q in owners], f"Custom silicon (TPU-class) inference prices cut {e.pct:.0%}"


def rate_change(m: MarketModel, e: S.RateChange, t: int) -> tuple[list[str], str]:
    """The base rate moves ``bps``, spreads ``spread_bps``, lenders cut LTV by ``ltv_cut``; the
    sentiment of each provider falls with its leverage."""
    m.base_rate += e.bps / 1e4
    m.ltv_cut += e.ltv_cut
    for q in m.providers:
        q.spread_extra += e.spread_bps / 1e4
        q.shock -= 0.02 * e.bps / 100.0 * min(3.0, q.leverage() / 3.0)
    return [], f"Rates move {e.bps:+.0f} bp (spreads {e.spread_bps:+.0f} bp); base rate now {m.base_rate:.2%}"


def power_shortage(m: MarketModel, e: S.PowerShortage, t: int) -> tuple[list[str], str]:
    """New MW take ``extra_lead_months`` longer and cost ``cost_pct`` more."""
    for q in m.providers:
        q.mw_lead += e.extra_lead_months
        q.mw_cost *= 1.0 + e.cost_pct
    return [], f"Power runs short: new MW take {e.extra_lead_months} months longer and cost {e.cost_pct:+.0%}"


def customer_cancel(m: MarketModel, e: S.CustomerCancel, t: int) -> tuple[list[str], str]:
    """A buyer cancels its live contracts (with one seller, or all) at the termination fee, may
    shun the sellers for ``exclude_months`` and brings ``in_house_share`` of its work home."""
    ex = m.exchange
    n = 0
    for c in list(ex.by_buyer.get(e.buyer, ())):
        if c.status in ("pending", "active") and (e.seller is None or c.seller == e.seller):
            ex.cancel(c, t, "brings the work in-house" if e.in_house_share else "cancels",
                      fee_share=m.scn.negotiation.termination_fee)
            n += 1
    if e.exclude_months:
        for q in ([e.seller] if e.seller else {c.seller for c in ex.by_buyer.get(e.buyer, ())}):
            ex.exclusions[(e.buyer, q)] = t + e.exclude_months
    b = m.agent_by_name[e.buyer]
    if e.in_house_share and hasattr(b, "idx"):
        m.buyers.in_house[b.idx] = e.in_house_share
    text = f"{e.buyer} cancels {n} contract(s)" + (f" with {e.seller}" if e.seller else "") + (
        f" and brings {e.in_house_share:.0%} of its work in-house" if e.in_house_share else "")
    return [e.buyer] + ([e.seller] if e.seller else []), text


def allocation_change(m: MarketModel, e: S.AllocationChange, t: int) -> tuple[list[str], str]:
    """NVIDIA switches its allocation policy."""
    m.nvidia.policy = e.policy
    return [m.nvidia.name], f"NVIDIA switches its allocation policy to {e.policy.replace('_', ' ')}"


def supply_growth(m: MarketModel, e: S.SupplyGrowth, t: int) -> tuple[list[str], str]:
    """NVIDIA's output of every generation grows ``pct`` beyond plan."""
    m.cat.output_multiplier *= 1.0 + e.pct
    return [m.nvidia.name], f"NVIDIA's supply grows {e.pct:+.0%} beyond plan"


def demand_boom(m: MarketModel, e: S.DemandBoom, t: int) -> tuple[list[str], str]:
    """End users take up AI faster than planned: the buyers' inference demand and end-user revenue
    (their level now and the ceiling they saturate at) x (1 + pct), investors' funding
    x (1 + funding_pct)."""
    who = _reached(m, e.buyers)
    _scale_demand(m, who, 1.0 + e.pct, 1.0 + e.funding_pct)
    return list(e.buyers), f"Demand booms: inference demand and end-user revenue {e.pct:+.0%}" + (
        f", funding {e.funding_pct:+.0%}" if e.funding_pct else "") + _of(e.buyers)


def demand_bust(m: MarketModel, e: S.DemandBust, t: int) -> tuple[list[str], str]:
    """End users pull back: the buyers' inference demand and end-user revenue (level and ceiling)
    x (1 - pct), investors' funding x (1 - funding_pct), so labs' next training projects meet a
    smaller budget (``demand.affordable_project``)."""
    who = _reached(m, e.buyers)
    _scale_demand(m, who, 1.0 - e.pct, 1.0 - e.funding_pct)
    return list(e.buyers), f"Demand busts: inference demand and end-user revenue {-e.pct:+.0%}" + (
        f", funding {-e.funding_pct:+.0%}" if e.funding_pct else "") + _of(e.buyers)


def funding_freeze(m: MarketModel, e: S.FundingFreeze, t: int) -> tuple[list[str], str]:
    """Investors hold back for ``months``: the buyers' sentiment is 1 - ``pct`` until then, so
    their rounds score that much less (every one fails at pct = 1) and their budgets count that
    much less funding (``funding.funding_round``, ``demand.affordable_project``)."""
    book = m.buyers
    rows = _reached(m, e.buyers)
    book.freeze_until[rows] = t + e.months
    book.freeze_keep[rows] = 1.0 - e.pct
    return list(e.buyers), f"Funding freezes for {e.months} months: investors' appetite {-e.pct:+.0%}" + _of(e.buyers)


def buyer_default(m: MarketModel, e: S.BuyerDefault, t: int) -> tuple[list[str], str]:
    """The buyers stop paying: every member defaults on its contracts (``Exchange.default_buyer``),
    the termination fees paid only from ``recovery`` x its cash."""
    names = set(e.buyers)
    for b in m.buyer_agents:
        if b.spec.name in names and not b.defaulted:
            m.exchange.default_buyer(b.name, t, "stops paying", recovery=e.recovery)
    return list(e.buyers), f"{', '.join(e.buyers)} stop(s) paying: contracts in default, fees paid from "\
        f"{e.recovery:.0%} of cash"


def _reached(m: MarketModel, names: list[str]):
    """The buyers (rows of the buyer book) an event for ``names`` (``[[buyers]]`` entries; empty:
    all) reaches: every member of a named entry."""
    if not names:
        return slice(None)
    wanted = set(names)
    return [b.idx for b in m.buyer_agents if b.spec.name in wanted]


def _scale_demand(m: MarketModel, rows, demand: float, funding: float) -> None:
    book = m.buyers
    book.inf0[rows] *= demand
    book.revenue0[rows] *= demand
    book.funding[rows] *= funding


def _of(names: list[str]) -> str:
    return f" ({', '.join(names)})" if names else ""


#: each kind of event and its rule
RULES = {S.ComputeBusinessLaunch: compute_business_launch, S.ComponentCostRise: component_cost_rise,
         S.GenerationShip: generation_ship, S.GenerationDelay: generation_delay,
         S.ScalingPlateau: scaling_plateau, S.CustomSiliconCut: custom_silicon_cut, S.RateChange: rate_change,
         S.PowerShortage: power_shortage, S.CustomerCancel: customer_cancel,
         S.AllocationChange: allocation_change, S.SupplyGrowth: supply_growth, S.DemandBoom: demand_boom,
         S.DemandBust: demand_bust, S.FundingFreeze: funding_freeze, S.BuyerDefault: buyer_default}
