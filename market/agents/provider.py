"""The shared base of every GPU cloud: fleet, power, prices, capacity plan, costs and financing.

Neoclouds and hyperscalers differ only by their scenario parameters and the few hooks their
subclasses override; every rule here is one of the functions in ``market.mechanisms``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mesa
import numpy as np

from market.ledger import Acct
from market.mechanisms import capacity, depreciation, finance, pricing
from market.scenario import ProviderSpec, month_index

if TYPE_CHECKING:
    from market.model import MarketModel

NAN = float("nan")
_CASH, _DEBT = int(Acct.CASH), int(Acct.DEBT)


@dataclass(slots=True)
class Turn:
    """A human player's decisions for its company this month, applied where the AI's own are
    made (``ProviderBook.set_prices`` and ``plan_capacity``): GPUs to order and prices (on-demand,
    reserved, spot) by generation index, and MW to build."""

    orders: dict[int, float] = field(default_factory=dict)
    mw: float = 0.0
    prices: dict[int, tuple[float, float, float]] = field(default_factory=dict)


class Provider(mesa.Agent):
    """A GPU cloud. ``kind`` is 'neocloud' or 'hyperscaler'."""

    kind = "provider"

    def __init__(self, model: MarketModel, spec: ProviderSpec, name: str, scale: float = 1.0) -> None:
        super().__init__(model)
        cat = model.cat
        G = cat.n
        self.spec = spec
        self.name = name
        self.eid = model.ledger.index[name]
        self._balances = model.ledger.balances[self.eid]  # (a row view: its accounts)
        self.scale = scale
        self._book_life = spec.depreciation_years * 12.0
        start = model.scn.market.start
        self.active_from = month_index(spec.active_from, start) if spec.active_from else 0
        self.active = self.active_from <= 0
        self.player = False
        self.turn: Turn | None = None  # a human player's decisions of the month (market.game)
        self._init_fleet(G)
        self._init_market(G)
        self._init_finance()

    def _init_fleet(self, G: int) -> None:
        spec, scale, start = self.spec, self.scale, self.model.scn.market.start
        self.installed = np.zeros(G)
        self.running = np.zeros(G)
        self.cost_sum = np.zeros(G)  # gross capital cost of installed units, by generation
        # the fleet's cohorts: generation, install month, units, unit capex and the depreciation
        # booked on them so far (so that a cohort leaves the books at exactly its book value), and
        # the month the GPUs were first installed by anyone (bought used: earlier than c_month),
        # from which their useful life runs
        self.c_gen = np.zeros(0, dtype=np.int64)
        self.c_month = np.zeros(0, dtype=np.int64)
        self.c_born = np.zeros(0, dtype=np.int64)
        self.c_units = np.zeros(0)
        self.c_cost = np.zeros(0)
        self.c_acc = np.zeros(0)
        self._mv_key: tuple | None = None  # (month, cohorts) the fleet's market value was worked out for
        self._mv = 0.0
        self.transit: dict[int, list[tuple[int, float, float]]] = {}
        self.in_transit = np.zeros(G)
        self.on_order = np.zeros(G)
        # power
        self.powered_mw = spec.powered_mw * scale
        self.builds: list[tuple[int, float]] = [
            (month_index(b.ready, start), b.mw * scale) for b in spec.mw_pipeline
        ]
        self.mw_lead = spec.mw_lead_months
        self.mw_cost = spec.mw_build_cost
        self.infra_dep = spec.power_infra * scale / (spec.power_infra_years * 12.0)

    def _init_market(self, G: int) -> None:
        self.od = np.full(G, NAN)
        self.rival_min = np.full(G, NAN)  # cheapest rival on-demand price last month, by generation
        self.res = np.full(G, NAN)
        self.spot = np.full(G, NAN)
        self.util_g = np.full(G, self.spec.pricing.target_utilisation)
        self.utilisation = 0.0
        self.committed = np.zeros(G)  # own GPUs serving contracts this month
        self.resale = np.zeros(G)  # GPUs contracted from other providers to resell this month
        self.sold_hours_g = np.zeros(G)  # physical GPU-hours sold this month (contracts + short-term)
        self.own_sold_hours_g = np.zeros(G)
        self.st_sold_eq = 0.0  # H100-equivalent hours sold short-term this month
        self.st_sold_eq_prev = 0.0
        self.orders_this_month = np.zeros(G)  # GPUs ordered from NVIDIA this month, by generation
        self.custom_price_factor = 1.0  # scenario events cut custom-silicon prices through this
        self.custom_uncut = np.full(G, NAN)  # custom-silicon prices before that cut

    def _init_finance(self) -> None:
        spec = self.spec
        self.loans = finance.Loans()
        self.spread_extra = 0.0
        self.status = "ok"
        self.breaches = 0
        self.defaulted = False
        self.restructured_until = -1
        self.sentiment = spec.sentiment
        self.shock = 0.0
        self.market_value = NAN
        self.shares = spec.shares_outstanding * self.scale
        self.hist: list[tuple[float, float, float]] = []  # (revenue, ebitda, debt service) per month
        self.service_month = 0.0
        self._set_cash_buffer()

    # ------------------------------------------------------------------ opening balances
    def open_books(self) -> None:
        """Opening balance sheet: cash paid in by investors, fleet and data centres at cost less
        depreciation to date, and debt owed to lenders (all within the ledger)."""
        m = self.model
        L = m.ledger
        spec = self.spec
        s = self.scale
        L.transfer(m.party["investors"], self.eid, spec.cash * s, "equity")
        life = spec.depreciation_years * 12.0
        start = m.scn.market.start
        for c in spec.fleet:
            g = m.cat.index[c.generation]
            units = round(c.gpus * s)
            if units <= 0:
                continue
            month = month_index(c.installed, start)
            cost = units * c.unit_cost
            acc = float(depreciation.accumulated(np.array([cost]), life, np.array([-month]))[0])
            L.post(self.eid, Acct.GPU_ASSETS, Acct.PAID_IN, cost, "opening")
            L.post(self.eid, Acct.PAID_IN, Acct.ACCUM_DEP, acc, "opening")
            self.add_cohort(g, month, units, c.unit_cost, acc)
        L.post(self.eid, Acct.POWER_INFRA, Acct.PAID_IN, spec.power_infra * s, "opening")
        if spec.debt > 0:  # a floating loan, amortising; then the tranches the scenario lists
            spread = (spec.debt_rate - m.base_rate) if spec.debt_rate is not None else spec.finance.spread
            self.loans.add(spec.debt * s, spread, spec.finance.amort_months)
        for d in spec.debt_tranches:
            amort = spec.finance.amort_months if d.amort_months is None else d.amort_months
            due = month_index(d.matures, start) if d.matures else finance.NEVER
            self.loans.add(d.amount * s, spec.finance.spread if d.spread is None else d.spread, amort,
                           np.nan if d.coupon is None else d.coupon, due)
        debt = self.loans.total()
        if debt > 0:
            L.post(self.eid, Acct.PAID_IN, Acct.DEBT, debt, "opening")
            L.post(m.party["lenders"], Acct.INVESTMENTS, Acct.PAID_IN, debt, "opening")
        if spec.custom_silicon:
            g = m.cat.index[spec.custom_silicon.generation]
            chips = spec.custom_silicon.chips * s
            cost = chips * m.cat.capex(g, m.cat.list_price[g])
            if chips > 0:
                acc = float(depreciation.accumulated(np.array([cost]), life, np.array([12]))[0])
                L.post(self.eid, Acct.GPU_ASSETS, Acct.PAID_IN, cost, "opening")
                L.post(self.eid, Acct.PAID_IN, Acct.ACCUM_DEP, acc, "opening")
                self.add_cohort(g, -12, chips, cost / chips, acc)

    def add_cohort(self, g: int, month: int, units: float, unit_cost: float, depreciated: float = 0.0,
                   born: int | None = None) -> None:
        self.add_cohorts([(g, units, unit_cost)], month, [depreciated], born)

    def add_cohorts(self, items: list[tuple[int, float, float]], month: int, depreciated=None,
                    born: int | None = None) -> None:
        """Install cohorts of (generation, units, unit capex) in ``month`` (with the depreciation
        already booked on them, if any: opening fleets; first installed in ``born``, if earlier:
        GPUs bought used)."""
        if not items:
            return
        g, units, cost = (np.array(x) for x in zip(*items, strict=True))
        self.c_gen = np.append(self.c_gen, g.astype(np.int64))
        self.c_month = np.append(self.c_month, np.full(g.size, month, dtype=np.int64))
        self.c_born = np.append(self.c_born, np.full(g.size, month if born is None else born, dtype=np.int64))
        self.c_units = np.append(self.c_units, units)
        self.c_cost = np.append(self.c_cost, cost)
        self.c_acc = np.append(self.c_acc, np.zeros(g.size) if depreciated is None else depreciated)
        np.add.at(self.installed, g, units)
        np.add.at(self.cost_sum, g, units * cost)
        self._mv_key = None

    def keep_cohorts(self, keep: np.ndarray) -> None:
        """Keep only the cohorts where ``keep`` is true (after a retirement or a sale); the fleet by
        generation is counted again from the cohorts kept, so that no rounding is left behind. A
        generation it no longer has on hand, coming or resold is no longer priced."""
        for name in ("c_gen", "c_month", "c_born", "c_units", "c_cost", "c_acc"):
            setattr(self, name, getattr(self, name)[keep])
        G = self.installed.size
        self.installed[:] = np.bincount(self.c_gen, weights=self.c_units, minlength=G)
        self.cost_sum[:] = np.bincount(self.c_gen, weights=self.c_units * self.c_cost, minlength=G)
        self._mv_key = None
        empty = (self.installed <= 0) & (self.in_transit <= 0) & (self.resale <= 0)
        for prices in (self.od, self.res, self.spot):
            prices[empty] = NAN

    # ------------------------------------------------------------------ the month, part 1
    def receive(self, t: int) -> None:
        """GPUs shipped ``lead_time`` months ago arrive and are installed; MW builds finish; then
        power is given to the fleet."""
        if not self.active and t >= self.active_from and not self.defaulted:
            self.active = True
        if not self.defaulted:
            self.retire(t)
        arrivals = self.transit.pop(t, ())
        for g, units, _ in arrivals:
            self.in_transit[g] -= units
        self.add_cohorts(arrivals, t)
        if self.builds:
            done = [b for b in self.builds if b[0] <= t]
            if done:
                self.powered_mw += sum(mw for _, mw in done)
                self.builds = [b for b in self.builds if b[0] > t]
        self._build_custom(t)
        self.power_fleet()

    def retire(self, t: int) -> float:
        """GPUs at the end of their useful life leave the fleet: every cohort whose age has reached
        its generation's ``useful_life_months`` retires, except as many units of its generation as
        this month's contracts need beyond the younger GPUs (the youngest of the due cohorts are
        held back; they retire when the contracts let them go). The book value left on the units
        retired is written off as depreciation, then they leave the books at cost; their power is
        freed (:meth:`power_fleet` follows in :meth:`receive`). Returns the units retired."""
        m = self.model
        cat = m.cat
        if not self.c_units.size:
            return 0.0
        due = (t - self.c_born) >= cat.useful_life[self.c_gen]
        if not due.any():
            return 0.0
        G = self.installed.size
        younger = np.bincount(self.c_gen[~due], weights=self.c_units[~due], minlength=G)
        held = np.maximum(0.0, m.exchange.committed_ahead(self.name, t, 0) - younger)  # by generation
        idx = np.flatnonzero(due)
        idx = idx[np.lexsort((-self.c_born[idx], self.c_gen[idx]))]  # by generation, youngest first
        units, gen = self.c_units[idx], self.c_gen[idx]
        cum = np.cumsum(units)
        first = np.r_[True, gen[1:] != gen[:-1]]
        before = cum - units - np.maximum.accumulate(np.where(first, cum - units, 0.0))  # within its generation
        gone = units - np.clip(held[gen] - before, 0.0, units)
        total = float(gone.sum())
        if total <= 0:
            return 0.0
        share = gone / units
        cost = gone * self.c_cost[idx]
        acc = self.c_acc[idx] * share  # the depreciation booked on what retires
        left = float(np.maximum(0.0, cost - acc).sum())
        L = m.ledger
        L.post(self.eid, Acct.DEPRECIATION, Acct.ACCUM_DEP, left, "depreciation")  # (the write-off)
        L.post(self.eid, Acct.ACCUM_DEP, Acct.GPU_ASSETS, float(acc.sum()) + left, "disposal")  # (at cost)
        self.c_acc[idx] -= acc
        self.c_units[idx] -= gone
        self.keep_cohorts(self.c_units > 1e-9)
        m.news("retirement", [self.name], "{} retires {:,.0f} GPUs at the end of their useful life "
               "(${:.2f}B of book value written off)", self.name, total, left / 1e9, gpus=total, written_off=left)
        return total

    def _build_custom(self, t: int) -> None:
        """Hyperscalers add in-house chips (overridden)."""

    def power_fleet(self) -> None:
        """GPUs run only where powered MW exist. Power goes first to the GPUs this month's
        contracts need, then to the rest, newest generation first."""
        m = self.model
        cat = m.cat
        kw = self.powered_mw * 1000.0
        installed = self.installed.tolist()
        run = [0.0] * len(installed)
        need = np.minimum(self.installed, m.exchange.committed_ahead(self.name, m.month, 0)).tolist()
        power = cat.power_kw_list
        for want in (need, installed):
            for g in cat.newest_first:
                n = want[g] - run[g]
                if n <= 0 or kw <= 0:
                    continue
                fit = min(n, kw / power[g])
                run[g] += fit
                kw -= fit * power[g]
        self.running[:] = run
        self._set_cash_buffer()

    def rate(self) -> float:
        """The provider's marginal borrowing rate now (``ProviderBook.rates``)."""
        return float(self.model.pbook.rates([self.row])[0])

    def ebitda_annual(self) -> float | None:
        """EBITDA annualised from the last (up to) three months; None before the first month."""
        if not self.hist:
            return None
        recent = self.hist[-3:]
        return sum(h[1] for h in recent) * (12.0 / len(recent))

    def leverage(self) -> float:
        """Debt over EBITDA annualised from the last (up to) three months; before the first
        month is booked there is no EBITDA to judge by, and lenders use the base spread."""
        ebitda = self.ebitda_annual()
        return 0.0 if ebitda is None else float(finance.leverage(self.debt(), ebitda))

    def debt(self) -> float:
        return -float(self._balances[_DEBT])

    def cash(self) -> float:
        return float(self._balances[_CASH])

    # ------------------------------------------------------------------ capacity plan
    def place_order(self, g: int, units: float) -> None:
        self.model.nvidia.book_order(self, g, units)
        self.on_order[g] += units
        self.orders_this_month[g] += units

    def ready_mw(self, month: int) -> float:
        """MW powered by ``month``: powered now and the builds done by then."""
        return self.powered_mw + sum([mw for ready, mw in self.builds if ready <= month])

    def power_room_kw(self) -> float:
        """kW that in-house chips installed now may take without any GPU or chip waiting dark for
        power: the powered kW (with ``power_overbook`` beyond) less the kW of the fleet installed
        and of the GPUs coming, which were ordered against this power."""
        cat = self.model.cat
        coming = self.installed + self.in_transit + self.on_order
        return max(0.0, self.powered_mw * 1000.0 * (1.0 + self.spec.capacity.power_overbook) - float(coming @ cat.power_kw))

    def building_mw(self) -> float:
        """MW under construction: the builds' MW added with Python's ``sum()``."""
        return sum([mw for _, mw in self.builds])

    def build_mw(self, t: int, mw: float) -> float:
        """Start building ``mw``: paid now, powered after the lead time. Returns MW started."""
        m = self.model
        cost = mw * self.mw_cost
        affordable = self.ensure_cash(cost)
        if affordable < cost:
            mw = affordable / self.mw_cost if self.mw_cost > 0 else mw
            cost = affordable
        if mw <= 0:
            return 0.0
        m.ledger.transfer(self.eid, m.party["builders"], cost, "power_build")
        self.infra_dep += cost / (self.spec.power_infra_years * 12.0)
        self.builds.append((t + self.mw_lead, mw))
        return mw

    def take_delivery(self, t: int, g: int, units: float, unit_price: float, lead: int) -> float:
        """NVIDIA ships ``units``: pay for GPUs and systems now (capex), install after ``lead``.
        Returns the units paid for; the rest go back to NVIDIA."""
        m = self.model
        sys_cost = m.cat.system_cost[g]
        total = units * (unit_price + sys_cost)
        affordable = self.ensure_cash(total)
        if affordable < total:
            units = math.floor(affordable / (unit_price + sys_cost))
        if units <= 0:
            return 0.0
        m.ledger.transfer(self.eid, m.nvidia.eid, units * unit_price, "gpu_purchase")
        m.ledger.transfer(self.eid, m.party["suppliers"], units * sys_cost, "system_purchase")
        self.on_order[g] = max(0.0, self.on_order[g] - units)
        self.in_transit[g] += units
        self.transit.setdefault(t + lead, []).append((g, units, unit_price + sys_cost))
        return units

    # ------------------------------------------------------------------ the month, part 2
    def depreciation_due(self, t: int) -> float:
        """This month's depreciation of the fleet (``depreciation.straight_line`` of each cohort over
        the book life), booked on the cohorts."""
        dep = depreciation.straight_line(self.c_units * self.c_cost, self.c_acc, self._book_life, self.c_month <= t)
        self.c_acc = self.c_acc + dep
        return float(dep.sum())

    def debt_service_due(self, t: int) -> tuple[float, float]:
        """This month's interest and principal on every loan; principal is taken off the loans. A
        bullet falling due is refinanced at today's spread (the new rate) as far as the lenders
        would advance it again (:meth:`borrowing_capacity` with the bullet repaid); the rest is
        repaid."""
        maturing = self.loans.maturing(t)
        if maturing > 0:
            rolled = min(maturing, max(0.0, self.borrowing_capacity() + maturing))
            self.loans.refinance(t, rolled, float(self.model.pbook.spreads([self.row])[0]),
                                 self.spec.finance.amort_months)
            self.model.news("refinancing", [self.name], "{} refinances ${:.2f}B of debt falling due at {:.1%}, "
                            "repays ${:.2f}B", self.name, rolled / 1e9,
                            float(self.loans.rates(self.model.base_rate, self.spread_extra)[-1]) if rolled > 0 else 0.0,
                            (maturing - rolled) / 1e9)
        slow = 0.5 if t <= self.restructured_until else 1.0
        interest, principal = self.loans.service(t, self.model.base_rate, self.spread_extra, slow)
        self.service_month = interest + principal
        return interest, principal

    # ------------------------------------------------------------------ financing
    def cash_buffer(self) -> float:
        """Cash kept back: ``min_cash_months`` of overheads and site operations of the running
        fleet (set each time power is given to the fleet)."""
        return self._buffer

    def _set_cash_buffer(self) -> None:
        s = self.spec
        monthly = s.sga_per_month * self.scale + float(self.running.sum()) * self.model.hours * s.opex_per_gpu_hour
        self._buffer = s.finance.min_cash_months * monthly

    def cohort_values(self) -> np.ndarray:
        """What a used GPU of each cohort fetches now (``depreciation.market_value_per_gpu``): the
        schedule, capped by what it still earns over the rest of its useful life at this month's
        on-demand price of its generation times that generation's utilisation, less its cash cost
        (power and site operations), discounted at the provider's borrowing rate (the schedule runs
        from the month the provider installed the cohort, the useful life from the month the GPUs
        were first installed)."""
        m = self.model
        mk = m.scn.market
        cat = m.cat
        t = m.month
        age = t - self.c_month
        g = self.c_gen
        margin = (self.od[g] * self.util_g[g] - m.pbook.cash_cost[self.row, g]) * m.hours
        return depreciation.market_value_per_gpu(self.c_cost, age, mk.economic_life_months, mk.residual_value,
                                                 cat.newer_counts(t)[g], mk.obsolescence,
                                                 cat.useful_life[g] - (t - self.c_born),
                                                 margin, self.rate() / 12.0)

    def fleet_market_value(self) -> float:
        """Market value of the fleet (the collateral): its cohorts at :meth:`cohort_values`; kept
        until the month or the fleet changes."""
        key = (self.model.month, self.c_units.size)
        if self._mv_key != key:
            self._mv, self._mv_key = float(np.dot(self.cohort_values(), self.c_units)), key
        return self._mv

    def borrowing_capacity(self) -> float:
        """What lenders will still advance against the fleet's market value and the
        take-or-pay backlog (both kept until the fleet, the month or the contracts change), less
        the debt of the moment."""
        m = self.model
        f = self.spec.finance
        ltv = max(0.0, f.ltv - m.ltv_cut)
        ig, total = m.exchange.credit_backlog(self.name)
        backlog = ig + f.non_ig_weight * (total - ig)
        return finance.borrowing_capacity(self.fleet_market_value(), ltv, backlog, f.contract_ltv,
                                          self.debt())

    def ensure_cash(self, amount: float) -> float:
        """Make ``amount`` payable: borrow against the fleet and contracts, then raise equity (a
        ``parent_funded`` segment is paid what it needs by its parent instead). Returns how much of
        ``amount`` can be paid while keeping the cash buffer."""
        need = amount + self._buffer - self.cash()
        if need > 0 and self.spec.finance.parent_funded:
            self.model.ledger.transfer(self.model.party["investors"], self.eid, need, "parent_funding")
            return amount
        if need > 0:
            self.borrow(min(need, self.borrowing_capacity()))
            need = amount + self._buffer - self.cash()
        if need > 0:
            self.raise_equity(need)
        return max(0.0, min(amount, self.cash()))

    def borrow(self, amount: float) -> None:
        if amount <= 1.0:
            return
        m = self.model
        self.loans.add(amount, float(m.pbook.spreads([self.row])[0]), self.spec.finance.amort_months)
        m.ledger.transfer(m.party["lenders"], self.eid, amount, "loan")

    def repay(self, amount: float) -> None:
        """Repay ``amount`` of debt early, oldest loans first (``Loans.repay``); what no loan is
        left to take stays in cash."""
        if amount <= 0:
            return
        left = self.loans.repay(amount)
        m = self.model
        m.ledger.transfer(self.eid, m.party["lenders"], amount - left, "repayment")

    def raise_equity(self, amount: float) -> float:
        """Sell new shares to investors at a price set by the market value (public) or the book
        value (private), 10% below; only while sentiment is at least 0.6."""
        m = self.model
        f = self.spec.finance
        if not f.can_raise_equity or self.sentiment < 0.6 or amount <= 0:
            return 0.0
        if self.spec.public:
            value = self.market_value
        else:
            value = m.ledger.book_equity(self.eid)
        if not value > 0:
            return 0.0
        price = 0.9 * value / self.shares
        self.shares += amount / price
        m.ledger.transfer(m.party["investors"], self.eid, amount, "equity")
        m.news("equity_raise", [self.name], f"{self.name} raises ${amount / 1e9:.2f}B of equity at "
               f"${price:.2f} a share")
        self.shock -= 0.03
        return amount

    def end_month(self, t: int, revenue: float, ebitda: float) -> None:
        """Record the month, cover any cash shortfall, test covenants each quarter."""
        self.hist.append((revenue, ebitda, self.service_month))
        self.st_sold_eq_prev = self.st_sold_eq
        if self.defaulted:
            return
        if self.cash() < 0:
            self.ensure_cash(0.0)
        if self.cash() < 0:
            self.model.distress.fire_sale(self, t)
        if self.cash() < 0:
            self.model.distress.default(self, t, "cash ran out")
            return
        if (t + 1) % 3 == 0 and self.debt() > 0 and len(self.hist) >= 3:
            q = self.hist[-3:]
            f = self.spec.finance
            breached, lev, cov = finance.covenant_breached(self.debt(), sum(h[1] for h in q), sum(h[2] for h in q),
                                                           f.max_leverage, f.min_dscr)
            if breached:
                self.model.distress.breach(self, t, lev, cov)
            elif self.status != "ok":
                self.status = "ok"
                self.breaches = 0
                self.model.news("covenant_cured", [self.name], f"{self.name} passes its covenant tests again")


