"""Scenario events: each kind is a rule that changes the agents' world in its month."""

from __future__ import annotations

from typing import TYPE_CHECKING

from market import scenario as S

if TYPE_CHECKING:
    from market.model import MarketModel


def apply(m: MarketModel, e: S.EventSpec) -> None:
    """Apply one event in the current month and put it in the news."""
    t = m.month
    note = f". {e.note}" if e.note else ""
    match e:
        case S.ComputeBusinessLaunch():
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
                if q.kind == "neocloud" and q is not p:
                    q.shock -= 0.08
        case S.ComponentCostRise():
            m.cat.system_cost *= 1.0 + e.pct
            for q in m.providers:
                q.mw_cost *= 1.0 + e.pct
            text = f"Networking, cooling and memory cost {e.pct:+.0%} for new clusters"
            agents = []
        case S.GenerationShip():
            g = m.cat.index[e.generation]
            m.cat.launch[g] = min(int(m.cat.launch[g]), t)
            m.cat.output_multiplier[g] *= e.output_multiplier
            m.cat.reorder()
            text = f"NVIDIA ships {e.generation}; older generations face a newer rival"
            agents = [m.nvidia.name]
        case S.ScalingPlateau():
            m.training_growth = e.growth
            # the next project of every lab is re-planned at the new growth
            for b in m.buyer_agents:
                if b.last_project_gpus is not None:
                    b.project_gpus = b.last_project_gpus * e.growth
            text = f"Frontier scaling plateaus: new training projects grow {e.growth:.2f}x, not more"
            agents = []
        case S.CustomSiliconCut():
            for q in m.providers:
                if q.spec.custom_silicon is not None:
                    q.custom_price_factor *= 1.0 - e.pct
            text = f"Custom silicon (TPU-class) inference prices cut {e.pct:.0%}"
            agents = [q.name for q in m.providers if q.spec.custom_silicon is not None]
        case S.RateChange():
            m.base_rate += e.bps / 1e4
            m.ltv_cut += e.ltv_cut
            for q in m.providers:
                q.spread_extra += e.spread_bps / 1e4
                q.shock -= 0.02 * e.bps / 100.0 * min(3.0, q.leverage() / 3.0 if q.leverage() != float("inf") else 3.0)
            text = f"Rates move {e.bps:+.0f} bp (spreads {e.spread_bps:+.0f} bp); base rate now {m.base_rate:.2%}"
            agents = []
        case S.PowerShortage():
            for q in m.providers:
                q.mw_lead += e.extra_lead_months
                q.mw_cost *= 1.0 + e.cost_pct
            text = f"Power runs short: new MW take {e.extra_lead_months} months longer and cost {e.cost_pct:+.0%}"
            agents = []
        case S.CustomerCancel():
            ex = m.exchange
            n = 0
            for c in list(ex.by_buyer.get(e.buyer, ())):
                if c.status in ("pending", "active") and (e.seller is None or c.seller == e.seller):
                    ex.cancel(c, t, "brings the work in-house" if e.in_house_share else "cancels",
                              fee_share=m.scn.negotiation.termination_fee)
                    n += 1
            if e.exclude_months:
                for q in ([e.seller] if e.seller else {c.seller for c in ex.by_buyer.get(e.buyer, ())}):
                    m.exchange.exclusions[(e.buyer, q)] = t + e.exclude_months
            b = m.agent_by_name[e.buyer]
            if e.in_house_share and hasattr(b, "idx"):
                m.buyers.in_house[b.idx] = e.in_house_share
            text = f"{e.buyer} cancels {n} contract(s)" + (f" with {e.seller}" if e.seller else "") + (
                f" and brings {e.in_house_share:.0%} of its work in-house" if e.in_house_share else "")
            agents = [e.buyer] + ([e.seller] if e.seller else [])
        case S.AllocationChange():
            m.nvidia.policy = e.policy
            text = f"NVIDIA switches its allocation policy to {e.policy.replace('_', ' ')}"
            agents = [m.nvidia.name]
        case S.SupplyGrowth():
            m.cat.output_multiplier *= 1.0 + e.pct
            text = f"NVIDIA's supply grows {e.pct:+.0%} beyond plan"
            agents = [m.nvidia.name]
        case _:  # pragma: no cover - the schema admits no other kind
            raise ValueError(f"unknown event {e!r}")
    m.news(f"event:{e.kind}", agents, text + note)
