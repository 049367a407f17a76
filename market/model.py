"""The Mesa model: the monthly schedule and nothing else.

One ``step`` is one month. The order of a month, a modelling decision written down here once:

1. **Events** of the scenario timeline for this month apply; then a human player's turn for its
   company: borrowing and repayment at once; its orders, MW and prices wait for step 4 and its
   answers for step 5, where the AI's own are made.
2. **Arrivals**: GPUs shipped ``lead_time`` months ago are installed; MW builds finish; power is
   given to the newest generations first.
3. **NVIDIA** tops up the rest of the world's orders, prices each generation off its backlog and
   allocates this month's output among open orders by its policy; buyers pay on shipment.
4. **Providers**, in random order, set on-demand / reserved / spot prices (from last month's
   utilisation and rivals' prices) and plan capacity: GPU orders and MW builds.
5. **Buyers** receive income, grow their demand, and labs issue capacity requests; hyperscalers
   that resell ask neoclouds for capacity; every open request is **negotiated** with eligible
   providers in rounds (signed, countered or walked away).
6. **Contracts are served** first (take-or-pay billing, penalties for short delivery), then the
   **short-term market** clears the remaining demand against idle capacity: on-demand, then spot.
7. **Costs**: NVIDIA pays backstops for unused capacity; providers pay power, site operations,
   overheads, depreciation, interest and principal.
8. **Month end**: buyers short of runway raise funding rounds, which can fail; providers cover shortfalls, test covenants
   each quarter (restructuring, fire sale, default); public companies are revalued; the month is
   recorded.

Buyers are stepped in bulk as one vectorised population (``BuyerBook``) rather than one by one,
so that ten thousand of them cost a few numpy operations: within a month their decisions do
not depend on each other's, so the order among them does not matter.
"""

from __future__ import annotations

import collections

import mesa
import numpy as np

from market import events as scenario_events
from market.agents import Buyer, BuyerBook, Hyperscaler, Neocloud, Nvidia, Provider, ProviderBook
from market.catalogue import Catalogue
from market.contracts import Contract
from market.distress import Distress
from market.exchange import Exchange
from market.ledger import Acct, Ledger, flows, month_figures
from market.mechanisms import finance, valuation
from market.metrics import Recorder
from market.scenario import Scenario, month_index, month_label

OUTSIDE_PARTIES = ["investors", "lenders", "utilities", "suppliers", "builders", "end_users", "rest_of_world",
                   "secondary_market", "landlords", "government"]


def expand(specs, rng: np.random.Generator) -> list[tuple[object, str, float]]:
    """Members of each spec: one, or ``count`` copies named ``name-0001``... whose sizes follow a
    lognormal of spread ``size_spread`` with mean one."""
    out = []
    for s in specs:
        if s.count == 1:
            out.append((s, s.name, 1.0))
            continue
        sig = s.size_spread
        sizes = rng.lognormal(-0.5 * sig * sig, sig, s.count) if sig > 0 else np.ones(s.count)
        width = max(4, len(str(s.count)))
        out.extend((s, f"{s.name}-{i + 1:0{width}d}", float(z)) for i, z in enumerate(sizes))
    return out