class ProviderBook:
    """Every provider's per-generation state as providers x generations matrices.

    Each provider keeps its familiar attributes (``p.installed``, ``p.od``...), but they are row
    views of these matrices, so that the model can read or reset a quantity for every provider
    in one numpy operation. Code must update them in place (``p.od[g] = x``, ``p.util_g[:] = v``),
    never rebind them.
    """

    FIELDS = ("installed", "running", "cost_sum", "in_transit", "on_order", "od", "rival_min", "res", "spot",
              "util_g", "committed", "resale", "sold_hours_g", "own_sold_hours_g", "orders_this_month",
              "custom_uncut")

    def __init__(self, model: MarketModel, providers: list[Provider]) -> None:
        self.model = model
        self.providers = providers
        self.n = len(providers)
        n_generations = model.cat.n
        self.eids = np.array([p.eid for p in providers], dtype=np.int64)
        self.pue = np.array([p.spec.pue for p in providers])
        self.kwh_price = np.array([p.spec.power_price_kwh for p in providers])
        self.opex_rate = np.array([p.spec.opex_per_gpu_hour for p in providers])
        self.sga = np.array([p.spec.sga_per_month * p.scale for p in providers])
        self.sga_share = np.array([p.spec.sga_share for p in providers])
        self.sbc_share = np.array([p.spec.sbc_share for p in providers])
        self.lease_kw = np.array([p.spec.lease_per_kw_month for p in providers])
        self.infra_months = np.array([p.spec.power_infra_years * 12.0 for p in providers])
        for name in self.FIELDS:
            mat = np.zeros((self.n, n_generations))
            for i, p in enumerate(providers):
                mat[i] = getattr(p, name)
                setattr(p, name, mat[i])
            setattr(self, name, mat)
        for i, p in enumerate(providers):
            p.row = i
        cat = model.cat
        specs = [p.spec for p in providers]
        # what pricing reads: power and site operations per GPU-hour, the scenario's first prices,
        # the book life, the strategy and its terms, and custom silicon
        self.cash_cost = np.array([pricing.cash_cost_per_hour(cat.power_kw, s.pue, s.power_price_kwh,
                                                              s.opex_per_gpu_hour) for s in specs]).reshape(self.n, -1)
        self.initial = np.array([[s.pricing.initial.get(g, np.nan) for g in cat.names] for s in specs]).reshape(self.n, -1)
        self.strategy = np.array([s.pricing.strategy for s in specs])
        self.scarcity = np.zeros((self.n, cat.n))  # each generation's scarcity markup (pricing.scarcity_markup)
        self.turned_away = np.zeros(self.n)  # demand its offers turned away last month, per unit of capacity
        # (every number of the pricing spec, by its name there: a new term reaches its rule by name)
        numbers = [k for k, v in (specs[0].pricing if specs else {}) if isinstance(v, int | float)]
        self.price_terms = {k: np.array([getattr(s.pricing, k) for s in specs], dtype=float) for k in numbers}
        self.cs_gen = np.array([cat.index[s.custom_silicon.generation] if s.custom_silicon else -1 for s in specs])
        self.cs_discount = np.array([s.custom_silicon.price_discount if s.custom_silicon else 0.0 for s in specs])
        # lenders' terms
        self.base_spread = np.array([s.finance.spread for s in specs])
        self.ig_discount = np.array([s.finance.ig_discount for s in specs])
        self.leverage_penalty = np.array([s.finance.leverage_penalty for s in specs])
        self.ebitda = np.full(self.n, np.nan)  # annualised EBITDA (see note_ebitda)
        # what a seller's reservation price and a buyer's score read of it
        neg = model.scn.negotiation
        self.contract_margin = np.array([s.contract_margin if s.contract_margin is not None else neg.min_margin
                                         for s in specs])
        self.trust = np.array([s.trust for s in specs])
        # capacity plans' terms, and the generation each plans in (-1: the newest)
        self.plan_terms = {k: np.array([getattr(s.capacity, k) for s in specs], dtype=float)
                           for k in ("order_ahead_months", "growth_target", "target_utilisation", "max_order_share",
                                     "short_term_share", "mw_buffer", "power_overbook")}
        self.plan_gen = np.array([-1 if s.capacity.generation == "newest" else cat.index[s.capacity.generation]
                                  for s in specs])

    def begin_month(self) -> None:
        """Clear the month's tallies: GPUs committed to contracts and resold, hours sold, orders."""
        for a in (self.committed, self.resale, self.sold_hours_g, self.own_sold_hours_g, self.orders_this_month):
            a[:] = 0.0
        for p in self.providers:
            p.st_sold_eq = 0.0
            p.turn = None

    def receive(self, t: int) -> None:
        """Every provider's arrivals and power (:meth:`Provider.receive`)."""
        for p in self.providers:
            p.receive(t)

    def note_ebitda(self) -> None:
        """Keep every provider's annualised EBITDA (:meth:`Provider.ebitda_annual`; NaN before its
        first month) once the month is booked: lenders read it until the next month is."""
        self.ebitda = np.array([np.nan if (e := p.ebitda_annual()) is None else e for p in self.providers])

    def spreads(self, rows=slice(None)) -> np.ndarray:
        """The lenders' spreads of the providers ``rows`` (all by default) now
        (``finance.spread``): the base spread, less the investment-grade share of the credit
        backlog's discount, plus the penalty on leverage (debt over annualised EBITDA, at most 20;
        none before the first month is booked)."""
        ig, total = self.model.exchange.credit_backlogs()
        ig, total = ig[rows], total[rows]
        ig_share = np.divide(ig, total, out=np.zeros(ig.shape), where=total > 0)
        ebitda = self.ebitda[rows]
        debt = -self.model.ledger.balances[self.eids[rows], _DEBT]
        lev = np.where(np.isnan(ebitda), 0.0, np.minimum(finance.leverage(debt, ebitda), 20.0))
        return finance.spread(self.base_spread[rows], self.ig_discount[rows], ig_share, lev, self.leverage_penalty[rows])

    def rates(self, rows=slice(None)) -> np.ndarray:
        """The marginal borrowing rates of the providers ``rows`` now: the base rate, the spread
        and any extra spread the lenders charge (a rate shock, a breach)."""
        provs = self.providers
        extra = np.array([provs[i].spread_extra for i in np.arange(self.n)[rows].tolist()], dtype=float)
        return np.maximum(0.0, self.model.base_rate + self.spreads(rows) + extra)  # (never below zero)

    def site_per_kw_month(self, rows, rate: np.ndarray) -> np.ndarray:
        """What a kW of data centre costs each provider ``rows`` a month, at its borrowing ``rate``:
        its lease or colocation fee (``lease_per_kw_month``) plus the capital it puts into the site
        itself (``mw_build_cost`` per kW, recovered over ``power_infra_years``). Part of the full
        cost that list prices recover (a contract's walk-away price leaves it out, as sunk:
        ``Exchange.reservation_price``)."""
        build = np.array([p.mw_cost for p in self.providers])[rows] / 1000.0
        return self.lease_kw[rows] + pricing.annuity(build, rate / 12.0, self.infra_months[rows])

    def set_prices(self, t: int, nv_price: np.ndarray) -> None:
        """Every trading provider's on-demand, reserved and spot prices for the month by its
        strategy (``pricing.on_demand``; a human player's company takes those of its turn), for
        every generation it has on hand, resells or has coming. Generations are priced newest
        first: an older one is capped at ``second_life_premium`` times the provider's cheapest
        newer generation per unit of inference work (old GPUs are priced by the work they still
        do), and no list falls more than ``max_cut`` below last month's (``pricing.no_faster_fall``);
        custom silicon last, at least ``price_discount`` below its cheapest GPU per unit of
        inference work, then times any scenario price cut."""
        m = self.model
        cat = m.cat
        for p in self.providers:  # a human player's prices, set where the AI's are
            for g, (od, res, spot) in (p.turn.prices.items() if p.turn is not None else ()):
                p.od[g], p.res[g], p.spot[g] = od, res, spot
        rows = self.live() & ~np.array([p.player for p in self.providers])
        if not rows.any():
            return
        resold = np.array([m.exchange.resale_capacity(p.name, t) for p in self.providers])
        have = self.installed + resold + self.in_transit
        strategy_od, floor, first = self._strategy_prices(nv_price, rows, have)
        premium = m.scn.market.second_life_premium
        q = self.price_terms
        cpf = np.array([p.custom_price_factor for p in self.providers])
        best_eq = np.full(self.n, np.inf)  # cheapest newer price per H100-equivalent hour so far
        # then, newest first, each capped by the work the newer generations do (custom silicon last)
        for g in cat.price_order:
            sel = rows & (have[:, g] > 0)
            if not sel.any():
                continue
            if cat.nvidia[g]:
                od = pricing.within_bounds(strategy_od[:, g], best_eq * cat.inf[g] * premium, floor[:, g])
            else:
                od = strategy_od[:, g]
            od = np.where(first[:, g], self.initial[:, g], od)
            if not cat.nvidia[g]:
                gpu_eq = np.nanmin(np.where(cat.nvidia, self.od / cat.inf, np.nan), axis=1, initial=np.inf)
                cs_inf = cat.inf[np.maximum(self.cs_gen, 0)]
                od = np.where((self.cs_gen >= 0) & np.isfinite(gpu_eq),
                              np.fmin(od, gpu_eq * cs_inf * (1.0 - self.cs_discount)), od)
            # (last month's list before any scenario price cut, which applies in full at once)
            previous = self.od[:, g] if cat.nvidia[g] else self.custom_uncut[:, g]
            od = np.where(first[:, g], od, pricing.no_faster_fall(od, previous, q["max_cut"]))
            if not cat.nvidia[g]:
                self.custom_uncut[:, g] = np.where(sel, od, self.custom_uncut[:, g])
                od = od * cpf
            idle = np.maximum(0.0, 1.0 - self.util_g[:, g])
            res, spot = pricing.reserved_and_spot(od, q["reserved_discount"], q["spot_discount"], idle,
                                                  q["spot_idle_sensitivity"], self.cash_cost[:, g])
            self.od[:, g] = np.where(sel, od, self.od[:, g])
            self.res[:, g] = np.where(sel, res, self.res[:, g])
            self.spot[:, g] = np.where(sel, spot, self.spot[:, g])
            if cat.nvidia[g]:
                best_eq = np.where(sel, np.fmin(best_eq, od / cat.inf[g]), best_eq)

    def _strategy_prices(self, nv_price: np.ndarray, rows: np.ndarray, have: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each generation's on-demand price by its provider's strategy, capped only by full cost x
        (1 + max_markup), with its scarcity markup (moved on where the generation is priced); the
        floor; and where the scenario's first prices stand."""
        m = self.model
        cat = m.cat
        capex = np.divide(self.cost_sum, self.installed, out=np.broadcast_to(nv_price + cat.system_cost, have.shape).copy(),
                          where=self.installed > 0)
        # (capital recovered over the GPU's economic life, its generation's useful life in service,
        # not over the accounting life: how a company books depreciation does not set its prices)
        rate = self.rates()
        full = pricing.full_cost_per_hour(capex, cat.useful_life[None, :], rate[:, None], cat.power_kw,
                                          self.pue[:, None], self.kwh_price[:, None], self.opex_rate[:, None], m.hours,
                                          self.site_per_kw_month(slice(None), rate)[:, None])
        by_row = {k: v[:, None] for k, v in self.price_terms.items()}  # (each provider's terms, across its generations)
        # scarcity: the market's unmet share of demand last month, or the demand its own offers
        # turned away (the larger), and each generation's use
        unmet = m.exchange.unmet_eq / max(float(m.buyers.demand_eq.sum()), 1e-9)
        excess = np.maximum(unmet, self.turned_away)[:, None]
        markup = pricing.scarcity_markup(self.scarcity, self.util_g, excess, by_row["target_utilisation"],
                                         by_row["scarcity_speed"], by_row["scarcity_floor"], by_row["scarcity_cap"])
        previous = np.where(cat.nvidia, self.od, self.custom_uncut) / (1.0 + self.scarcity)
        inp = pricing.PriceInputs(full, self.cash_cost, previous, self.util_g, self.rival_min, np.full(full.shape, np.inf))
        strategy_od = pricing.on_demand(self.strategy[:, None], inp, by_row, markup)
        priced = rows[:, None] & (have > 0)  # (a generation it has none of keeps its markup)
        self.scarcity[priced] = markup[priced]
        floor = pricing.floor_price(inp, by_row["min_margin"])
        return strategy_od, floor, np.isnan(inp.previous) & ~np.isnan(self.initial)

    def plan_capacity(self, t: int, nv_price: np.ndarray, order: list[int]) -> None:
        """Every trading provider's capacity plan (``capacity.plan``), from its expected demand,
        its backlog, its power pipeline and its funding. Over the delivery horizon
        (``order_ahead_months``, at least NVIDIA's lead time and a month): the GPUs its contracts
        need beyond the fleet coming, and growth for expected short-term demand
        (``capacity.growth_gpus``: last month's short-term sales grown at ``growth_target``, at
        ``target_utilisation``; at most ``max_order_share`` of the fleet a month), as far as the MW
        ready when the GPUs can first arrive (powered, and builds done by next month plus NVIDIA's
        lead time) run them, with ``power_overbook`` beyond. Over the provider's MW build lead time
        (or the delivery horizon, if longer): MW for the fleet its contracts and expected demand
        will need then (``capacity.mw_wanted``, with ``mw_buffer`` to spare). All within cash above
        the buffer and what lenders would still advance: contracts first, then growth, then power.
        No provider's plan reads another's, so the plans are worked out at once; the orders and
        builds, which fill NVIDIA's book and move money, follow ``order``; a human player's (its
        ``turn``) come in its company's place, its orders cut to the same budget."""
        m = self.model
        cat = m.cat
        q = self.plan_terms
        rows = self.live() & ~np.array([p.player for p in self.providers])
        lead = m.nvidia.spec.lead_time_months
        horizon = np.maximum(q["order_ahead_months"], lead + 1).astype(np.int64)
        need = m.exchange.committed_within(t, horizon)  # GPUs by provider and generation
        supply = self.installed + self.in_transit + self.on_order
        gp = np.where(self.plan_gen >= 0, self.plan_gen, cat.newest(t))
        st_prev = np.array([p.st_sold_eq_prev for p in self.providers])
        growth = np.minimum(capacity.growth_gpus(st_prev, q["growth_target"], horizon, q["target_utilisation"],
                                                 q["short_term_share"], need,
                                                 supply, cat.inf, cat.inf[gp], m.hours),
                            q["max_order_share"] * np.maximum(self.installed.sum(axis=1), 500.0))
        # the power pipeline: MW powered, under construction, and ready by the GPUs' arrival
        powered = np.array([p.powered_mw for p in self.providers])
        arrival = t + 1 + lead
        ready = np.array([p.ready_mw(arrival) for p in self.providers])
        building = np.array([p.building_mw() for p in self.providers])
        # what a build started now must power: the contracts and expected demand of the month it
        # is done (and at least of the delivery horizon, so that every order placed now is powered)
        later = np.maximum(np.array([p.mw_lead for p in self.providers], dtype=np.int64), horizon)
        need_later = m.exchange.committed_within(t, later)
        growth_later = capacity.growth_gpus(st_prev, q["growth_target"], later, q["target_utilisation"],
                                            q["short_term_share"], need_later, supply, cat.inf, cat.inf[gp], m.hours)
        mw_wanted = capacity.mw_wanted(need_later, supply, growth_later, gp, cat.power_kw, q["mw_buffer"], powered,
                                       building)
        # funding
        cash = m.ledger.balances[self.eids, _CASH]
        turns = np.array([p.turn is not None for p in self.providers])
        lend = np.array([p.borrowing_capacity() if plans else 0.0 for p, plans in zip(self.providers, rows | turns,
                                                                                       strict=True)])
        budget = np.maximum(0.0, cash - np.array([p.cash_buffer() for p in self.providers])) + lend
        unit = np.array(cat.unit_capex(nv_price))
        plan = capacity.plan(np.maximum(0.0, need - supply), growth, gp, unit, cat.power_kw, budget, ready,
                             supply @ cat.power_kw, q["power_overbook"], mw_wanted,
                             np.array([p.mw_cost for p in self.providers]))
        self._place(t, plan, [i for i in order if rows[i] or turns[i]], turns, budget, unit, arrival)

    def _place(self, t: int, plan: capacity.Plan, ordered: list[int], turns: np.ndarray, budget: np.ndarray,
               unit: np.ndarray, arrival: int) -> None:
        """Place the plans' orders (a player's from its ``turn``), then start the MW builds, in ``ordered``."""
        m = self.model
        for i in ordered:
            p = self.providers[i]
            if turns[i]:  # a player's orders, cut to its budget as the plans are
                plan.orders[i] = 0.0
                plan.orders[i, list(p.turn.orders)] = list(p.turn.orders.values())
                plan.beyond_mw[i] = 0.0
                plan.mw[i] = p.turn.mw
                cost = plan.orders[i] @ unit
                if cost > budget[i]:
                    plan.orders[i] = np.floor(plan.orders[i] * budget[i] / cost)
                    m.news("orders_cut", [p.name], "{}'s GPU orders are cut to what it can pay for: ${:.2f}B of "
                           "${:.2f}B", p.name, plan.orders[i] @ unit / 1e9, cost / 1e9)
            for g in np.flatnonzero(plan.orders[i] > 0).tolist():
                p.place_order(g, float(plan.orders[i, g]))
            if plan.beyond_mw[i] >= 1.0:
                m.news("orders_beyond_power", [p.name], "{} orders GPUs needing {:,.0f} MW more than the power ready "
                       "by {}", p.name, float(plan.beyond_mw[i]), m.label(arrival), mw=float(plan.beyond_mw[i]))
        for i in ordered:
            if plan.mw[i] > 0:
                self.providers[i].build_mw(t, float(plan.mw[i]))

    def rival_prices(self) -> None:
        """Set on each trading provider the cheapest *rival* on-demand price per generation last
        month (``rival_min``; NaN where no rival quotes it), which the undercutting strategy
        answers."""
        live = self.live()
        rows = np.flatnonzero(live)
        if not rows.size:
            return
        od = np.where(np.isnan(self.od[rows]), np.inf, self.od[rows])
        order = np.argsort(od, axis=0, kind="stable")
        cols = np.arange(od.shape[1])
        cheapest = od[order[0], cols]
        second = od[order[1], cols] if rows.size > 1 else np.full(od.shape[1], np.inf)
        is_cheapest = order[0][None, :] == np.arange(rows.size)[:, None]
        rival = np.where(is_cheapest, second[None, :], cheapest[None, :])
        self.rival_min[rows] = np.where(np.isinf(rival), np.nan, rival)

    def utilisation(self, hours: float) -> tuple[np.ndarray, float]:
        """The month's utilisation of each generation, of each provider and of the market.
        Of a generation (``util_g``, which pricing reads; kept where nothing could be sold):
        GPU-hours sold over the GPU-hours it could sell, running (powered) and resold. Of a
        provider and of the market: GPU-hours sold over the GPU-hours of every GPU installed
        (powered or not) and resold, so that unpowered and unsold GPUs both count as idle.
        Returns (by provider, market)."""
        sold_g = self.sold_hours_g
        cap_g = (self.running + self.resale) * hours
        np.divide(sold_g, cap_g, out=self.util_g, where=cap_g > 0)
        cap, sold = ((self.installed + self.resale) * hours).sum(axis=1), sold_g.sum(axis=1)
        util = np.divide(sold, cap, out=np.zeros(self.n), where=cap > 0)
        total = cap.sum()
        return util, float(sold.sum() / total) if total > 0 else 0.0

    def unpowered(self) -> np.ndarray:
        """GPUs installed that have no power this month (``Provider.power_fleet``), by provider."""
        return np.maximum(0.0, self.installed - self.running).sum(axis=1)

    def live(self) -> np.ndarray:
        """Providers trading this month: active and not defaulted."""
        return np.array([p.active and not p.defaulted for p in self.providers], dtype=bool)

    def pay_operating(self, t: int) -> None:
        """Every trading provider's monthly costs (none once a company has defaulted and been
        wound up): power for busy and idle GPUs (at ``idle_power_draw``) x PUE x $/kWh to the
        utilities; site operations per running GPU-hour to suppliers; data-centre leases
        (``lease_per_kw_month`` x powered kW, busy or idle) to landlords; overheads
        (``sga_per_month``, a fifth of it before a company is active, plus ``sga_share`` of the
        month's revenue) to suppliers; stock-based compensation (``sbc_share`` of the month's
        revenue, paid in new shares); straight-line depreciation of GPUs and of power
        infrastructure; interest and principal to lenders."""
        m = self.model
        L = m.ledger
        rows = [i for i, p in enumerate(self.providers) if not p.defaulted]
        if not rows:
            return
        utilities, suppliers, lenders = (np.full(len(rows), m.party[name]) for name in ("utilities", "suppliers",
                                                                                         "lenders"))
        idx = np.array(rows, dtype=np.int64)
        ps = [self.providers[i] for i in rows]
        eids = self.eids[idx]
        run_h = self.running[idx] * m.hours
        busy = np.minimum(self.own_sold_hours_g[idx], run_h)
        idle_draw = m.scn.market.idle_power_draw
        kwh = ((busy + idle_draw * (run_h - busy)) * m.cat.power_kw).sum(axis=1) * self.pue[idx]
        L.transfer_many(eids, utilities, kwh * self.kwh_price[idx], "power")
        L.transfer_many(eids, suppliers, run_h.sum(axis=1) * self.opex_rate[idx], "site_opex")
        active = np.array([p.active for p in ps], dtype=bool)
        revenue = np.maximum(0.0, L.opening[eids, Acct.REVENUE] - L.balances[eids, Acct.REVENUE])  # (the month's so far)
        powered_kw = np.array([p.powered_mw for p in ps]) * 1000.0
        L.transfer_many(eids, np.full(len(rows), m.party["landlords"]), powered_kw * self.lease_kw[idx], "lease")
        L.transfer_many(eids, suppliers, self.sga[idx] * np.where(active, 1.0, 0.2) + self.sga_share[idx] * revenue,
                        "sga")
        L.post_many(eids, Acct.SBC, Acct.PAID_IN, self.sbc_share[idx] * revenue, "sbc")
        L.post_many(eids, Acct.DEPRECIATION, Acct.ACCUM_DEP, np.array([p.depreciation_due(t) for p in ps]),
                    "depreciation")
        infra_left = np.maximum(0.0, L.balances[eids, Acct.POWER_INFRA])
        infra = np.minimum([p.infra_dep for p in ps], infra_left)
        L.post_many(eids, Acct.DEPRECIATION, Acct.POWER_INFRA, infra, "depreciation")
        service = np.array([p.debt_service_due(t) for p in ps]).reshape(-1, 2)
        L.transfer_many(eids, lenders, service[:, 0], "interest")
        # (never more principal than the books owe: the loans' sums and the ledger's round apart)
        owed = np.maximum(0.0, -L.balances[eids, _DEBT])
        L.transfer_many(eids, lenders, np.minimum(service[:, 1], owed), "repayment")
