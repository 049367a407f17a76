"""The shared base of every GPU cloud: fleet, power, prices, capacity plan, costs and financing.

Neoclouds and hyperscalers differ only by their scenario parameters and the few hooks their
subclasses override; every rule here is one of the functions in ``market.mechanisms``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from market import portable
from market.compiled import kernels
from market.ledger import (
    N_ACCTS,
    NO_LOG,
    Acct,
    _post_kernel,
    _transfer_kernel,
    log_transfer,
    transfer_codes,
    transfer_into,
)
from market.mechanisms import depreciation, finance, pricing
from market.mechanisms.finance import book_loan, cash_call, spread_of
from market.portable import pairwise_sum, python_sum
from market.scenario import ProviderSpec, month_index

if TYPE_CHECKING:
    from market.model import MarketModel

NAN = float("nan")
_CASH, _DEBT = int(Acct.CASH), int(Acct.DEBT)


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
        # its cash and debt balances, read through the ledger's flat view (the cheapest read)
        self._balances = model.ledger.flat
        self._cash_at = self.eid * N_ACCTS + _CASH
        self._debt_at = self.eid * N_ACCTS + _DEBT
        self.scale = scale
        self._econ_life = float(model.scn.market.economic_life_months)
        self._book_life = spec.depreciation_years * 12.0
        # power and site operations per GPU-hour, and the scenario's first prices, by generation
        self._cash_cost = [pricing.cash_cost_per_hour(kw, spec.pue, spec.power_price_kwh, spec.opex_per_gpu_hour)
                           for kw in cat.power_kw_list]
        self._initial = [spec.pricing.initial.get(name, NAN) for name in cat.names]
        start = model.scn.market.start
        self.active_from = month_index(spec.active_from, start) if spec.active_from else 0
        self.active = self.active_from <= 0
        self.player = False
        # fleet
        self.installed = np.zeros(G)
        self.running = np.zeros(G)
        self.cost_sum = np.zeros(G)  # gross capital cost of installed units, by generation
        # cohorts (generation, install month, units, unit capex) in growable buffers; c_gen,
        # c_month, c_units and c_cost are views of the first _nc entries
        self._nc = 0
        self._latest = -math.inf  # the latest install month of any cohort
        self._cg = np.zeros(16, dtype=np.int64)
        self._cm = np.zeros(16, dtype=np.int64)
        self._cu = np.zeros(16)
        self._cc = np.zeros(16)
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
        # prices and use
        self.od = np.full(G, NAN)
        self.rival_min = np.full(G, NAN)  # cheapest rival on-demand price last month, by generation
        self.res = np.full(G, NAN)
        self.spot = np.full(G, NAN)
        self.util_g = np.full(G, spec.pricing.target_utilisation)
        self.utilisation = 0.0
        self.committed = np.zeros(G)  # own GPUs serving contracts this month
        self.resale = np.zeros(G)  # GPUs contracted from other providers to resell this month
        self.sold_hours_g = np.zeros(G)  # physical GPU-hours sold this month (contracts + short-term)
        self.own_sold_hours_g = np.zeros(G)
        self.st_sold_eq = 0.0  # H100-equivalent hours sold short-term this month
        self.st_sold_eq_prev = 0.0
        # finance
        self.loans = finance.Loans()
        self.spread_extra = 0.0
        self.status = "ok"
        self.breaches = 0
        self.defaulted = False
        self.default_month: int | None = None
        self.restructured_until = -1
        self.sentiment = spec.sentiment
        self.shock = 0.0
        self.market_value = NAN
        self.shares = spec.shares_outstanding * scale
        self.hist: list[tuple[float, float, float]] = []  # (revenue, ebitda, debt service) per month
        self.service_month = 0.0
        self.orders_this_month = np.zeros(G)  # GPUs ordered from NVIDIA this month, by generation
        self.custom_price_factor = 1.0  # scenario events cut custom-silicon prices through this
        self.custom_uncut = np.full(G, NAN)  # custom-silicon prices before that cut
        self._mv_key: tuple | None = None
        self._mv = 0.0
        self._spread_key: tuple | None = None
        self._spread_parts: tuple[float | None, float] = (None, 0.0)
        self._set_cash_buffer()
        # fleet aggregates (see _aggregate), valid until month _agg_until or a cohort changes
        self._agg_until = -math.inf
        # (rows of ProviderBook matrices once the book exists: updated in place, never rebound)
        self._young = np.zeros(G)  # cost of cohorts younger than the economic life, by generation
        self._young_m = np.zeros(G)  # the same weighted by install month
        self._old = np.zeros(G)  # cost of cohorts past the economic life
        self._book = 0.0  # cost of cohorts still within the book life

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
            self._add_cohort(g, month, units, c.unit_cost)
        L.post(self.eid, Acct.POWER_INFRA, Acct.PAID_IN, spec.power_infra * s, "opening")
        if spec.debt > 0:
            debt = spec.debt * s
            spread = (spec.debt_rate - m.base_rate) if spec.debt_rate is not None else spec.finance.spread
            self.loans.add(debt, spread, spec.finance.amort_months)
            L.post(self.eid, Acct.PAID_IN, Acct.DEBT, debt, "opening")
            L.post(m.party["lenders"], Acct.INVESTMENTS, Acct.PAID_IN, debt, "opening")
        if spec.custom_silicon:
            g = m.cat.index[spec.custom_silicon.generation]
            chips = spec.custom_silicon.chips * s
            cost = chips * m.cat.capex(g, m.cat.list_price[g])
            if chips > 0:
                L.post(self.eid, Acct.GPU_ASSETS, Acct.PAID_IN, cost, "opening")
                self._add_cohort(g, -12, chips, cost / chips)
                acc = float(depreciation.accumulated(np.array([cost]), life, np.array([12]))[0])
                L.post(self.eid, Acct.PAID_IN, Acct.ACCUM_DEP, acc, "opening")

    def _add_cohort(self, g: int, month: int, units: float, unit_cost: float) -> None:
        self._add_cohorts([(g, units, unit_cost)], month)

    def _add_cohorts(self, items: list[tuple[int, float, float]], month: int) -> None:
        """Install cohorts of (generation, units, unit capex) in ``month``."""
        if not items:
            return
        n = self._nc
        if n + len(items) > self._cu.size:
            size = max(2 * self._cu.size, n + len(items))
            for name in ("_cg", "_cm", "_cu", "_cc"):
                buf = getattr(self, name)
                grown = np.zeros(size, dtype=buf.dtype)
                grown[:n] = buf[:n]
                setattr(self, name, grown)
        cg, cm, cu, cc = self._cg, self._cm, self._cu, self._cc
        installed, cost_sum, young, young_m = self.installed, self.cost_sum, self._young, self._young_m
        # new cohorts are young by both lives: they join the aggregates, unless these are to be
        # worked out again (installed ahead of time, or not yet worked out)
        ahead = month > self.model.month or self._agg_until == -math.inf
        book = self._book
        for j, (g, u, c) in enumerate(items, start=n):  # a few items: a loop beats np.add.at
            cg[j], cm[j], cu[j], cc[j] = g, month, u, c
            installed[g] += u
            uc = u * c
            cost_sum[g] += uc
            if not ahead:
                young[g] += uc
                young_m[g] += uc * month
                book += uc
        self._nc = n + len(items)
        self._latest = max(self._latest, month)
        self._mv_key = None
        if ahead:
            self._agg_until = -math.inf  # (recompute when next needed)
            return
        self._book = book
        self._agg_until = min(self._agg_until, math.ceil(month + self._econ_life), math.ceil(month + self._book_life))

    @property
    def c_gen(self) -> np.ndarray:
        return self._cg[: self._nc]

    @property
    def c_month(self) -> np.ndarray:
        return self._cm[: self._nc]

    @property
    def c_units(self) -> np.ndarray:
        return self._cu[: self._nc]

    @property
    def c_cost(self) -> np.ndarray:
        return self._cc[: self._nc]

    def keep_cohorts(self, keep: np.ndarray) -> None:
        """Keep only the cohorts where ``keep`` is true (after a sale)."""
        n = int(np.count_nonzero(keep))
        for buf in (self._cg, self._cm, self._cu, self._cc):
            buf[:n] = buf[: self._nc][keep]
        self._nc = n
        self._latest = int(self._cm[:n].max()) if n else -math.inf
        self._mv_key = None
        self._agg_until = -math.inf  # recompute the fleet aggregates

    def _aggregate(self, t: int) -> None:
        """Recompute the fleet aggregates from the cohorts. A cohort's market value per GPU falls
        linearly with age over the economic life L (to ``residual``), so the fleet's value is, by
        generation, (young cost) - (1 - residual) / L x (t x young cost - sum of cost x install
        month) + residual x (old cost), times the obsolescence factor; book depreciation is the
        cost still within the book life over that life. Both hold until a cohort ages past a
        life; then they are recomputed."""
        G = self.model.cat.n
        age = t - self.c_month
        cost = self.c_units * self.c_cost
        young = age < self._econ_life
        book = age < self._book_life
        self._young[:] = np.bincount(self.c_gen, weights=np.where(young, cost, 0.0), minlength=G)
        self._young_m[:] = np.bincount(self.c_gen, weights=np.where(young, cost * self.c_month, 0.0), minlength=G)
        self._old[:] = np.bincount(self.c_gen, weights=np.where(young, 0.0, cost), minlength=G)
        self._book = float(np.sum(np.where(book, cost, 0.0)))
        ends = [math.inf]
        if young.any():
            ends.append(math.ceil(float(self.c_month[young].min()) + self._econ_life))
        if book.any():
            ends.append(math.ceil(float(self.c_month[book].min()) + self._book_life))
        if (age < 0).any():  # a cohort dated ahead of time (valued at cost until then): recompute monthly
            ends.append(t + 1)
        self._agg_until = min(ends)

    # ------------------------------------------------------------------ the month, part 1
    def receive(self, t: int, power: bool = True) -> None:
        """GPUs shipped ``lead_time`` months ago arrive and are installed; MW builds finish; then,
        unless ``power`` is false (``ProviderBook.receive`` powers every fleet at once), power is
        given to the fleet."""
        if not self.active and t >= self.active_from and not self.defaulted:
            self.active = True
        arrivals = self.transit.pop(t, ())
        for g, units, _ in arrivals:
            self.in_transit[g] -= units
        self._add_cohorts(arrivals, t)
        if self.builds:
            done = [b for b in self.builds if b[0] <= t]
            if done:
                self.powered_mw += sum(mw for _, mw in done)
                self.builds = [b for b in self.builds if b[0] > t]
        self._build_custom(t)
        if power:
            self._power_fleet()

    def _build_custom(self, t: int) -> None:
        """Hyperscalers add in-house chips (overridden)."""

    def _power_fleet(self) -> None:
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
        """The provider's marginal borrowing rate now."""
        return self.model.base_rate + self._spread() + self.spread_extra

    def _spread(self) -> float:
        """Its lenders' spread. The parts that do not move with each loan (EBITDA from its history,
        the investment-grade share of its backlog) are kept until its history or contracts change;
        the leverage is taken on the debt of the moment."""
        ex = self.model.exchange
        key = (len(self.hist), ex.version(self.name), ex._billed)
        if key != self._spread_key:
            self._spread_parts = (self._ebitda_annual(), ex.ig_share(self.name))
            self._spread_key = key
        ebitda, ig_share = self._spread_parts
        lev = 0.0 if ebitda is None else finance.leverage(self.debt(), ebitda)
        f = self.spec.finance
        return finance.spread(f.spread, f.ig_discount, ig_share, min(lev, 20.0), f.leverage_penalty)

    def _ebitda_annual(self) -> float | None:
        """EBITDA annualised from the last (up to) three months; None before the first month."""
        if not self.hist:
            return None
        recent = self.hist[-3:]
        return sum(h[1] for h in recent) * (12.0 / len(recent))

    def leverage(self) -> float:
        """Debt over EBITDA annualised from the last (up to) three months; before the first
        month is booked there is no EBITDA to judge by, and lenders use the base spread."""
        ebitda = self._ebitda_annual()
        return 0.0 if ebitda is None else finance.leverage(self.debt(), ebitda)

    def debt(self) -> float:
        return -self._balances[self._debt_at]

    def cash(self) -> float:
        return self._balances[self._cash_at]

    def set_prices(self, t: int, nv_price: np.ndarray) -> None:
        """Every generation it can sell gets on-demand, reserved and spot prices by its strategy.
        An older generation is capped at ``second_life_premium`` times the provider's own cheapest
        newer generation per unit of inference work: old GPUs are priced by the work they still do."""
        if not self.active or self.defaulted or self.player:
            return
        cat = self.model.cat
        premium = self.model.scn.market.second_life_premium
        best_eq = float("inf")  # cheapest newer price per H100-equivalent hour seen so far
        p = self.spec.pricing
        hours = self.model.hours
        monthly_rate = self.rate() / 12.0
        life = self._book_life
        # plain floats: numpy scalars are slow in a loop this small
        installed = self.installed.tolist()
        resold = self.model.exchange.resale_capacity(self.name, t)  # this month's purchases to resell
        have = (self.installed + resold + self.in_transit).tolist()
        cost_sum = self.cost_sum.tolist()
        util = self.util_g.tolist()
        rival = self.rival_min.tolist()
        od_g = self.od.tolist()
        res_g = self.res.tolist()
        spot_g = self.spot.tolist()
        uncut = self.custom_uncut.tolist()
        nv_list = nv_price.tolist()
        inf = cat.inf_list
        is_nv = cat.nvidia_list
        cash_costs = self._cash_cost
        for g in cat.price_order:
            if have[g] <= 0:
                continue
            capex = cost_sum[g] / installed[g] if installed[g] > 0 else cat.capex(g, nv_list[g])
            cash_cost = cash_costs[g]
            full = pricing.annuity(capex, monthly_rate, life) / hours + cash_cost
            # custom silicon: the strategy works on the price before any scenario cut, which
            # then applies once (not again on last month's already-cut price)
            prev = od_g[g] if is_nv[g] else uncut[g]
            if prev != prev and self._initial[g] == self._initial[g]:
                od = self._initial[g]
            else:
                cap = best_eq * inf[g] * premium if is_nv[g] else float("inf")
                inp = pricing.PriceInputs(full, cash_cost, prev, util[g], rival[g], cap)
                od = pricing.on_demand(p.strategy, inp, markup=p.markup, gap=p.undercut,
                                       target=p.target_utilisation, step=p.step, band=p.sticky_band,
                                       min_margin=p.min_margin, max_markup=p.max_markup)
            if not is_nv[g]:
                od = self._custom_cap(od, od_g)
                uncut[g] = od
                od *= self.custom_price_factor
            idle = max(0.0, 1.0 - util[g])
            res_g[g], spot_g[g] = pricing.reserved_and_spot(od, p.reserved_discount, p.spot_discount, idle,
                                                            p.spot_idle_sensitivity, cash_cost)
            od_g[g] = od
            if is_nv[g]:
                best_eq = min(best_eq, od / inf[g])
        self.od[:] = od_g
        self.res[:] = res_g
        self.spot[:] = spot_g
        self.custom_uncut[:] = uncut

    def _custom_cap(self, od: float, prices: list[float]) -> float:
        """Custom silicon is priced at least ``price_discount`` below the provider's cheapest GPU
        offer (``prices``, by generation) per unit of inference work."""
        cat = self.model.cat
        cs = self.spec.custom_silicon
        per_eq = [prices[h] / cat.inf_list[h] for h in range(cat.n) if cat.nvidia_list[h] and prices[h] == prices[h]]
        g = cat.index[cs.generation] if cs else None
        if per_eq and g is not None:
            od = min(od, min(per_eq) * cat.inf_list[g] * (1.0 - cs.price_discount))
        return od

    # ------------------------------------------------------------------ capacity plan
    def plan_capacity(self, t: int, nv_price: np.ndarray) -> None:
        """Order GPUs for contracts that start within the delivery horizon and for short-term
        growth; build MW for the fleet that is coming."""
        if not self.active or self.defaulted or self.player:
            return
        m = self.model
        cat = m.cat
        cp = self.spec.capacity
        horizon = max(cp.order_ahead_months, m.nvidia.spec.lead_time_months + 1)
        # (plain floats over the generations: numpy is slow on arrays this small)
        need = m.exchange.committed_ahead(self.name, t, horizon).tolist()  # GPUs by generation
        installed = self.installed.tolist()
        supply = [a + b + c for a, b, c in zip(installed, self.in_transit.tolist(), self.on_order.tolist(), strict=True)]
        # promised in signed contracts: must be ordered
        contract = [max(0.0, n - s) for n, s in zip(need, supply, strict=True)]
        # speculative growth in the planned generation, at most max_order_share of the fleet a month
        gp = cat.newest(t) if cp.generation == "newest" else cat.index[cp.generation]
        st_eq_target = self.st_sold_eq_prev * (1.0 + cp.growth_target) ** horizon / max(cp.target_utilisation, 0.05)
        free_eq = sum(max(0.0, s - n) * f for s, n, f in zip(supply, need, cat.inf_list, strict=True)) * m.hours
        growth = min(max(0.0, st_eq_target - free_eq) / (cat.inf_list[gp] * m.hours),
                     cp.max_order_share * max(sum(installed), 500.0))
        # afford it: cash above the buffer plus what can be borrowed; contracts first
        unit = cat.unit_capex(nv_price)
        budget = max(0.0, self.cash() - self.cash_buffer()) + self.borrowing_capacity()
        spend = sum(c * u for c, u in zip(contract, unit, strict=True))
        if spend > budget:
            scale = budget / spend if spend > 0 else 0.0
            contract = [c * scale for c in contract]
            growth = 0.0
        else:
            growth = min(growth, (budget - spend) / unit[gp])
        contract[gp] += growth
        for g, units in enumerate(contract):
            units = math.floor(units)
            if units > 0:
                self.place_order(g, float(units))
        self.plan_power(t)

    def place_order(self, g: int, units: float) -> None:
        self.model.nvidia.book_order(self, g, units)
        self.on_order[g] += units
        self.orders_this_month[g] += units

    def plan_power(self, t: int) -> None:
        cat = self.model.cat
        kw = sum((a + b + c) * k for a, b, c, k in zip(self.installed.tolist(), self.in_transit.tolist(),
                                                      self.on_order.tolist(), cat.power_kw_list, strict=True))
        need_mw = kw / 1000.0 * (1.0 + self.spec.capacity.mw_buffer)
        have = self.powered_mw + self.building_mw()
        if need_mw > have:
            self.build_mw(t, need_mw - have)

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
        """This month's straight-line depreciation of the fleet: the cost of cohorts still
        within the book life, over that life."""
        if t >= self._agg_until:
            self._aggregate(t)
        return self._book / self._book_life

    def debt_service_due(self, t: int) -> tuple[float, float]:
        """This month's interest and principal on every loan; principal is taken off the loans."""
        slow = 0.5 if t <= self.restructured_until else 1.0
        interest, principal = self.loans.service(self.model.base_rate, self.spread_extra, slow)
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

    def fleet_market_value(self) -> float:
        """Market value of the fleet (the collateral): every cohort by the used-GPU rule
        (``depreciation.market_value_per_gpu``), from the fleet aggregates; cached until the
        month or the fleet changes."""
        m = self.model
        t = m.month
        key = (t, self._nc)
        if self._mv_key == key:
            return self._mv
        self._mv_key = key
        if t >= self._agg_until:
            self._aggregate(t)
        if self._agg_until <= t + 1 and self._latest > t:  # cohorts dated ahead: cohort by cohort
            mk = m.scn.market
            per = depreciation.market_value_per_gpu(self.c_cost, t - self.c_month, mk.economic_life_months,
                                                    mk.residual_value, m.cat.newer_counts(t)[self.c_gen],
                                                    mk.obsolescence)
            self._mv = portable.dot(per, self.c_units)
            return self._mv
        r = m.scn.market.residual_value
        k = (1.0 - r) / self._econ_life
        value = 0.0
        for f, y, ym, o in zip(m.cat.value_factors(t, m.scn.market.obsolescence), self._young.tolist(),
                               self._young_m.tolist(), self._old.tolist(), strict=True):
            if y or o:
                value += f * (y - k * (t * y - ym) + r * o)
        self._mv = value
        return value

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
                                          -self._balances[self._debt_at])

    def ensure_cash(self, amount: float) -> float:
        """Make ``amount`` payable: borrow against the fleet and contracts, then raise equity.
        Returns how much of ``amount`` can be paid while keeping the cash buffer."""
        balances, at = self._balances, self._cash_at  # (cash(), cash_buffer() read in place)
        need = amount + self._buffer - balances[at]
        if need > 0:
            self.borrow(min(need, self.borrowing_capacity()))
            need = amount + self._buffer - balances[at]
        if need > 0:
            self.raise_equity(need)
        return max(0.0, min(amount, balances[at]))

    def borrow(self, amount: float) -> None:
        if amount <= 1.0:
            return
        m = self.model
        self.loans.add(amount, self._spread(), self.spec.finance.amort_months)
        m.ledger.transfer(m.party["lenders"], self.eid, amount, "loan")

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
            b = m.ledger.balances[self.eid]
            value = -float(b[Acct.PAID_IN:].sum())  # book equity
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
              "custom_uncut", "_young", "_young_m", "_old")

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
        for name in self.FIELDS:
            mat = np.zeros((self.n, n_generations))
            for i, p in enumerate(providers):
                mat[i] = getattr(p, name)
                setattr(p, name, mat[i])
            setattr(self, name, mat)

        # the pricing parameters of every provider, for pricing them all in one compiled call
        cat = model.cat
        self.price_order = np.array(cat.price_order, dtype=np.int64)
        self.is_nvidia = np.asarray(cat.nvidia, dtype=bool)
        self.book_life = np.array([p._book_life for p in providers])
        self.cash_cost = np.array([p._cash_cost for p in providers]).reshape(self.n, n_generations)
        self.initial = np.array([p._initial for p in providers]).reshape(self.n, n_generations)
        self.strategy = np.array([pricing.STRATEGY_CODES[p.spec.pricing.strategy] for p in providers], dtype=np.int64)
        self.price_params = np.array([
            [q.markup, q.undercut, q.target_utilisation, q.step, q.sticky_band, q.min_margin, q.max_markup,
             q.reserved_discount, q.spot_discount, q.spot_idle_sensitivity]
            for q in (p.spec.pricing for p in providers)]).reshape(self.n, 10)
        self._paying: tuple = (None,)  # see pay_operating
        self._loan_rows: list[np.ndarray] | None = None  # see _debt_service
        self._loan_mats: tuple[np.ndarray, ...] = ()
        self._loan_seen = -1  # Loans.regrown when the loans were last looked at
        self.newest_first = np.array(cat.newest_first, dtype=np.int64)
        self.min_cash_months = np.array([p.spec.finance.min_cash_months for p in providers], dtype=float)
        cs = [p.spec.custom_silicon for p in providers]
        self.cs_gen = np.array([cat.index[c.generation] if c else -1 for c in cs], dtype=np.int64)
        self.cs_discount = np.array([c.price_discount if c else 0.0 for c in cs])
        # lenders' terms, and EBITDA annualised from the last three months (NaN before the first is
        # booked; see note_ebitda), for every provider's spread at once (see rates)
        fin = [p.spec.finance for p in providers]
        self.base_spread = np.array([f.spread for f in fin])
        self.ig_discount = np.array([f.ig_discount for f in fin])
        self.leverage_penalty = np.array([f.leverage_penalty for f in fin])
        self.ebitda_annual = np.full(self.n, np.nan)
        self.ltv = np.array([f.ltv for f in fin])
        self.non_ig_weight = np.array([f.non_ig_weight for f in fin])
        self.contract_ltv = np.array([f.contract_ltv for f in fin])
        self.amort_months = np.array([f.amort_months for f in fin], dtype=float)
        self._ltv_cut: float | None = None  # the LTV cut _ltv_now was worked out for
        self._ltv_now = self.ltv
        self.buffer = np.zeros(self.n)  # each provider's cash buffer (see power)
        self.fleet_mv = np.zeros(self.n)  # each fleet's market value this month (see fleet_values)
        self._buffer_month = self._mv_month = -1  # the months they were worked out for
        # what a seller's reservation price reads of it (Exchange.reservation_price): the longest
        # life it prices over, its contract margin, and its trust
        self.life_cap = np.array([p.spec.depreciation_years * 12.0 for p in providers])
        neg = model.scn.negotiation
        self.contract_margin = np.array([p.spec.contract_margin if p.spec.contract_margin is not None else neg.min_margin
                                         for p in providers])
        self.trust = np.array([p.spec.trust for p in providers])
        # capacity plans' fixed terms: months ordered ahead, growth target, target utilisation,
        # largest order share, MW buffer; and the generation each orders (-1: the newest)
        caps = [p.spec.capacity for p in providers]
        self.plan_terms = np.array([[c.order_ahead_months, c.growth_target, c.target_utilisation, c.max_order_share,
                                     c.mw_buffer] for c in caps]).reshape(self.n, 5)
        self.plan_gen = np.array([-1 if c.generation == "newest" else cat.index[c.generation] for c in caps],
                                 dtype=np.int64)

    def note_ebitda(self) -> None:
        """Keep every provider's annualised EBITDA (:meth:`Provider._ebitda_annual`) after the month
        is booked."""
        for i, p in enumerate(self.providers):
            e = p._ebitda_annual()
            self.ebitda_annual[i] = np.nan if e is None else e

    def rates(self, rows: list[int]) -> np.ndarray:
        """The marginal borrowing rates (:meth:`Provider.rate`) of the providers ``rows`` now, in
        one compiled call (``finance.spread_of`` of each; the tests hold them equal)."""
        m = self.model
        ig, total = m.exchange.credit_backlogs()
        out = np.empty(len(rows))
        _compiled().rates(np.array(rows, dtype=np.int64), self.eids, m.ledger.balances, _DEBT, self.ebitda_annual, ig,
                          total, self.base_spread, self.ig_discount, self.leverage_penalty,
                          np.array([self.providers[i].spread_extra for i in rows]), float(m.base_rate), out)
        return out

    def set_prices(self, t: int, nv_price: np.ndarray) -> None:
        """Every trading provider's prices for the month, as :meth:`Provider.set_prices` sets
        them one at a time (no provider's prices depend on another's this month), in one
        compiled call. A human player's company keeps the prices it set."""
        m = self.model
        ps = self.providers
        rows = [i for i, p in enumerate(ps) if p.active and not p.defaulted and not p.player]
        if not rows:
            return
        ex = m.exchange
        rate = self.rates(rows) / 12.0
        idx = np.array(rows, dtype=np.int64)
        resold = np.zeros((idx.size, self.installed.shape[1]))  # (Exchange.resale_capacity of each)
        for j, i in enumerate(rows):
            a = ex._bsched.get(ps[i].name)
            if a is not None and t < a.shape[1]:
                resold[j] = a[:, t]
        have = self.installed[idx] + resold + self.in_transit[idx]
        cpf = np.array([p.custom_price_factor for p in ps])
        cat = m.cat
        pricing.set_prices_all(idx, rate, self.book_life, have, self, nv_price + cat.system_cost,
                               self.cash_cost, self.initial, m.hours, m.scn.market.second_life_premium,
                               self.price_order, cat.inf, self.is_nvidia, self.strategy, self.price_params, cpf,
                               self.cs_gen, self.cs_discount)

    def receive(self, t: int) -> None:
        """Every provider's arrivals (:meth:`Provider.receive`, in order), then power for every
        fleet in one compiled call: the same running GPUs and cash buffers as
        :meth:`Provider._power_fleet` gives one at a time (no provider's power depends on
        another's, nor on its own arrivals' order)."""
        for p in self.providers:
            p.receive(t, power=False)
        self.power(t)
        self.fleet_values(t)

    def fleet_values(self, t: int) -> None:
        """Every provider's :meth:`Provider.fleet_market_value` for month ``t`` from the fleet
        aggregates, in one compiled pass (the same sum, generation by generation, as the method),
        kept as each provider's value for the month. A provider with cohorts dated ahead is left
        to its own method (it values them cohort by cohort)."""
        m = self.model
        rows = []
        for i, p in enumerate(self.providers):
            if t >= p._agg_until:
                p._aggregate(t)
            if not (p._agg_until <= t + 1 and p._latest > t):
                rows.append(i)
        mk = m.scn.market
        r = mk.residual_value
        out = np.empty(len(rows))
        _compiled().fleet_values(np.array(rows, dtype=np.int64), self._young, self._young_m, self._old,
                                 np.array(m.cat.value_factors(t, mk.obsolescence)), t, (1.0 - r) / float(mk.economic_life_months),
                                 r, out)
        for i, v in zip(rows, out.tolist(), strict=True):
            p = self.providers[i]
            p._mv_key, p._mv = (t, p._nc), v
        if len(rows) < self.n:
            self.fleet_mv = np.array([p.fleet_market_value() for p in self.providers])
        else:
            self.fleet_mv = out  # (as each provider's fleet_market_value until a fleet changes)
        self._mv_month = t

    def power(self, t: int) -> None:
        """Power for every fleet (see :meth:`receive`)."""
        ps = self.providers
        m = self.model
        a = m.exchange._sched
        need = a[:, :, t] if t < a.shape[2] else np.zeros_like(self.installed)  # what this month's contracts need
        powered = np.array([p.powered_mw for p in ps])
        buffers = np.empty(self.n)
        _compiled().power(self.installed, np.ascontiguousarray(need), powered, self.newest_first, m.cat.power_kw,
                          self.running, self.sga, float(m.hours), self.opex_rate, self.min_cash_months, buffers)
        for p, b in zip(ps, buffers.tolist(), strict=True):
            p._buffer = b
        self.buffer = buffers  # (as each provider's cash buffer until a fleet is powered again alone)
        self._buffer_month = t

    def plan_capacity(self, t: int, nv_price: np.ndarray, order: list[int]) -> None:
        """Every provider's capacity plan (:meth:`Provider.plan_capacity`), taken in ``order``:
        the same orders with NVIDIA and MW builds, in the same sequence. The plans' arithmetic
        runs in one compiled call first: no provider's plan reads another's (each reads its own
        fleet, contracts, cash and borrowing), so only the orders and builds, which move money
        and fill NVIDIA's book, need the sequence."""
        ps = self.providers
        rows = [i for i in order if ps[i].active and not ps[i].defaulted and not ps[i].player]
        if not rows:
            return
        m = self.model
        cat = m.cat
        lead = m.nvidia.spec.lead_time_months
        k = len(rows)
        idx = np.array(rows, dtype=np.int64)
        fin = self.financing()
        units = np.zeros((k, cat.n))
        build = np.zeros(k)
        _compiled().plan(idx, self.plan_terms, self.plan_gen, cat.newest(t), lead,
                         np.array([ps[i].st_sold_eq_prev for i in rows]), np.array([ps[i].powered_mw + ps[i].building_mw()
                                                                                   for i in rows]),
                         m.ledger.balances, _CASH, _DEBT, self.eids, *fin, m.exchange._sched, t, self.installed,
                         self.in_transit, self.on_order, cat.inf, cat.power_kw, float(m.hours),
                         np.array(cat.unit_capex(nv_price)), units, build)
        # the orders, then the MW builds, each in the plans' order (an order moves no money, and a
        # build touches no order)
        for j, g, u in zip(*np.nonzero(units > 0), units[units > 0].tolist(), strict=True):
            ps[rows[j]].place_order(int(g), u)
        builds = [(i, mw) for i, mw in zip(rows, build.tolist(), strict=True) if mw > 0]
        if builds:
            self._build_all(t, builds, fin)

    def _build_all_reference(self, t: int, builds: list[tuple[int, float]], fin: tuple[np.ndarray, ...]) -> None:
        """:meth:`_build_all` build by build with each provider's own ``build_mw``: the readable
        statement of it."""
        for i, mw in builds:
            self.providers[i].build_mw(t, mw)

    def _build_all(self, t: int, builds: list[tuple[int, float]], fin: tuple[np.ndarray, ...]) -> None:
        """:meth:`Provider.build_mw` of each (provider row, MW) in turn, the payments and any
        loans they need in one compiled call (``_build_kernel``, with ``finance.cash_call``); a
        build that needs new equity, a longer loan book, or cannot be paid in full is left to
        ``build_mw`` itself and the call resumes after it. ``fin``: :meth:`financing`.
        :meth:`_build_all_reference` states it build by build; the tests hold the two equal."""
        m = self.model
        L = m.ledger
        ps = self.providers
        rows = np.array([i for i, _ in builds], dtype=np.int64)
        cost = np.array([mw * ps[i].mw_cost for i, mw in builds])
        size = 2 * len(builds) if L.keep else 0  # (a log of the payments, for the postings kept)
        log = NO_LOG if not size else (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size),
                                       np.empty(size, dtype=np.int64))
        j = 0
        while True:
            mats = self.loan_matrices()
            loan_n = np.array([p.loans.n for p in ps], dtype=np.int64)
            stop, n_log = _compiled().build(j, rows, cost, L.balances.reshape(-1), L.capex, N_ACCTS, int(Acct.CASH),
                                            int(Acct.DEBT), _BUILD_CODES, m.party["builders"], m.party["lenders"],
                                            self.eids, *fin, self.ebitda_annual, self.base_spread, self.ig_discount,
                                            self.leverage_penalty, self.amort_months, *mats, loan_n, *log)
            for p, n in zip(ps, loan_n.tolist(), strict=True):
                p.loans.n = n
            if L.keep:
                L.kept_transfers(log[0][:n_log].tolist(), log[1][:n_log].tolist(), log[2][:n_log].tolist(),
                                 [_BUILD_KINDS[c] for c in log[3][:n_log].tolist()])
            for (i, mw), paid in zip(builds[j:stop], cost[j:stop].tolist(), strict=True):  # (build_mw's own books)
                p = ps[i]
                p.infra_dep += paid / (p.spec.power_infra_years * 12.0)
                p.builds.append((t + p.mw_lead, mw))
            if stop == len(builds):
                return
            i, mw = builds[stop]
            ps[i].build_mw(t, mw)
            j = stop + 1

    def rival_prices(self) -> None:
        """Set on each trading provider the cheapest *rival* on-demand price per generation last
        month (``rival_min``; NaN where no rival quotes it), which the undercutting strategy
        answers. One compiled pass (the rule as numpy: ``MarketModel._price_references``)."""
        _compiled().rivals(self.live(), self.od, self.rival_min)

    def utilisation(self, hours: float) -> tuple[np.ndarray, float]:
        """The month's utilisation of each generation (``util_g``, kept where nothing could be
        sold), of each provider, and of the market: GPU-hours sold over running (and resold)
        GPU-hours. Returns (by provider, market)."""
        util = np.empty(self.n)
        market = _compiled().utilisation(self.running, self.resale, self.sold_hours_g, float(hours), self.util_g,
                                         util)
        return util, market

    def live(self) -> np.ndarray:
        """Providers trading this month: active and not defaulted."""
        return np.array([p.active and not p.defaulted for p in self.providers], dtype=bool)

    def pay_operating(self, t: int) -> None:
        """Every trading provider's monthly costs (none once a company has defaulted and been
        wound up): power for busy and idle GPUs (at ``idle_power_draw``) x PUE x $/kWh to the
        utilities; site operations per running GPU-hour and overheads (a fifth of them before a
        company is active) to suppliers; straight-line depreciation of GPUs and of power
        infrastructure; interest and principal to lenders. The bills and every provider's loan
        service are worked out in compiled calls (:meth:`pay_operating_reference` states it all
        with numpy and each provider's own methods; the tests hold the two equal)."""
        m = self.model
        L = m.ledger
        flags = [p.defaulted for p in self.providers]
        if flags != self._paying[0]:  # the paying rows and their fixed arrays, kept until one defaults
            idx = np.array([i for i, f in enumerate(flags) if not f], dtype=np.int64)
            self._paying = (flags, idx, [self.providers[i] for i in idx.tolist()], self.eids[idx],
                            *(np.full(idx.size, m.party[name]) for name in ("utilities", "suppliers", "lenders")))
        _, idx, ps, eids, utilities, suppliers, lenders = self._paying
        if not idx.size:
            return
        active = np.array([p.active for p in ps], dtype=bool)
        if not L.keep:  # (the postings are kept by the ledger's own calls, below)
            self._pay_compiled(t, idx, ps, eids, utilities, suppliers, lenders, active)
            return
        costs = np.empty((3, idx.size))
        _compiled().operating(self.running, self.own_sold_hours_g, idx, float(m.hours),
                              float(m.scn.market.idle_power_draw), m.cat.power_kw, self.pue, self.kwh_price,
                              self.opex_rate, self.sga, active, costs)
        L.transfer_many(eids, utilities, costs[0], "power")
        L.transfer_many(eids, suppliers, costs[1], "site_opex")
        L.transfer_many(eids, suppliers, costs[2], "sga")
        L.post_many(eids, Acct.DEPRECIATION, Acct.ACCUM_DEP, np.array([p.depreciation_due(t) for p in ps]),
                    "depreciation")
        infra_left = np.maximum(0.0, L.balances[eids, Acct.POWER_INFRA])
        infra = np.minimum([p.infra_dep for p in ps], infra_left)
        L.post_many(eids, Acct.DEPRECIATION, Acct.POWER_INFRA, infra, "depreciation")
        interest, principal = self._debt_service(t, ps, idx)
        L.transfer_many(eids, lenders, interest, "interest")
        L.transfer_many(eids, lenders, principal, "repayment")

    def _pay_compiled(self, t: int, idx: np.ndarray, ps: list[Provider], eids: np.ndarray, utilities: np.ndarray,
                      suppliers: np.ndarray, lenders: np.ndarray, active: np.ndarray) -> None:
        """:meth:`pay_operating`'s bills, depreciation and loan service, and their postings (as the
        ledger's ``transfer_many`` and ``post_many`` make them, in the same order), in one
        compiled call (``_pay_kernel``)."""
        m = self.model
        L = m.ledger
        mats = self.loan_matrices()
        n = np.array([p.loans.n for p in self.providers], dtype=np.int64)
        interest, paid = np.empty(idx.size), np.empty(idx.size)
        dep = np.array([p.depreciation_due(t) for p in ps])
        infra_dep = np.array([p.infra_dep for p in ps])
        extra = np.array([p.spread_extra for p in ps])
        slow = np.array([0.5 if t <= p.restructured_until else 1.0 for p in ps])
        which, bad = _compiled().pay(
            self.running, self.own_sold_hours_g, idx, float(m.hours), float(m.scn.market.idle_power_draw),
            m.cat.power_kw, self.pue, self.kwh_price, self.opex_rate, self.sga, active, L.balances.reshape(-1),
            L.capex, N_ACCTS, int(Acct.CASH), eids, utilities, suppliers, lenders, _PAY_CODES, dep, infra_dep,
            _PAY_ACCOUNTS, *mats, n, float(m.base_rate), extra, slow, interest, paid)
        if which >= 0:
            raise ValueError(f"transfer {_PAY_KINDS[which]}: amounts must be non-negative numbers")
        for p, k, i, pd in zip(ps, n[idx].tolist(), interest.tolist(), paid.tolist(), strict=True):
            p.loans.n = k
            p.service_month = i + pd

    def financing(self) -> tuple[np.ndarray, ...]:
        """What each provider's ``ensure_cash`` reads of its state, as arrays: its cash buffer,
        fleet market value, credit backlog (investment-grade, total) and loan-to-value (after any
        cut), with its lenders' fixed terms (non-investment-grade weight, contract LTV). For NVIDIA's
        shipping and the capacity plans, after the month's arrivals (``receive``): the cash buffers
        and fleet values are those :meth:`power` and :meth:`fleet_values` worked out then (asked
        for in a month before them, each provider's own)."""
        m = self.model
        ig, total = m.exchange.credit_backlogs()
        if self._buffer_month != m.month or self._mv_month != m.month:  # (asked before this month's arrivals)
            self.buffer = np.array([p.cash_buffer() for p in self.providers])
            self.fleet_mv = np.array([p.fleet_market_value() for p in self.providers])
            self._buffer_month = self._mv_month = m.month
        if self._ltv_cut != m.ltv_cut:
            ltv = self.ltv - m.ltv_cut
            self._ltv_now, self._ltv_cut = np.where(ltv > 0.0, ltv, 0.0), m.ltv_cut
        # (the buffers and fleet values as power and fleet_values left them: this month's arrivals)
        return self.buffer, self.fleet_mv, ig, total, self._ltv_now, self.non_ig_weight, self.contract_ltv

    def loan_matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every provider's loans as rows of three matrices (principal, spread, monthly
        repayment; ``Loans.adopt``), built again when a provider has outgrown its row and taken
        new arrays (``Loans.add``), or in a copy of the model (looked at only when some loans have
        taken new arrays since: ``Loans.regrown``)."""
        if self._loan_seen == finance.Loans.regrown:
            return self._loan_mats
        if self._loan_rows is None or any(p.loans.principal is not r
                                          for p, r in zip(self.providers, self._loan_rows, strict=True)):
            cap = max(16, max(p.loans.principal.size for p in self.providers))
            mats = tuple(np.zeros((self.n, cap)) for _ in range(3))
            for i, p in enumerate(self.providers):
                p.loans.adopt(mats[0][i], mats[1][i], mats[2][i])
            self._loan_mats, self._loan_rows = mats, [p.loans.principal for p in self.providers]
        self._loan_seen = finance.Loans.regrown
        return self._loan_mats

    def _debt_service(self, t: int, ps: list[Provider], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Provider.debt_service_due` of the providers ``ps`` (rows ``idx``) in one compiled
        call. Each provider's :class:`~market.mechanisms.finance.Loans` keep their arrays as rows
        of matrices of every provider's loans (built again when one has outgrown its row and
        taken new arrays, or in a copy of the model)."""
        mats = self.loan_matrices()
        n = np.array([p.loans.n for p in self.providers], dtype=np.int64)
        extra = np.array([p.spread_extra for p in ps])
        slow = np.array([0.5 if t <= p.restructured_until else 1.0 for p in ps])
        interest, paid = np.empty(idx.size), np.empty(idx.size)
        _compiled().service(*mats, n, idx, float(self.model.base_rate), extra, slow, interest, paid)
        for p, k, i, pd in zip(ps, n[idx].tolist(), interest.tolist(), paid.tolist(), strict=True):
            p.loans.n = k
            p.service_month = i + pd
        return interest, paid

    def pay_operating_reference(self, t: int) -> None:
        """:meth:`pay_operating` with numpy and each provider's own methods: the readable
        statement of it."""
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
        L.transfer_many(eids, suppliers, self.sga[idx] * np.where(active, 1.0, 0.2), "sga")
        L.post_many(eids, Acct.DEPRECIATION, Acct.ACCUM_DEP, np.array([p.depreciation_due(t) for p in ps]),
                    "depreciation")
        infra_left = np.maximum(0.0, L.balances[eids, Acct.POWER_INFRA])
        infra = np.minimum([p.infra_dep for p in ps], infra_left)
        L.post_many(eids, Acct.DEPRECIATION, Acct.POWER_INFRA, infra, "depreciation")
        service = np.array([p.debt_service_due(t) for p in ps]).reshape(-1, 2)
        L.transfer_many(eids, lenders, service[:, 0], "interest")
        L.transfer_many(eids, lenders, service[:, 1], "repayment")


