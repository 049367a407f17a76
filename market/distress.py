"""Financial distress: covenant breaches, restructuring, fire sales and default."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from market.contracts import Contract
from market.ledger import Acct

if TYPE_CHECKING:
    from market.agents.provider import Provider
    from market.model import MarketModel


class Distress:
    """The escalation ladder: a first breach restructures the debt (higher spread, slower
    amortisation); a second sells part of the fleet to rivals at a discount and pays lenders; a
    third (or running out of cash) is default: the fleet is sold, lenders take what there is and
    write off the rest, contracts pass to rivals with capacity or are cancelled."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model

    def breach(self, p: Provider, t: int, lev: float, cov: float) -> None:
        m = self.model
        p.breaches += 1
        p.shock -= 0.15
        leverage = f"{lev:.1f}x" if np.isfinite(lev) else "beyond measure (EBITDA not positive)"
        m.news("covenant_breach", [p.name], f"{p.name} breaches its covenants: leverage {leverage}, "
               f"debt-service cover {cov:.2f}")
        if p.breaches == 1:
            p.status = "restructuring"
            f = p.spec.finance
            p.spread_extra += f.restructure_spread
            p.restructured_until = t + f.restructure_months
            m.news("restructuring", [p.name], f"{p.name} restructures its debt: +{f.restructure_spread * 1e4:.0f} bp, "
                   f"principal halved for {f.restructure_months} months")
        elif p.breaches == 2:
            p.status = "fire_sale"
            self.fire_sale(p, t)
        else:
            self.default(p, t, "covenants breached three quarters running")

    def fire_sale(self, p: Provider, t: int, share: float | None = None) -> float:
        """Sell ``share`` of the fleet, oldest cohorts first, at a discount to market value, to the
        rival with the most cash that can power them (or the secondary market); proceeds repay
        debt. Returns proceeds."""
        m = self.model
        L = m.ledger
        f = p.spec.finance
        share = f.fire_sale_share if share is None else share
        if not p.c_units.size:
            return 0.0
        to_sell = share * float(p.c_units.sum())
        values = p.cohort_values() * (1.0 - f.fire_sale_discount)
        proceeds = 0.0
        units_sold = 0.0
        for i in np.argsort(p.c_month, kind="stable"):
            if to_sell <= 0:
                break
            k = min(p.c_units[i], to_sell)
            if k <= 0:
                continue
            g = int(p.c_gen[i])
            price = k * values[i]
            cost = k * p.c_cost[i]
            acc = p.c_acc[i] * k / p.c_units[i]  # the depreciation booked on what is sold
            buyer = self._buyer_for(p, price, k * float(m.cat.power_kw[g]))
            payer = buyer.eid if buyer is not None else m.party["secondary_market"]
            L.transfer(payer, p.eid, price, "asset_sale")
            # remove the cohort at cost, its accumulated depreciation, and book the loss or gain
            L.post(p.eid, Acct.ACCUM_DEP, Acct.GPU_ASSETS, acc, "disposal")
            book = cost - acc
            if book > price:
                L.post(p.eid, Acct.OTHER_EXPENSE, Acct.GPU_ASSETS, book - price, "disposal")
            else:
                L.post(p.eid, Acct.GPU_ASSETS, Acct.OTHER_INCOME, price - book, "disposal")
            p.c_acc[i] -= acc
            p.c_units[i] -= k
            if buyer is not None:
                buyer.add_cohort(g, t, k, values[i], born=int(p.c_born[i]))  # (its useful life runs on)
                buyer.power_fleet()  # (it has the power: _buyer_for)
            proceeds += price
            units_sold += k
            to_sell -= k
        p.keep_cohorts(p.c_units > 1e-9)
        if not p.c_units.size and not p.transit:
            self._close_fleet_accounts(p)
        p.power_fleet()
        p.repay(min(proceeds, p.debt(), max(0.0, p.cash())))
        m.news("fire_sale", [p.name], f"{p.name} sells {units_sold:,.0f} GPUs at a "
               f"{f.fire_sale_discount:.0%} discount for ${proceeds / 1e9:.2f}B")
        return proceeds

    def _close_fleet_accounts(self, p: Provider) -> None:
        """A fleet sold to the last GPU leaves no book value: what its cost and depreciation
        accounts still hold is rounding, written off so that both are exactly zero."""
        L = self.model.ledger
        b = L.balances[p.eid]
        L.post(p.eid, Acct.ACCUM_DEP, Acct.GPU_ASSETS, float(b[Acct.GPU_ASSETS]), "disposal")
        dust = float(b[Acct.ACCUM_DEP])
        if dust < 0:
            L.post(p.eid, Acct.ACCUM_DEP, Acct.OTHER_INCOME, -dust, "disposal")
        elif dust > 0:
            L.post(p.eid, Acct.OTHER_EXPENSE, Acct.ACCUM_DEP, dust, "disposal")

    def _buyer_for(self, seller: Provider, price: float, kw: float) -> Provider | None:
        """The rival with the most cash to spare that can pay ``price`` and power ``kw`` more
        (``Provider.power_room_kw``: no GPU bought in a fire sale waits dark); None: the
        secondary market buys."""
        best = None
        for q in self.model.providers:
            if q is seller or q.defaulted or not q.active:
                continue
            spare = q.cash() - q.cash_buffer()
            if spare >= price and q.power_room_kw() >= kw and (best is None or spare > best.cash() - best.cash_buffer()):
                best = q
        return best

    def default(self, p: Provider, t: int, why: str) -> None:
        m = self.model
        L = m.ledger
        if p.defaulted:
            return
        p.defaulted = True
        p.active = False
        p.status = "defaulted"
        m.nvidia.cancel_orders(p)
        p.on_order[:] = 0.0
        # GPUs paid for and still in transit belong to the estate: they are sold with the fleet
        arriving = [item for month in sorted(p.transit) for item in p.transit[month]]
        p.transit.clear()
        p.in_transit[:] = 0.0
        p.add_cohorts(arriving, t)
        self.fire_sale(p, t, share=1.0)
        p.repay(min(p.debt(), max(0.0, p.cash())))
        rest = max(0.0, p.debt())
        if rest > 0:
            # lenders write off what the sale did not cover
            L.post(p.eid, Acct.DEBT, Acct.OTHER_INCOME, rest, "write_off")
            L.post(m.party["lenders"], Acct.OTHER_EXPENSE, Acct.INVESTMENTS, rest, "write_off")
            p.loans.clear()
        written_off = f"${rest / 1e9:.2f}B" if rest >= 1e9 else f"${rest / 1e6:,.0f}M"
        m.news("default", [p.name], f"{p.name} defaults ({why}); " + (
            f"lenders write off {written_off}" if rest > 0 else "the sale repays its debt"))
        ex = m.exchange
        for c in list(ex.by_seller.get(p.name, ())):
            if c.status not in ("pending", "active"):
                continue
            self._reassign(c, t)
        for c in list(ex.by_buyer.get(p.name, ())):
            if c.status in ("pending", "active"):
                ex.cancel(c, t, "buyer defaulted", fee_share=0.0)
        p.market_value = 0.0
        p.sentiment = 0.05

    def _reassign(self, c, t: int) -> None:
        """Pass a defaulted seller's contract to the rival with the most idle GPUs of that
        generation (same price, remaining term, no prepayment), or cancel it."""
        m = self.model
        L = m.ledger
        ex = m.exchange
        old = m.provider_by_name[c.seller]
        buyer = m.agent_by_name[c.buyer]
        # the unearned prepayment is lost with the defaulted seller
        if c.prepaid_left > 0:
            L.post(buyer.eid, Acct.OTHER_EXPENSE, Acct.PREPAID, c.prepaid_left, "write_off")
            L.post(old.eid, Acct.DEFERRED_REVENUE, Acct.OTHER_INCOME, c.prepaid_left, "write_off")
            c.prepaid_left = 0.0
        g = c.generation
        best, spare = None, 0.0
        for q in m.providers:
            if q is old or q.defaulted or not q.active or q.name == c.buyer:
                continue
            # what it has promised over the rest of this contract's term, reassignments included
            committed = ex.committed_ahead(q.name, t + 1, max(0, c.end - t - 2))[g]
            idle = q.installed[g] - committed
            if idle >= c.gpus and idle > spare:
                best, spare = q, idle
        ex.end_contract(c, "reassigned")
        if best is None:
            m.news("cancelled", [c.buyer, c.seller], f"{c.buyer}'s contract with {c.seller} is cancelled in "
                   f"the default", contract_id=c.contract_id)
            return
        left = max(0, c.end - max(t + 1, c.start))
        if left <= 0:
            return
        n = Contract(ex.new_contract_id(), c.buyer, best.name, g, c.gpus, t, max(t + 1, c.start), left, c.price,
                     c.purpose, 0.0, c.fee)
        ex.add_contract(n)
        m.news("reassigned", [c.buyer, c.seller, best.name], f"{best.name} takes over {c.buyer}'s contract "
               f"from {c.seller} ({c.gpus:,} GPUs, {left} months)", contract_id=n.contract_id)
