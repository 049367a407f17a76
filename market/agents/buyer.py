"""Buyers of compute: AI labs and enterprise segments.

Their monthly state lives in one struct of numpy arrays (:class:`BuyerBook`) so that ten thousand
buyers cost a few vector operations a month; each buyer is still a Mesa agent (:class:`Buyer`)
that owns its training programme and capacity requests, which only labs have and which are few.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from market.ledger import Acct
from market.mechanisms import demand, funding
from market.mechanisms.clearing import price_response
from market.scenario import BuyerSpec, month_index

if TYPE_CHECKING:
    from market.model import MarketModel


class Buyer(mesa.Agent):
    """One lab or enterprise (or one member of a generated segment)."""

    def __init__(self, model: MarketModel, spec: BuyerSpec, name: str, idx: int, size: float) -> None:
        super().__init__(model)
        self.spec = spec
        self.name = name
        self.kind = spec.kind
        self.idx = idx
        self.eid = model.ledger.index[name]
        self.size = size
        self.defaulted = False
        start = model.scn.market.start
        tr = spec.training
        self.next_project = month_index(tr.first_start, start) if tr else None
        self.project_gpus = tr.gpus * size if tr else 0.0  # size of the next project
        self.last_project_gpus: float | None = None
        self.projects: list[tuple[int, int, float, int]] = []  # (start, end, gpus, generation)
        if tr and tr.current_gpus:
            g = model.cat.index[tr.current_generation]
            self.projects.append((0, tr.current_months_left, tr.current_gpus * size, g))
        self.planned = sorted(
            ((month_index(r.month, start), r) for r in spec.requests), key=lambda x: x[0]
        )

    def training_need(self, t: int) -> float:
        """H100-equivalent GPU-hours its running training projects need this month."""
        cat = self.model.cat
        h = self.model.hours
        return sum(g_units * h * cat.train[g] for s, e, g_units, g in self.projects if s <= t < e)

    def plan(self, t: int) -> None:
        """Issue capacity requests: for the next training project (``lead_months`` ahead), for
        scripted deals, and to keep ``reserve_share`` of inference demand under contract (none
        once it has defaulted)."""
        if self.defaulted:
            return
        m = self.model
        cat = m.cat
        tr = self.spec.training
        if tr is not None and self.next_project is not None and t >= self.next_project - tr.lead_months:
            start = max(self.next_project, t + 1)
            g = cat.newest(start) if self._shipped_by(start) else cat.newest(t)
            gpus = self.project_gpus
            if tr.budget_share is not None:
                gpus = self._affordable(gpus, g, start, tr.budget_share)
            self.last_project_gpus = gpus
            self.projects.append((start, start + tr.duration_months, gpus, g))
            # the share it brings in-house (its own compute arm's) is not asked of the market
            share = tr.contract_share * (1.0 - float(m.buyers.in_house[self.idx]))
            if share > 0:
                m.exchange.request(self, g, int(gpus * share), start, tr.term_months, "training")
            self.next_project += tr.cadence_months
            self.project_gpus *= m.training_growth if m.training_growth is not None else tr.growth
        while self.planned and self.planned[0][0] <= t:
            _, r = self.planned.pop(0)
            start = month_index(r.start, m.scn.market.start)
            m.exchange.request(self, cat.index[r.generation], r.gpus, max(start, t + 1), r.term_months,
                               r.purpose, sellers=tuple(r.sellers))
        if self.spec.reserve_share > 0 and t % 3 == 0:
            self._reserve_inference(t)

    def _affordable(self, planned: float, g: int, start: int, budget_share: float) -> float:
        """The next project cut to what the lab's means carry (``demand.affordable_project``): its
        income in the project's first month against the fees of its contracts live then, each GPU
        at the market's reserved price of generation ``g``; a cut is news."""
        m = self.model
        committed = sum(c.fee for c in m.exchange.by_buyer.get(self.name, ())
                        if c.status in ("pending", "active") and c.start <= start < c.end)
        fee = m.exchange.reference_reserved(g) * m.hours
        gpus = float(demand.affordable_project(planned, m.buyers.income(self.idx, start), committed, budget_share, fee))
        if gpus < planned:
            m.news("training_cut", [self.name], "{} cannot carry its next training project: {:,.0f} GPUs instead of {:,.0f}",
                   self.name, gpus, planned)
        return gpus

    def _shipped_by(self, month: int) -> bool:
        return any(self.model.cat.nvidia[g] and self.model.cat.launch[g] <= month for g in range(self.model.cat.n))

    def _reserve_inference(self, t: int) -> None:
        m = self.model
        cat = m.cat
        book = m.buyers
        ahead = t + 6
        demand = book.inference_at(self.idx, ahead)
        have = m.exchange.contracted_eq(self.name, ahead, "inference")
        gap = self.spec.reserve_share * demand - have
        if gap <= 0:
            return
        g = cat.newest(t)
        gpus = int(gap / (cat.inf[g] * m.hours))
        if gpus >= 8:
            m.exchange.request(self, g, gpus, t + 3, 24, "inference")