def _power_rows(installed, need, powered_mw, newest_first, power_kw, running, sga, hours, opex_rate, min_cash_months,
                buffers):  # pragma: no cover - compiled
    """``Provider._power_fleet`` and ``_set_cash_buffer`` for every provider (rows of the matrices),
    with the same operations in the same order: power goes first to the GPUs this month's
    contracts need, then to the rest, newest generation first; the cash buffer is
    ``min_cash_months`` of overheads and site operations of the running fleet."""
    P, G = installed.shape
    run = np.empty(G)
    for i in range(P):
        kw = powered_mw[i] * 1000.0
        for g in range(G):
            run[g] = 0.0
        for pass_ in range(2):
            for j in range(newest_first.shape[0]):
                g = newest_first[j]
                if pass_ == 0:  # numpy's minimum(installed, need)
                    a, b = installed[i, g], need[i, g]
                    want = a if (a <= b or np.isnan(a)) else b
                else:
                    want = installed[i, g]
                n = want - run[g]
                if n <= 0 or kw <= 0:
                    continue
                room = kw / power_kw[g]
                fit = room if room < n else n  # (Python's min(n, room))
                run[g] += fit
                kw -= fit * power_kw[g]
        for g in range(G):
            running[i, g] = run[g]
        buffers[i] = min_cash_months[i] * (sga[i] + pairwise_sum(run, G) * hours * opex_rate[i])


