"""NVIDIA: output, the order book, allocation of scarce units, and prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from market.ledger import Acct
from market.mechanisms import allocation
from market.scenario import NvidiaSpec, month_index

if TYPE_CHECKING:
    from market.agents.provider import Provider
    from market.model import MarketModel


class Nvidia(mesa.Agent):
    """The one supplier. It makes ``Catalogue.output`` units a month, keeps an order book per
    generation, allocates output among orders by its policy, ships (buyers pay on shipment,
    install after the lead time) and prices each generation off its backlog."""

    kind = "nvidia"

    def __init__(self, model: MarketModel, spec: NvidiaSpec) -> None:
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.eid = model.ledger.index[spec.name]
        G = model.cat.n
        self.policy = spec.allocation
        self.price = model.cat.list_price.copy()
        # order book: per generation, a list of [provider or None for the rest of the world, units]
        self.book: list[list[list]] = [[] for _ in range(G)]
        self.backlog = np.zeros(G)
        self.shipped = np.zeros(G)
        self.shipped_to: dict[str, float] = {}
        self.rest_backlog = np.zeros(G)
        self.output = np.zeros(G)
        self.partners = set(spec.partners) | set(spec.equity_stakes) | {b.provider for b in spec.backstops}
        start = model.scn.market.start
        self.backstops = [(b.provider, b.cap_per_month, b.price_share, month_index(b.until, start))
                          for b in spec.backstops]
        self.backstop_paid = 0.0  # paid for providers' unused capacity this month
        self.market_value = float("nan")
        self.hist: list[tuple[float, float, float]] = []
        self.defaulted = False

    def open_books(self) -> None:
        m = self.model
        m.ledger.transfer(m.party["investors"], self.eid, self.spec.cash, "equity")

    def book_stakes(self) -> None:
        """Equity stakes in providers, on NVIDIA's books at the share of each provider's opening
        book equity (the stake was paid for before the scenario starts). They also make the
        provider a partner under ``partner_priority`` and add to NVIDIA's market value."""
        m = self.model
        for name, share in self.spec.equity_stakes.items():
            p = m.provider_by_name[name]
            equity = -float(m.ledger.balances[p.eid, Acct.PAID_IN:].sum())
            m.ledger.post(self.eid, Acct.INVESTMENTS, Acct.PAID_IN, share * max(0.0, equity), "opening")

    def book_order(self, provider: Provider, g: int, units: float) -> None:
        """Add to the provider's open order for the generation (one open order per buyer and
        generation; its place in the book is that of its first units)."""
        for o in self.book[g]:
            if o[0] is provider:
                o[1] += units
                break
        else:
            self.book[g].append([provider, units])
        self.backlog[g] += units

    def cancel_orders(self, provider: Provider) -> None:
        for g, orders in enumerate(self.book):
            for o in orders:
                if o[0] is provider:
                    self.backlog[g] -= o[1]
                    o[1] = 0.0

    def step_month(self, t: int) -> None:
        """Top up the rest of the world's orders, set prices, allocate and ship."""
        m = self.model
        cat = m.cat
        L = m.ledger
        sp = self.spec
        out = cat.output(t)
        self.output = out
        self.shipped[:] = 0.0
        self.shipped_to = {}
        rest = m.party["rest_of_world"]
        for g in range(cat.n):
            if out[g] <= 0:
                continue
            want = sp.rest_of_world_share * out[g] * sp.rest_of_world_backlog_months
            top_up = max(0.0, want - self.rest_backlog[g])
            if top_up > 0:
                self.book_order(None, g, top_up)
                self.rest_backlog[g] += top_up
        for g in range(cat.n):
            if not cat.nvidia[g]:
                continue
            self.price[g] = allocation.nvidia_price(cat.list_price[g], self.backlog[g], out[g],
                                                    sp.target_backlog_months, sp.price_sensitivity,
                                                    sp.price_floor, sp.price_cap)
        lead = sp.lead_time_months
        # each generation's output allocated among its open orders (all in one call), then shipped
        shipping = []  # (generation, its open orders)
        ordered = []  # every open order of those, generation by generation
        starts = [0]
        for g in range(cat.n):
            orders = [o for o in self.book[g] if o[1] > 1e-9]
            self.book[g] = orders
            if out[g] <= 0 or not orders:
                continue
            shipping.append((g, orders))
            ordered += orders
            starts.append(len(ordered))
        if not shipping:
            L.transfer(self.eid, m.party["suppliers"], sp.opex_per_month, "sga")
            return
        partner = np.array([o[0] is not None and o[0].name in self.partners for o in ordered])
        rival = np.array([o[0] is None or o[0].spec.rival_silicon for o in ordered])
        w = allocation.policy_weights(self.policy, partner, rival, sp.partner_weight)
        allocated = allocation.allocate_many(out[[g for g, _ in shipping]], np.array([o[1] for o in ordered]), w,
                                             np.array(starts))
        for (g, orders), lo, hi in zip(shipping, starts[:-1], starts[1:], strict=True):
            units_sold = 0.0
            for o, a in zip(orders, allocated[lo:hi]):
                if a <= 0:
                    continue
                buyer = o[0]
                if buyer is None:
                    L.transfer(rest, self.eid, a * self.price[g], "gpu_purchase")
                    self.rest_backlog[g] -= a
                    paid = a
                else:
                    paid = buyer.take_delivery(t, g, a, self.price[g], lead)
                    self.shipped_to[buyer.name] = self.shipped_to.get(buyer.name, 0.0) + paid
                    if paid < a:  # could not pay: the order shrinks and the units go elsewhere
                        o[1] -= a - paid
                        self.backlog[g] -= a - paid
                        buyer.on_order[g] = max(0.0, buyer.on_order[g] - (a - paid))
                        m.news("order_cut", [buyer.name], f"{buyer.name} cannot pay for {a - paid:,.0f} "
                               f"{cat.names[g]} GPUs; NVIDIA ships them elsewhere")
                o[1] -= paid
                self.backlog[g] -= paid
                units_sold += paid
            self.shipped[g] = units_sold
            L.transfer(self.eid, m.party["suppliers"], units_sold * cat.unit_cost[g], "cost_of_goods")
        L.transfer(self.eid, m.party["suppliers"], sp.opex_per_month, "sga")

    def pay_backstops(self, t: int) -> None:
        """Buy each backstopped provider's unused GPU-hours at ``price_share`` of its reserved
        price, up to the monthly cap."""
        m = self.model
        self.backstop_paid = 0.0
        for name, cap, share, until in self.backstops:
            if t > until:
                continue
            p = m.provider_by_name.get(name)
            if p is None or p.defaulted or not p.active:
                continue
            idle = np.maximum(0.0, p.running * m.hours - p.own_sold_hours_g)
            price = np.nan_to_num(p.res * share)
            value = min(cap, float(np.sum(idle * price)))
            if value > 0:
                m.ledger.transfer(self.eid, p.eid, value, "backstop")
                self.backstop_paid += value