class BuyerBook:
    """The monthly state of every buyer as arrays (index = ``Buyer.idx``)."""

    def __init__(self, model: MarketModel, members: list[tuple[BuyerSpec, str, float]]) -> None:
        self.model = model
        n = len(members)
        self.n = n
        specs = [s for s, _, _ in members]
        size = np.array([z for _, _, z in members])
        self.names = [nm for _, nm, _ in members]
        self.eids = np.array([model.ledger.index[nm] for nm in self.names], dtype=np.int64)
        self.ig = np.array([s.investment_grade for s in specs])

        def arr(attr: str) -> np.ndarray:
            return np.array([getattr(s, attr) for s in specs], dtype=float)

        self.size = size
        self.cash0 = arr("cash") * size
        self.funding = arr("funding_per_month") * size  # investors' appetite, $ a month
        self.specs = specs
        self.runway_months, self.round_months = arr("runway_months"), arr("round_months")
        self.growth_weight, self.min_score = arr("round_growth_weight"), arr("round_min_score")
        self.retry = np.array([s.round_retry_months for s in specs], dtype=np.int64)
        self.burn = np.zeros(n)  # net burn a month (smoothed), from the ledger
        self.retry_at = np.zeros(n, dtype=np.int64)  # month it may try again after a failed round
        self.freeze_until = np.full(n, -1, dtype=np.int64)  # funding_freeze: month it ends
        self.freeze_keep = np.ones(n)  # share of appetite a freeze leaves
        self.defaulted = np.zeros(n, dtype=bool)
        self.health = np.ones(n)  # share of investment-grade standing kept (funding.credit_health)
        self.rescued = 0.0  # investors' last-resort cover of negative cash (none in the baseline)
        self.revenue0 = arr("revenue_per_month") * size
        self.revenue_growth = arr("revenue_growth")
        self.inf0 = arr("inference_demand") * size
        self.inf_growth = arr("inference_growth")
        self.ceiling = np.array([np.inf if s.adoption_ceiling is None else s.adoption_ceiling for s in specs])
        self.elasticity = arr("price_elasticity")
        self.ref_price = arr("reference_price")
        self.max_price = self.ref_price * arr("max_price_multiple")  # $ per H100-equivalent hour
        self.spot_frac = arr("spot_fraction")
        self.trust_weight = arr("trust_weight")
        self.switching = arr("switching_cost")
        self.erosion = arr("switching_erosion")
        self.in_house = arr("in_house_share")
        self.max_share = arr("max_share_per_provider")
        self.ceiling_markup = arr("ceiling_markup")
        names = {p.name: i for i, p in enumerate(model.providers)}
        self.captive = np.array([names[s.captive_to] if s.captive_to else -1 for s in specs], dtype=np.int64)
        # this month's figures
        self.demand_eq = np.zeros(n)
        self.inference_eq = np.zeros(n)
        self.contract_eq = np.zeros(n)
        self.spend = np.zeros(n)
        self._end_users = np.full(n, model.party["end_users"], dtype=np.int64)
        self._investors = np.full(n, model.party["investors"], dtype=np.int64)

    def open_books(self) -> None:
        m = self.model
        inv = np.full(self.n, m.party["investors"], dtype=np.int64)
        m.ledger.transfer_many(inv, self.eids, self.cash0, "equity")

    def inference_at(self, i: int, t: int) -> float:
        """Buyer ``i``'s inference demand in month ``t`` before the price answers: its month-0
        demand times its adoption then, less its in-house share."""
        return float(self.inf0[i] * demand.adoption(t, self.inf_growth[i], self.ceiling[i]) * (1.0 - self.in_house[i]))

    def revenue(self, t: int) -> np.ndarray:
        """Every buyer's end-user revenue in month ``t``: its month-0 revenue times its adoption."""
        return self.revenue0 * demand.adoption(t, self.revenue_growth, self.ceiling)

    def income(self, i: int, t: int) -> float:
        """Buyer ``i``'s monthly income in month ``t``: its investors' appetite now (what a freeze
        leaves of it) plus its end-user revenue then."""
        keep = self.freeze_keep[i] if self.model.month < self.freeze_until[i] else 1.0  # (as :meth:`sentiment`)
        return float(self.funding[i] * keep + self.revenue0[i] * demand.adoption(t, self.revenue_growth[i], self.ceiling[i]))

    def step_month(self, t: int, market_price: float, training_need: np.ndarray) -> None:
        """Income arrives; inference demand grows with adoption (``demand.adoption``, up to its
        ceiling) and answers the market price per H100-equivalent hour, which falls as newer
        generations serve more tokens per dollar; switching costs erode."""
        L = self.model.ledger
        L.transfer_many(self._end_users, self.eids, self.revenue(t), "end_user_revenue")
        base = self.inf0 * demand.adoption(t, self.inf_growth, self.ceiling) * (1.0 - self.in_house)
        self.inference_eq = price_response(base, market_price, self.ref_price, self.elasticity)
        self.demand_eq = self.inference_eq + training_need
        self.switching *= 1.0 - self.erosion

    def stop(self, i: int) -> None:
        """Buyer ``i`` has defaulted: it has no more demand, revenue or investors, and buys nothing
        more this month."""
        self.defaulted[i] = True
        self.inf0[i] = self.revenue0[i] = self.funding[i] = 0.0
        self.inference_eq[i] = self.demand_eq[i] = 0.0

    def sentiment(self, t: int) -> np.ndarray:
        """Investors' sentiment towards each buyer: 1, or what a funding freeze leaves of it."""
        return np.where(t < self.freeze_until, self.freeze_keep, 1.0)

    def raise_funds(self, t: int, opening: np.ndarray) -> None:
        """Month end: each buyer's net burn (the month's fall in cash, smoothed half and half with
        the last), then funding rounds by ``funding.funding_round`` for those short of runway (and
        not waiting to retry a failed one); rounds are equity from investors and news (one event
        per named buyer, one per generated segment). Then the credit a buyer's health is worth."""
        m = self.model
        L = m.ledger
        cash = L.balances[self.eids, Acct.CASH]
        month = np.maximum(0.0, opening[self.eids, Acct.CASH] - cash)
        self.burn = np.where(t == 0, month, 0.5 * self.burn + 0.5 * month)
        rev = demand.adoption(t, self.revenue_growth, self.ceiling)
        growth = rev / demand.adoption(t - 12, self.revenue_growth, self.ceiling) - 1.0
        live = ~self.defaulted & (t >= self.retry_at)
        need, ok, size = funding.funding_round(cash, self.burn, np.where(live, self.funding, 0.0), self.sentiment(t),
                                               growth, self.runway_months, self.round_months, self.growth_weight,
                                               self.min_score)
        failed = need & ~ok
        self.retry_at[failed] = t + self.retry[failed]
        if ok.any():
            L.transfer_many(self._investors[ok], self.eids[ok], size[ok], "equity")
        self._round_news(ok, failed, size)
        cash = L.balances[self.eids, Acct.CASH]
        # (a last resort: short-term purchases past its cash; less than a cent is rounding, not a purchase)
        short = np.where(cash < -0.01, -cash, 0.0)
        if short.any():
            self.rescued += float(short.sum())
            L.transfer_many(self._investors, self.eids, short, "equity")
        self.health = funding.credit_health(cash + short, self.burn, self.runway_months,
                                            self.defaulted | (self.retry_at > t))
        m.exchange.touch()

    def _round_news(self, ok: np.ndarray, failed: np.ndarray, size: np.ndarray) -> None:
        """Rounds raised and failed this month as news: one event per [[buyers]] entry."""
        if not (ok.any() or failed.any()):
            return
        m = self.model
        groups: dict[str, list[int]] = {}
        for i in np.flatnonzero(ok | failed).tolist():
            groups.setdefault(self.specs[i].name, []).append(i)
        for name, rows in groups.items():
            r = np.array(rows)
            won, lost = r[ok[r]], r[failed[r]]
            who = name if self.specs[r[0]].count == 1 else f"{name} ({len(r)} members)"
            if won.size:
                m.news("funding_round", [name], "{} raises ${:.2f}B", who, float(size[won].sum()) / 1e9,
                       amount=float(size[won].sum()), members=int(won.size))
            if lost.size:
                m.news("funding_failed", [name], "{} fails to raise a round: investors hold back", who,
                       members=int(lost.size))