def _plan_rows(rows, plan_terms, plan_gen, newest, lead, st_sold_prev, have_mws, balances, cash, debt, eids, buffer,
               fleet_mv, ig, total, ltv, non_ig, contract_ltv, sched, t, installed, in_transit, on_order, inf, power_kw,
               hours, unit, units, build):  # pragma: no cover - compiled
    """``Provider.plan_capacity`` and ``plan_power`` for the providers ``rows``, with the same
    operations in the same order (Python's min and max spelled out, its sum() by
    ``portable.python_sum``): GPUs to order by generation, floored, into ``units``, and the MW
    to start building into ``build`` (0: none). Each plan's budget is its cash above its buffer
    and what its lenders would still advance (``Provider.borrowing_capacity``, from
    ``ProviderBook.financing``: ``buffer`` to ``contract_ltv``); its fixed terms are
    ``plan_terms`` (months ahead, at least the lead time + 1; growth target; target
    utilisation; largest order share; MW buffer) and ``plan_gen`` (-1: the ``newest``)."""
    G = installed.shape[1]
    width = sched.shape[2]
    contract = np.empty(G)
    need = np.empty(G)
    supply = np.empty(G)
    terms = np.empty(G)  # the terms of one of Python's sum()s
    floats = np.ones(G, dtype=np.bool_)  # (all Python floats)
    for j in range(rows.shape[0]):
        i = rows[j]
        ahead = plan_terms[i, 0]
        horizon = int(lead + 1 if ahead < lead + 1 else ahead)
        growth_target, target_util = plan_terms[i, 1], plan_terms[i, 2]
        max_share, mw_buffer = plan_terms[i, 3], plan_terms[i, 4]
        st_prev, have_mw = st_sold_prev[j], have_mws[j]
        e = eids[i]
        spare = balances[e, cash] - buffer[i]
        room = ltv[i] * fleet_mv[i] + contract_ltv[i] * (ig[i] + non_ig[i] * (total[i] - ig[i])) + balances[e, debt]
        budget = (spare if spare > 0.0 else 0.0) + (room if room > 0.0 else 0.0)
        # GPUs that signed contracts need at most over the horizon (Exchange.committed_ahead)
        for g in range(G):
            top = 0.0
            if t < width:
                top = sched[i, g, t]
                for month in range(t + 1, min(t + horizon + 1, width)):
                    v = sched[i, g, month]
                    if v > top or np.isnan(v):  # (numpy's max)
                        top = v
            need[g] = top
        for g in range(G):
            supply[g] = installed[i, g] + in_transit[i, g] + on_order[i, g]
            x = need[g] - supply[g]
            contract[g] = x if x > 0.0 else 0.0
        q = newest if plan_gen[i] < 0 else plan_gen[i]
        floor_util = 0.05 if 0.05 > target_util else target_util
        st_eq_target = st_prev * (1.0 + growth_target) ** float(horizon) / floor_util
        for g in range(G):
            x = supply[g] - need[g]
            terms[g] = (x if x > 0.0 else 0.0) * inf[g]
        free_eq = python_sum(terms, G, floats) * hours
        for g in range(G):
            terms[g] = installed[i, g]
        fleet = python_sum(terms, G, floats)
        x = st_eq_target - free_eq
        a = (x if x > 0.0 else 0.0) / (inf[q] * hours)
        b = max_share * (500.0 if 500.0 > fleet else fleet)
        growth = b if b < a else a
        for g in range(G):
            terms[g] = contract[g] * unit[g]
        spend = python_sum(terms, G, floats)
        if spend > budget:
            scale = budget / spend if spend > 0 else 0.0
            for g in range(G):
                contract[g] = contract[g] * scale
            growth = 0.0
        else:
            b = (budget - spend) / unit[q]
            growth = b if b < growth else growth
        contract[q] += growth
        for g in range(G):
            u = np.floor(contract[g])
            units[j, g] = u if u > 0 else 0.0
            terms[g] = (installed[i, g] + in_transit[i, g] + (on_order[i, g] + units[j, g])) * power_kw[g]
        kw = python_sum(terms, G, floats)
        need_mw = kw / 1000.0 * (1.0 + mw_buffer)
        build[j] = need_mw - have_mw if need_mw > have_mw else 0.0