class MarketModel(mesa.Model):
    """The AI compute market, one month per step."""

    def __init__(self, scenario: Scenario, seed: int = 0, keep_ledger: bool = False) -> None:
        super().__init__(rng=seed)
        self.scn = scenario
        self.seed = seed
        mk = scenario.market
        self.hours = mk.hours_per_month
        self.base_rate = mk.base_rate
        self.ltv_cut = 0.0
        self.training_growth: float | None = None
        self.month = 0
        self.cat = Catalogue(scenario)
        self._events: list[dict] = []  # see events_log
        self._unformatted: list[tuple[dict, tuple]] = []  # events whose text is still a template
        prov_members = expand(scenario.providers, self.rng)
        buyer_members = expand(scenario.buyers, self.rng)
        names = [scenario.nvidia.name] + [n for _, n, _ in prov_members] + [n for _, n, _ in buyer_members]
        self.n_agents = len(names)
        self.ledger = Ledger(names + OUTSIDE_PARTIES, keep=keep_ledger)
        self.party = {n: self.ledger.index[n] for n in OUTSIDE_PARTIES}
        self.nvidia = Nvidia(self, scenario.nvidia)
        self.providers: list[Provider] = [
            (Neocloud if s.kind == "neocloud" else Hyperscaler)(self, s, n, z) for s, n, z in prov_members
        ]
        self.pbook = ProviderBook(self, self.providers)
        self.provider_by_name = {p.name: p for p in self.providers}
        self.buyer_agents = [Buyer(self, s, n, i, z) for i, (s, n, z) in enumerate(buyer_members)]
        self.labs_with_plans = [b for b in self.buyer_agents if b.spec.training or b.spec.requests or b.spec.reserve_share > 0]
        self.buyers = BuyerBook(self, buyer_members)
        self.agent_by_name: dict[str, object] = {self.nvidia.name: self.nvidia}
        self.agent_by_name.update(self.provider_by_name)
        self.agent_by_name.update({b.name: b for b in self.buyer_agents})
        self.exchange = Exchange(self)
        self.distress = Distress(self)
        self.events_by_month: dict[int, list] = {}
        for e in scenario.events:
            self.events_by_month.setdefault(month_index(e.month, mk.start), []).append(e)
        self._open_books()
        # income tax: the rate and the losses carried forward of each agent row (see _pay_taxes)
        self.tax_rate = np.full(self.n_agents, mk.tax_rate)
        self.tax_losses = np.zeros(self.n_agents)
        if scenario.nvidia.tax_rate is not None:
            self.tax_rate[self.nvidia.eid] = scenario.nvidia.tax_rate
        for p in self.providers:
            self.tax_losses[p.eid] = p.spec.tax_losses * p.scale
        # the public companies valued each month (NVIDIA first), their terms and history (_revalue)
        self._valued_providers = np.array([i for i, p in enumerate(self.providers) if p.spec.public], dtype=np.int64)
        self._valued = np.array([self.nvidia.eid] + [self.providers[i].eid for i in self._valued_providers],
                                dtype=np.int64)
        specs = [scenario.nvidia.valuation] + [self.providers[i].spec.valuation for i in self._valued_providers]
        self._valuation_terms = {k: np.array([getattr(s, k) for s in specs]) for k in type(specs[0]).model_fields}
        self._revenue_hist: collections.deque[np.ndarray] = collections.deque(maxlen=18)
        self._ebit_hist: collections.deque[np.ndarray] = collections.deque(maxlen=6)
        self._months_valued = 0
        self._expected: tuple[np.ndarray, np.ndarray] | None = None  # investors' growth and margin (_revalue)
        self.consider = self.exchange.consideration_sets(self.rng)
        self.utilisation = 0.85
        self.market_price = self._initial_price()
        self.before_month = None  # a callable run once at the start of the next month (a player's turn)
        self.recorder = Recorder(self)

    # ------------------------------------------------------------------ set-up
    def _open_books(self) -> None:
        self.ledger.month = -1
        self.nvidia.open_books()
        for p in self.providers:
            p.open_books()
        self.nvidia.book_stakes()
        self.buyers.open_books()
        start = self.scn.market.start
        holders = [(b, b.spec.contracts, b.size) for b in self.buyer_agents]
        holders += [(p, p.spec.purchases, p.scale) for p in self.providers]
        for b, contracts, size in holders:
            for oc in contracts:
                g = self.cat.index[oc.generation]
                c_start = month_index(oc.start, start)
                gpus = max(1, round(oc.gpus * size))
                fee = gpus * self.hours * oc.price_per_gpu_hour
                if max(0, -c_start) >= oc.term_months:  # (ended before the scenario starts)
                    continue
                c = Contract(self.exchange.new_contract_id(), b.name, oc.seller, g, gpus, min(-1, c_start), c_start,
                             oc.term_months, oc.price_per_gpu_hour, oc.purpose, 0.0, fee)
                c.months_billed = max(0, -c_start)
                c.status = "active" if c_start <= 0 else "pending"
                self.exchange.add_contract(c)

    def _initial_price(self) -> float:
        """The short-term price buyers see in the first month: the mean on-demand price per
        H100-equivalent hour of the providers' stated initial prices."""
        vals = []
        for p in self.providers:
            for name, price in p.spec.pricing.initial.items():
                vals.append(price / self.cat.inf[self.cat.index[name]])
        return float(np.mean(vals)) if vals else 2.5

    # ------------------------------------------------------------------ helpers for agents
    def label(self, month: int) -> str:
        return month_label(month, self.scn.market.start)

    def news(self, kind: str, agents: list[str], text: str, *args, **extra) -> None:
        """Log an event of the month: ``text``, or, given ``args``, a ``str.format`` template that
        is filled in when the events are read (:attr:`events_log`; most runs never read the text
        of the many negotiation events); ``extra``: more fields of the event."""
        row = {"month": self.month, "kind": kind, "agents": agents, "text": text}
        if extra:
            row.update(extra)
        self._events.append(row)
        if args:
            self._unformatted.append((row, args))

    @property
    def events_log(self) -> list[dict]:
        """Every event so far, in order, as dicts: month, kind, agents, text and any extra fields."""
        if self._unformatted:
            for row, args in self._unformatted:
                row["text"] = row["text"].format(*args)
            self._unformatted.clear()
        return self._events

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        t = self.month
        L = self.ledger
        opening = L.begin_month(t)
        ex = self.exchange
        ex.signed_this_month = 0
        self.pbook.begin_month()
        # 1. events, then the decisions of a human player's company (market.game)
        for e in self.events_by_month.get(t, ()):
            scenario_events.apply(self, e)
        if self.before_month is not None:
            self.before_month()
            self.before_month = None
        # 2. arrivals and power
        self.pbook.receive(t)
        # 3. NVIDIA
        self.nvidia.step_month(t)
        # 4. providers: prices and capacity plans
        self.pbook.rival_prices()
        nv_price = self.nvidia.price
        # prices: none depends on another's this month, so their order does not matter
        self.pbook.set_prices(t, nv_price)
        # capacity plans in random order: they fill NVIDIA's order book in turn
        order = list(range(len(self.providers)))
        self.random.shuffle(order)
        self.pbook.plan_capacity(t, nv_price, order)
        # 5. buyers: income, demand, requests; negotiation
        training = np.zeros(self.buyers.n)
        for b in self.labs_with_plans:
            b.plan(t)
            if b.projects:
                training[b.idx] = b.training_need(t)
        self.buyers.step_month(t, self.market_price, training)
        for h in self.agents_by_type.get(Hyperscaler, ()):
            h.plan_resale(t)
        ex.negotiate_all(t)
        # 6. contracts first, then the short-term market
        ex.serve_contracts(t)
        ex.clear_short_term(t)
        # 7. costs, then income taxes and NVIDIA's return of capital on the month's profit
        self.nvidia.pay_backstops(t)
        self.pbook.pay_operating(t)
        self._pay_taxes()
        self.nvidia.return_capital()
        # 8. month end
        self.buyers.raise_funds(t, opening)
        self._month_end(t, opening)
        self.month += 1

    def _pay_taxes(self) -> None:
        """NVIDIA's and the trading providers' income tax on the month's pre-tax profit
        (``finance.income_tax``: ``tax_rate``, after the losses each carries forward), to the
        government. Buyers are not taxed here."""
        L = self.ledger
        rows = np.array([self.nvidia.eid] + [p.eid for p in self.providers if not p.defaulted], dtype=np.int64)
        profit = flows(L.opening[rows], L.balances[rows])["net_income"]
        tax, self.tax_losses[rows] = finance.income_tax(profit, self.tax_losses[rows], self.tax_rate[rows])
        L.transfer_many(rows, np.full(rows.size, self.party["government"]), tax, "income_tax")

    def _month_end(self, t: int, opening: np.ndarray) -> None:
        """Utilisation; each provider's month booked (cash shortfalls, covenants); valuations;
        the record, which reads the ledger after every posting of the month."""
        f = month_figures(opening, self.ledger.balances, self.n_agents)  # the agents' statements and flows
        # (EBITDA as lenders and analysts take it: before stock-based compensation, which is paid in shares)
        ebitda = (f["revenue"] + f["other_income"] - f["cost_of_revenue"] - f["opex"] - f["compute_expense"]
                  - f["other_expense"] - f["lease_expense"])
        util, self.utilisation = self.pbook.utilisation(self.hours)
        for p, u in zip(self.providers, util.tolist(), strict=True):
            p.utilisation = u
        for p in self.providers:
            p.end_month(t, float(f["revenue"][p.eid]), float(ebitda[p.eid]))
        self.pbook.note_ebitda()
        self.nvidia.hist.append((float(f["revenue"][self.nvidia.eid]), float(ebitda[self.nvidia.eid]), 0.0))
        self._revalue(t, f, ebitda)
        self.recorder.record(t, opening, f)

    def _revalue(self, t: int, f: dict[str, np.ndarray], ebitda: np.ndarray) -> None:
        """Public companies' market value by the valuation rule (``mechanisms.valuation``), with
        sentiment taking the month's news: revenue over the last three months, operating profit
        after depreciation (before other income) over the last six, the growth and margin investors
        expect adapting towards what they observe (``market.expectation_speed``; growth from a
        year of history, weighted by the share of a year there is), the cost of equity from the
        base rate, beta, leverage and the investment-grade backlog; NVIDIA's stakes are marked to
        the providers' values and added to its own."""
        for p in self.providers:
            if p.defaulted:
                continue
            p.sentiment = valuation.next_sentiment(p.sentiment, self.scn.market.sentiment_persistence, p.shock)
            p.shock = 0.0
        rows = self._valued
        self._revenue_hist.append(f["revenue"][rows])
        # (operating profit: one-off income such as termination fees and penalties is left out,
        # since investors do not capitalise it; it reaches the value through cash)
        self._ebit_hist.append((ebitda - f["other_income"] - f["depreciation"])[rows])
        self._months_valued += 1
        rev, ebit = np.array(self._revenue_hist), np.array(self._ebit_hist)  # (the last 18 and 6 months)
        n = self._months_valued
        r3 = rev[-3:].mean(axis=0)
        margin_seen = np.divide(ebit.sum(axis=0), rev[-ebit.shape[0]:].sum(axis=0), out=np.zeros(rows.size),
                                where=r3 > 0)
        # growth between the last six months and six months a year before (or as far back as
        # there is, from twelve months of history: then it counts for that share of a year)
        back = min(12, n - 6) if n >= 12 else 0
        now6 = rev[-6:].mean(axis=0)
        before = rev[-6 - back:rev.shape[0] - back].mean(axis=0) if back else now6
        v = self._valuation_terms
        speed = self.scn.market.expectation_speed
        if self._expected is None:  # the prior growth and the first month's margin
            self._expected = (v["expected_growth"].astype(float), margin_seen)
        growth = valuation.adapt(self._expected[0], valuation.observed_growth(now6, before, back), speed * back / 12.0)
        margin = valuation.adapt(self._expected[1], margin_seen, speed)
        self._expected = (growth, margin)
        mk = self.scn.market
        ig = self.exchange.credit_backlogs()[0]
        annual = 12.0 * r3
        ig_rows = np.concatenate([[0.0], ig[self._valued_providers]])
        cover = np.divide(ig_rows, annual, out=np.zeros(rows.size), where=annual > 0)
        lev = np.array([0.0] + [self.providers[i].leverage() for i in self._valued_providers])
        rate = valuation.discount_rate(self.base_rate, mk.equity_risk_premium, v["beta"], lev, mk.leverage_premium,
                                       cover, mk.backlog_discount)
        ev = valuation.enterprise_value(annual, growth, margin, rate, v["growth_fade"], mk.terminal_growth,
                                        v["target_margin"], v["return_on_capital"], self.tax_rate[rows])
        b = self.ledger.balances[rows]
        sentiment = np.array([1.0] + [self.providers[i].sentiment for i in self._valued_providers])
        value = valuation.equity_value(ev, sentiment, b[:, Acct.CASH], -b[:, Acct.DEBT])
        nv = self.nvidia
        nv.market_value = float(value[0])
        for i, x in zip(self._valued_providers.tolist(), value[1:].tolist(), strict=True):
            p = self.providers[i]
            p.market_value = 0.0 if p.defaulted else x
        for p in self.providers:
            if not p.spec.public:
                p.market_value = np.nan
        # plus its equity stakes, marked to the providers' market values (private ones: not valued)
        nv.market_value += nv.mark_stakes()

    def run(self, months: int | None = None) -> None:
        for _ in range(months if months is not None else self.scn.months):
            self.step()
