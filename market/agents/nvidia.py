"""NVIDIA: output, the order book, allocation of scarce units, and prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from market.ledger import Acct, flows
from market.mechanisms import allocation, finance
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
        self.backstop_to: dict[str, float] = {}  # ...by provider
        # circular financing: the share of each provider NVIDIA holds, the stake's value on its
        # books (cost, then marked to market), the new shares it will buy and has bought this month
        self.stakes: dict[str, float] = dict(spec.equity_stakes)
        self.stake_value: dict[str, float] = {}
        self.investments = [(month_index(i.month, start), i.provider, i.amount) for i in spec.investments]
        self.invested: dict[str, float] = {}
        self.market_value = float("nan")
        self.hist: list[tuple[float, float, float]] = []
        self.defaulted = False
        self._weights_key: tuple | None = None
        self._weights: dict = {}

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
            equity = m.ledger.book_equity(p.eid)
            m.ledger.post(self.eid, Acct.INVESTMENTS, Acct.PAID_IN, share * max(0.0, equity), "opening")
            self.stake_value[name] = share * max(0.0, equity)

    def invest(self, t: int) -> None:
        """The month's investments (``investments``): NVIDIA pays cash for new shares of the
        provider (as far as its cash goes) at the provider's market value (its book equity if it
        has none), and its share grows by ``finance.stake_after_investment``."""
        m = self.model
        L = m.ledger
        self.invested = {}
        for month, name, amount in self.investments:
            p = m.provider_by_name[name]
            amount = min(amount, max(0.0, L.cash(self.eid)))
            if month != t or p.defaulted or amount <= 0:
                continue
            pre = p.market_value if p.spec.public and p.market_value == p.market_value else L.book_equity(p.eid)
            L.transfer(self.eid, p.eid, amount, "nvidia_investment")
            share = self.stakes[name] = finance.stake_after_investment(self.stakes.get(name, 0.0), amount, pre)
            self.stake_value[name] = self.stake_value.get(name, 0.0) + amount
            self.invested[name] = self.invested.get(name, 0.0) + amount
            self.partners.add(name)
            self._weights_key = None
            m.news("nvidia_investment", [self.name, name], f"NVIDIA invests ${amount / 1e9:,.2f}B in {name} "
                   f"at a value of ${max(0.0, pre) / 1e9:,.1f}B: its stake is now {share:.1%}",
                   amount=amount, share=share)

    def mark_stakes(self) -> float:
        """Each stake in a public provider revalued to share x the provider's market value; the
        change is a non-cash gain or loss held in equity's revaluation reserve (memo
        ``mark_to_market``), outside net income: it is neither taxed nor returned to
        shareholders. Private providers' stakes stay at cost. Returns the public stakes' value
        (what NVIDIA's market value adds)."""
        m = self.model
        marked = 0.0
        for name, share in self.stakes.items():
            p = m.provider_by_name[name]
            if not (p.spec.public and p.market_value == p.market_value):
                continue
            change = share * max(0.0, p.market_value) - self.stake_value[name]
            if change != 0.0:
                m.ledger.post(self.eid, Acct.INVESTMENTS, Acct.REVALUATION, change, "mark_to_market")
                self.stake_value[name] += change
            marked += self.stake_value[name]
        return marked

    def book_order(self, provider: Provider | None, g: int, units: float) -> None:
        """Add to the provider's order for the generation booked this month (an order per buyer,
        generation and month, [buyer, units, month booked], in the book in the order booked;
        None: the rest of the world)."""
        t = self.model.month
        for o in self.book[g]:
            if o[0] is provider and o[2] == t:
                o[1] += units
                break
        else:
            self.book[g].append([provider, units, t])
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
        sp = self.spec
        out_l = cat.output_list(t)
        self.output = np.array(out_l)
        self.shipped_to = {}
        self.invest(t)
        self._top_up_rest_of_world(out_l)
        self.price[:] = allocation.nvidia_prices(cat.list_price.tolist(), self.backlog.tolist(), out_l,
                                                 cat.nvidia_list, self.price.tolist(), sp.target_backlog_months,
                                                 sp.price_sensitivity, sp.price_floor, sp.price_cap)
        # every generation's output allocated among its open orders (a shipment changes only its
        # own generation's orders), then shipped
        weight = self._policy_weights()
        gens, starts, req, w, waited = [], [0], [], [], []
        for g in range(cat.n):
            orders = [o for o in self.book[g] if o[1] > 1e-9]
            self.book[g] = orders
            if out_l[g] <= 0 or not orders:
                continue
            gens.append(g)
            req += [o[1] for o in orders]
            w += [weight[o[0]] if o[0] in weight else self._policy_weight(o[0]) for o in orders]
            waited += [t - o[2] for o in orders]
            starts.append(len(req))
        shipped = [0.0] * cat.n
        rest_backlog = self.rest_backlog.tolist()
        if gens:
            w = allocation.seniority_weights(np.array(w), np.array(waited), sp.seniority_weight)
            allocated = allocation.allocate_many(np.array([out_l[g] for g in gens]), np.array(req), w,
                                                 np.array(starts)).tolist()
            self._ship(t, gens, starts, allocated, self.price.tolist(), sp.lead_time_months, cat.unit_cost.tolist(),
                       shipped, rest_backlog)
        self.shipped[:] = shipped
        self.rest_backlog[:] = rest_backlog
        revenue = m.ledger.opening[self.eid, Acct.REVENUE] - m.ledger.balances[self.eid, Acct.REVENUE]
        m.ledger.transfer(self.eid, m.party["suppliers"], sp.opex_per_month + sp.rd_share * max(0.0, revenue), "sga")

    def return_capital(self) -> None:
        """Buybacks and dividends: ``capital_return_share`` of the month's net income (after
        tax), paid to shareholders (investors) as far as cash stays above ``min_cash``."""
        m = self.model
        L = m.ledger
        sp = self.spec
        profit = float(flows(L.opening[[self.eid]], L.balances[[self.eid]])["net_income"][0])
        amount = min(sp.capital_return_share * max(0.0, profit), max(0.0, L.balances[self.eid, Acct.CASH] - sp.min_cash))
        if amount > 0:
            L.transfer(self.eid, m.party["investors"], amount, "capital_return")

    def _top_up_rest_of_world(self, output: list[float]) -> None:
        """The rest of the world (buyers outside the model) keeps ``rest_of_world_share`` of each
        generation's output on order, ``rest_of_world_backlog_months`` of it ahead."""
        sp = self.spec
        for g, out in enumerate(output):
            if out <= 0:
                continue
            top_up = max(0.0, sp.rest_of_world_share * out * sp.rest_of_world_backlog_months - self.rest_backlog[g])
            if top_up > 0:
                self.book_order(None, g, top_up)
                self.rest_backlog[g] += top_up

    def _shipped(self, o: list, g: int, a: float, paid: float) -> None:
        """NVIDIA's books after the buyer of order ``o`` (of generation ``g``) took ``paid`` of the
        ``a`` units allocated to it: units it could not pay for go back, and the order shrinks."""
        m = self.model
        buyer = o[0]
        self.shipped_to[buyer.name] = self.shipped_to.get(buyer.name, 0.0) + paid
        if paid < a:  # could not pay: the order shrinks and the units go elsewhere
            o[1] -= a - paid
            self.backlog[g] -= a - paid
            buyer.on_order[g] = max(0.0, buyer.on_order[g] - (a - paid))
            m.news("order_cut", [buyer.name], f"{buyer.name} cannot pay for {a - paid:,.0f} "
                   f"{m.cat.names[g]} GPUs; NVIDIA ships them elsewhere")
        o[1] -= paid
        self.backlog[g] -= paid

    def _ship(self, t: int, gens: list[int], starts: list[int], allocated: list[float], price: list[float],
              lead: int, unit_cost: list[float], shipped: list[float], rest_backlog: list[float]) -> None:
        """Ship the allocated units of the generations ``gens`` (their orders are
        ``allocated[starts[k]:starts[k + 1]]``, in the book's order): the rest of the world pays,
        each provider takes delivery (``Provider.take_delivery``: pays from cash, borrowing first
        where it must), and NVIDIA pays for the goods of each generation."""
        m = self.model
        L = m.ledger
        eid = self.eid
        rest = m.party["rest_of_world"]
        suppliers = m.party["suppliers"]
        book = self.book
        for g, lo, hi in zip(gens, starts[:-1], starts[1:], strict=True):
            price_g = price[g]
            units_sold = 0.0
            for o, a in zip(list(book[g]), allocated[lo:hi], strict=True):
                if a <= 0:
                    continue
                buyer = o[0]
                if buyer is None:
                    L.transfer(rest, eid, a * price_g, "gpu_purchase")
                    rest_backlog[g] -= a
                    paid = a
                    o[1] -= paid
                    self.backlog[g] -= paid
                else:
                    paid = buyer.take_delivery(t, g, a, price_g, lead)
                    self._shipped(o, g, a, paid)
                units_sold += paid
            shipped[g] = units_sold
            L.transfer(eid, suppliers, units_sold * unit_cost[g], "cost_of_goods")

    def _policy_weights(self) -> dict:
        """The weights of the buyers (None: the rest of the world) under the policy of the moment
        and ``partner_weight``, kept until either changes."""
        key = (self.policy, self.spec.partner_weight)
        if self._weights_key != key:
            self._weights_key = key
            self._weights = {}
        return self._weights

    def _policy_weight(self, buyer: Provider | None) -> float:
        """:func:`allocation.policy_weight` of a buyer's orders, noted in :meth:`_policy_weights`."""
        w = self._weights[buyer] = allocation.policy_weight(
            self.policy, buyer is not None and buyer.name in self.partners,
            buyer is None or buyer.spec.rival_silicon, self.spec.partner_weight)
        return w

    def pay_backstops(self, t: int) -> None:
        """Buy each backstopped provider's unused GPU-hours at ``price_share`` of its reserved
        price, up to the monthly cap."""
        m = self.model
        self.backstop_paid = 0.0
        self.backstop_to = {}
        for name, cap, share, until in self.backstops:
            if t > until:
                continue
            p = m.provider_by_name.get(name)
            if p is None or p.defaulted or not p.active:
                continue
            value = min(cap, _idle_value(p.running, m.hours, p.own_sold_hours_g, p.res, share))
            if value > 0:
                m.ledger.transfer(self.eid, p.eid, value, "backstop")
                self.backstop_paid += value
                self.backstop_to[name] = value


def _idle_value(running: np.ndarray, hours: float, sold: np.ndarray, reserved: np.ndarray, share: float) -> float:
    """The value of a provider's unused GPU-hours at ``share`` of its reserved prices (generations
    it posts no price for count nothing)."""
    idle = np.maximum(0.0, running * hours - sold)
    return float(np.sum(idle * np.nan_to_num(reserved * share, nan=0.0)))