def _rivals(live, od, rival_min):  # pragma: no cover - compiled
    """For each generation, the cheapest on-demand price among live providers (missing prices
    count as infinite; ties go to the first provider, as a stable sort does) and the cheapest
    among the others: each live provider's rival price is the cheapest of the others."""
    P, G = od.shape
    n_live = 0
    for i in range(P):
        n_live += live[i]
    if n_live == 0:
        return
    for g in range(G):
        best = np.inf
        first = -1
        for i in range(P):
            if live[i]:
                v = np.inf if np.isnan(od[i, g]) else od[i, g]
                if first < 0 or v < best:
                    best, first = v, i
        second = np.inf
        for i in range(P):
            if live[i] and i != first:
                v = np.inf if np.isnan(od[i, g]) else od[i, g]
                if v < second:
                    second = v
        for i in range(P):
            if live[i]:
                r = second if i == first else best
                rival_min[i, g] = np.nan if np.isinf(r) else r


def _utilisation(running, resale, sold, hours, util_g, util):  # pragma: no cover - compiled
    """``ProviderBook.utilisation``: numpy's whole-array steps in the same order, the row sums
    pairwise as numpy adds them, the market's totals added provider by provider."""
    P, G = running.shape
    cap_g = np.empty(G)
    total_sold = 0.0
    total_cap = 0.0
    for i in range(P):
        for g in range(G):
            c = (running[i, g] + resale[i, g]) * hours
            cap_g[g] = c
            if c > 0:
                util_g[i, g] = sold[i, g] / (c if c >= 1e-9 else 1e-9)
        cap = pairwise_sum(cap_g, G)
        s = pairwise_sum(sold[i], G)
        util[i] = s / cap if cap > 0 else 0.0
        total_sold += s
        total_cap += cap
    return total_sold / total_cap if total_cap > 0 else 0.0


def _operating(running, own_sold, rows, hours, idle_draw, power_kw, pue, kwh_price, opex_rate, sga, active,
               out):  # pragma: no cover - compiled
    """``pay_operating_reference``'s bills for the providers ``rows``, element by element in
    numpy's order (row sums pairwise): power, site operations and overheads into ``out``."""
    G = running.shape[1]
    run_h = np.empty(G)
    kw = np.empty(G)
    for i in range(rows.shape[0]):
        r = rows[i]
        for g in range(G):
            h = running[r, g] * hours
            o = own_sold[r, g]
            busy = o if (o <= h or np.isnan(o)) else h  # (numpy's minimum)
            run_h[g] = h
            kw[g] = (busy + idle_draw * (h - busy)) * power_kw[g]
        out[0, i] = pairwise_sum(kw, G) * pue[r] * kwh_price[r]
        out[1, i] = pairwise_sum(run_h, G) * opex_rate[r]
        out[2, i] = sga[r] * (1.0 if active[i] else 0.2)


def _service(principal, spread, monthly, n, rows, base_rate, extra_spread, slow, interest_out,
             paid_out):  # pragma: no cover - compiled
    """``finance.Loans.service`` for the providers ``rows`` of the loan matrices, loan by loan
    in the same order (see ``finance._service_kernel``)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        interest = 0.0
        paid = 0.0
        k = 0
        for j in range(n[r]):
            p = principal[r, j]
            interest += p * (base_rate + spread[r, j] + extra_spread[i]) / 12.0  # monthly_interest
            pay = p
            if monthly[r, j] * slow[i] < pay:
                pay = monthly[r, j] * slow[i]
            p -= pay
            paid += pay
            if p > 1e-6:
                principal[r, k] = p
                spread[r, k] = spread[r, j]
                monthly[r, k] = monthly[r, j]
                k += 1
        n[r] = k
        interest_out[i] = interest
        paid_out[i] = paid


# the payments of a MW build, as the build kernel's log names them
_BUILD_KINDS = ("power_build", "loan")
_BUILD_CODES = transfer_codes(list(_BUILD_KINDS))


def _build_kernel(j0, rows, cost, flat, capex, n_accts, cash, debt_acct, codes, builders_eid, lenders_eid, p_eid,
                  buffer, fleet_mv, bl_ig, bl_total, ltv, non_ig, contract_ltv, ebitda, base_spread, ig_discount,
                  penalty, amort, loan_p, loan_s, loan_m, loan_n, log_payer, log_payee, log_amount,
                  log_kind):  # pragma: no cover - compiled
    """The payments of ``ProviderBook._build_all``'s builds from build ``j0`` on: each
    provider's ``ensure_cash(cost)`` (``cash_call``; a loan first where it must, ``book_loan``)
    and its payment to the builders. Stops before a build ``ensure_cash`` must take itself and
    returns (that build, payments logged); (len(rows), n) when all are paid."""
    n_log = 0
    for j in range(j0, rows.shape[0]):
        i = rows[j]
        e = p_eid[i]
        debt = -flat[e * n_accts + debt_acct]
        loan, ok = cash_call(flat[e * n_accts + cash], debt, cost[j], buffer[i], fleet_mv[i], bl_ig[i], bl_total[i],
                             ltv[i], non_ig[i], contract_ltv[i], loan_n[i] >= loan_p.shape[1])
        if not ok:
            return j, n_log
        if loan > 0.0:
            book_loan(i, loan, debt, bl_ig[i], bl_total[i], ebitda[i], base_spread[i], ig_discount[i], penalty[i],
                      amort[i], loan_p, loan_s, loan_m, loan_n)
            transfer_into(flat, capex, lenders_eid, e, loan, codes[1, 0], codes[1, 1], n_accts, cash, codes[1, 2] != 0)
            n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, lenders_eid, e, loan, 1)
        if transfer_into(flat, capex, e, builders_eid, cost[j], codes[0, 0], codes[0, 1], n_accts, cash,
                         codes[0, 2] != 0):
            n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, e, builders_eid, cost[j], 0)
    return rows.shape[0], n_log


def _rates(rows, eids, balances, debt_acct, ebitda, ig, total, base_spread, ig_discount, penalty, extra, base_rate,
           out):  # pragma: no cover - compiled
    """``Provider.rate`` of the providers ``rows``: the base rate, plus its lenders' spread at
    its debt now (``spread_of``), plus ``extra``."""
    for j in range(rows.shape[0]):
        i = rows[j]
        s = spread_of(-balances[eids[i], debt_acct], ebitda[i], ig[i], total[i], base_spread[i], ig_discount[i],
                      penalty[i])
        out[j] = base_rate + s + extra[j]


# the payments of the operating costs, as _pay_kernel takes them; the accounts of depreciation
_PAY_KINDS = ("power", "site_opex", "sga", "interest", "repayment")
_PAY_CODES = transfer_codes(list(_PAY_KINDS))
_PAY_ACCOUNTS = np.array([int(Acct.DEPRECIATION), int(Acct.ACCUM_DEP), int(Acct.POWER_INFRA)], dtype=np.int64)


def _pay_kernel(running, own_sold, rows, hours, idle_draw, power_kw, pue, kwh_price, opex_rate, sga, active, flat,
                capex, n_accts, cash, eids, utilities, suppliers, lenders, codes, dep, infra_dep, accounts, principal,
                spread, monthly, n, base_rate, extra, slow, interest, paid):  # pragma: no cover - compiled
    """``ProviderBook.pay_operating``'s sequence in one call: the bills (``_operating``) paid as
    three batches, depreciation of GPUs and of power infrastructure (at most what is left of it)
    posted as two, the loans serviced (``_service``) and interest and principal paid as two more,
    each batch as the ledger's ``_transfer_kernel`` and ``_post_kernel`` post it. Returns (-1, -1),
    or the payment kind and item of a negative or NaN amount (nothing of that batch posted)."""
    k = rows.shape[0]
    costs = np.empty((3, k))
    _operating(running, own_sold, rows, hours, idle_draw, power_kw, pue, kwh_price, opex_rate, sga, active, costs)
    payees = (utilities, suppliers, suppliers)
    for j in range(3):
        bad = _transfer_kernel(flat, capex, eids, payees[j], costs[j], codes[j, 0], codes[j, 1], n_accts, cash,
                               codes[j, 2] != 0)
        if bad >= 0:
            return j, bad
    one_dep = accounts[0:1]
    _post_kernel(flat, eids, one_dep, accounts[1:2], dep, n_accts)
    infra = np.empty(k)
    for i in range(k):  # np.minimum(infra_dep, np.maximum(0.0, what is left)), NaN kept
        x = flat[eids[i] * n_accts + accounts[2]]
        left = 0.0 if (x == x and 0.0 >= x) else x
        d = infra_dep[i]
        infra[i] = d if (d != d or (left == left and d <= left)) else left
    _post_kernel(flat, eids, one_dep, accounts[2:3], infra, n_accts)
    _service(principal, spread, monthly, n, rows, base_rate, extra, slow, interest, paid)
    for j, amounts in ((3, interest), (4, paid)):
        bad = _transfer_kernel(flat, capex, eids, lenders, amounts, codes[j, 0], codes[j, 1], n_accts, cash,
                               codes[j, 2] != 0)
        if bad >= 0:
            return j, bad
    return -1, -1


def _fleet_values(rows, young, young_m, old, factors, t, k, r, out):  # pragma: no cover - compiled
    """``Provider.fleet_market_value`` (its sum over the fleet aggregates) of the providers ``rows``."""
    for j in range(rows.shape[0]):
        i = rows[j]
        value = 0.0
        for g in range(young.shape[1]):
            y = young[i, g]
            o = old[i, g]
            if y != 0.0 or o != 0.0:
                value += factors[g] * (y - k * (t * y - young_m[i, g]) + r * o)
        out[j] = value


_compiled = kernels((pairwise_sum, python_sum, transfer_into, spread_of, cash_call, book_loan, _transfer_kernel,
                     _post_kernel, _operating, _service, log_transfer),
                    pay=_pay_kernel, build=_build_kernel, rates=_rates, fleet_values=_fleet_values, power=_power_rows, plan=_plan_rows, rivals=_rivals,
                    utilisation=_utilisation, operating=_operating, service=_service)


def warm_up() -> None:
    """Load the compiled fleet power, capacity plans, rival prices and utilisation now."""
    one = np.ones((1, 1))
    _compiled().rivals(np.ones(1, dtype=bool), one, np.zeros((1, 1)))
    _compiled().utilisation(one, one, one, 1.0, np.zeros((1, 1)), np.zeros(1))
    rows, z = np.zeros(1, dtype=np.int64), np.zeros(1)
    _compiled().operating(one, one, rows, 1.0, 0.5, z, z, z, z, z, np.ones(1, dtype=bool), np.zeros((3, 1)))
    _compiled().service(one, one, one, np.ones(1, dtype=np.int64), rows, 0.0, z, z, np.zeros(1), np.zeros(1))
    z1 = np.zeros(1)
    _compiled().plan(np.zeros(1, dtype=np.int64), np.ones((1, 5)), np.zeros(1, dtype=np.int64), 0, 1, z1, z1,
                     np.zeros((1, N_ACCTS)), 0, 6, np.zeros(1, dtype=np.int64), z1, z1, z1, z1, z1, z1, z1,
                     np.zeros((1, 1, 1)), 0, one, one, one, np.ones(1), np.ones(1), 1.0, np.ones(1), np.zeros((1, 1)),
                     np.zeros(1))
    _compiled().power(one, one, np.ones(1), np.zeros(1, dtype=np.int64), np.ones(1), np.zeros((1, 1)), np.ones(1), 1.0,
                      np.ones(1), np.ones(1), np.zeros(1))
    _compiled().fleet_values(rows, one, one, one, np.ones(1), 0, 0.5, 0.1, np.zeros(1))
    i = np.zeros(1, dtype=np.int64)
    _compiled().pay(one, one, i, 1.0, 0.5, z, z, z, z, z, np.ones(1, dtype=bool), np.zeros(2 * N_ACCTS), np.zeros(2),
                    N_ACCTS, 0, i, i + 1, i + 1, i + 1, _PAY_CODES, z, z, _PAY_ACCOUNTS, one.copy(), one.copy(), one.copy(),
                    np.zeros(1, dtype=np.int64), 0.0, z, np.ones(1), np.zeros(1), np.zeros(1))
    _compiled().rates(i, i, np.zeros((1, N_ACCTS)), 6, z, z, z, z, z, z, z, 0.0, np.zeros(1))
    _compiled().build(0, i, z, np.zeros(N_ACCTS), np.zeros(1), N_ACCTS, 0, 6, _BUILD_CODES, 0, 0, i, z, z, z, z, z, z, z, z,
                      z, z, z, z, one, one, one, i.copy(), i.copy(), i.copy(), np.zeros(2), i.copy())
