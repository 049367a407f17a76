"""The marketplace: capacity requests and their negotiation, take-or-pay contracts, and the
monthly short-term (on-demand and spot) market. The rules come from ``market.mechanisms``; this
module applies them to the agents and moves the money through the ledger."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from market.contracts import STATUS_CODE, Contract, ContractBook, Request, remaining_value
from market.ledger import Acct
from market.mechanisms import allocation, clearing, depreciation, funding, negotiation, pricing, service, valuation

if TYPE_CHECKING:
    from market.agents.provider import Provider
    from market.model import MarketModel

# months of signed contracts a seller counts against its power when offering
PROMISE_HORIZON = 36
# months of NVIDIA's output a delivery date is worked out over
DELIVERY_HORIZON = 36
_PREPAID, _DEFERRED, _REVENUE = int(Acct.PREPAID), int(Acct.DEFERRED_REVENUE), int(Acct.REVENUE)
_ACTIVE = STATUS_CODE["active"]  # (pending and active, the codes up to it, are live)


class Exchange:
    """Requests, contracts and the short-term market of one model."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.requests: list[Request] = []
        self.contracts: list[Contract] = []
        self.by_seller: dict[str, list[Contract]] = {}
        self.by_buyer: dict[str, list[Contract]] = {}
        self._next_request = 0
        self._next_contract = 0
        self.ig: set[str] = {b.name for b in model.buyer_agents if b.spec.investment_grade}
        self.ig |= {p.name for p in model.providers if p.kind == "hyperscaler"}
        # GPUs by generation x month promised in live (pending or active) contracts, per seller
        # and per buyer: kept as contracts are added and end, so commitments are a slice
        # (sellers are providers: their schedules are one providers x generations x months array)
        self._prow = {p.name: i for i, p in enumerate(model.providers)}
        self._sched = np.zeros((len(model.providers), model.cat.n, 64))
        self._bsched: dict[str, np.ndarray] = {}
        self._known: dict[int, list] = {}  # providers each buyer knows of, from its consideration set
        # each contract's terms for serving (_contract_terms), a column per contract as added:
        # integers (rows and entities, generation, resale, inference) and amounts
        self._iterms = np.zeros((9, 64), dtype=np.int64)
        self._fterms = np.zeros((4, 64))
        self.book = ContractBook()  # and what changes as contracts are served, a column per contract
        self._plan: SimpleNamespace | None = None  # see _serve_plan
        # the consideration sets' index arrays for the short-term market, kept for the run
        self._consider_key: np.ndarray | None = None
        self._payers = self._payees = np.zeros(0, dtype=np.int64)
        self._consider: SimpleNamespace | None = None  # (clearing.consideration)
        self._credit: np.ndarray | None = None  # every seller's credit backlog (see credit_backlogs)
        self._top: np.ndarray | None = None  # every seller's largest buyer's share (see top_customer_shares)
        self.player_answers: dict[int, tuple[str, float, float | None]] = {}  # request id -> (action, price, floor)
        self.quoted: dict[int, list[dict]] = {}  # request id -> the offers when last negotiated (offers_on)
        self.exclusions: dict[tuple[str, str], int] = {}  # (buyer, seller) -> month it ends
        self.signed_this_month = 0
        self.unpaid_fees = 0.0  # termination fees owed by defaulting buyers and never paid (sellers' loss)
        # short-term market results
        self.st_revenue = 0.0
        self.st_eq = 0.0
        self.st_hours = 0.0
        self.st_inference_hours = 0.0
        self.unmet_eq = 0.0
        self.contract_hours = 0.0
        self.contract_inference_hours = 0.0
        self.demand_hours = 0.0
        self.offers: list[tuple[Provider, bool]] = []
        self._build_offers()
        # the market's figures that do not move while requests are negotiated (see _fixed_while)
        self._negotiating: dict | None = None

    # ------------------------------------------------------------------ lookups
    def new_contract_id(self) -> int:
        """The id of the next contract signed (ids follow signing order)."""
        self._next_contract += 1
        return self._next_contract - 1

    def touch(self) -> None:
        """Contracts changed (or a month was billed): the backlog figures are worked out again
        when next asked for."""
        self._credit = self._top = None

    def _live_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """The live contracts' terms (rows of ``_iterms``) and remaining value (``contracts.remaining_value``)."""
        cols = np.flatnonzero(self.book.status[: self.book.n] <= _ACTIVE)
        it = np.take(self._iterms, cols, axis=1)
        return it, remaining_value(np.take(self._fterms[1], cols), it[8], np.take(self.book.billed, cols))

    def credit_backlogs(self) -> tuple[np.ndarray, np.ndarray]:
        """Every seller's (investment-grade backlog, total backlog), the remaining value of its
        live contracts, as two arrays in the providers' order (kept until contracts change or a
        month is billed; not to be written to)."""
        if self._credit is None:
            it, value = self._live_terms()
            # an investment-grade buyer's backlog counts as far as its health goes (funding.credit_health)
            own = it[5] == 0
            weight = (it[7] > 0).astype(float)
            weight[own] *= self.model.buyers.health[it[3][own]]
            self._credit = service.credit_backlogs(it[0], value, weight, len(self._prow))
        return self._credit[0], self._credit[1]

    def credit_backlog(self, seller: str) -> tuple[float, float]:
        """:meth:`credit_backlogs` of one seller."""
        ig, total = self.credit_backlogs()
        i = self._prow[seller]
        return float(ig[i]), float(total[i])

    def top_customer_shares(self) -> np.ndarray:
        """Every seller's largest buyer's share of its backlog, in the providers' order (kept, like
        :meth:`credit_backlogs`, until contracts change or a month is billed; not to be written to)."""
        if self._top is None:
            it, value = self._live_terms()
            self._top = service.top_buyer_shares(it[0], it[2], value, len(self._prow))
        return self._top

    def backlog(self, seller: str) -> tuple[float, float, list[tuple[str, float]]]:
        """Remaining contracted value (:meth:`credit_backlogs`), the largest buyer's share of it
        (:meth:`top_customer_shares`), and buyers by value, largest first."""
        it, value = self._live_terms()
        row = self._prow[seller]
        mine = it[0] == row
        per = np.bincount(it[2][mine], weights=value[mine], minlength=1)
        names = self.model.ledger.names
        ranked = sorted(((names[e], float(per[e])) for e in np.flatnonzero(per > 0).tolist()), key=lambda kv: -kv[1])
        return float(self.credit_backlogs()[1][row]), float(self.top_customer_shares()[row]), ranked

    def _schedule(self, c: Contract, sign: float) -> None:
        """Add (``sign`` = 1) or remove (-1) a live contract's GPUs in the months it runs."""
        lo, hi = max(c.start, 0), c.end
        if hi <= lo:
            return
        a = self._sched
        if a.shape[2] < hi:
            grown = np.zeros(a.shape[:2] + (max(hi, 2 * a.shape[2]),))
            grown[:, :, : a.shape[2]] = a
            self._sched = a = grown
        b = self._bsched.get(c.buyer)
        if b is None or b.shape[1] < hi:
            grown = np.zeros((self.model.cat.n, max(hi, 2 * (0 if b is None else b.shape[1]), 64)))
            if b is not None:
                grown[:, : b.shape[1]] = b
            self._bsched[c.buyer] = b = grown
        a[self._prow[c.seller], c.generation, lo:hi] += sign * c.gpus
        b[c.generation, lo:hi] += sign * c.gpus

    def end_contract(self, c: Contract, status: str) -> None:
        """A live contract ends (completed, cancelled or reassigned): it no longer commits GPUs, and
        the backlog figures are worked out again (:meth:`touch`)."""
        c.status = status
        self._schedule(c, -1.0)
        self.touch()

    def committed_ahead(self, seller: str, t: int, horizon: int) -> np.ndarray:
        """GPUs by generation that the seller's live contracts need at most over months
        t..t+horizon."""
        a = self._sched
        if t >= a.shape[2]:
            return np.zeros(self.model.cat.n)
        a = a[self._prow[seller]]
        if horizon == 0:
            return a[:, t].copy()
        return a[:, t : t + horizon + 1].max(axis=1)

    def committed_within(self, t: int, horizons: np.ndarray) -> np.ndarray:
        """GPUs by provider and generation that each seller's live contracts need at most over
        months t..t+horizon (``horizons``: one per provider)."""
        a = self._sched
        P, G, T = a.shape
        if t >= T:
            return np.zeros((P, G))
        window = a[:, :, t : t + int(horizons.max()) + 1]
        months = np.arange(window.shape[2])
        return np.where(months[None, None, :] <= horizons[:, None, None], window, 0.0).max(axis=2)

    def resale_capacity(self, buyer: str, t: int) -> np.ndarray:
        """GPUs by generation a reseller has bought for month ``t`` (before they are delivered)."""
        a = self._bsched.get(buyer)
        if a is None or t >= a.shape[1]:
            return np.zeros(self.model.cat.n)
        return a[:, t].copy()

    def contracted_eq(self, buyer: str, month: int, purpose: str | None = None) -> float:
        cat = self.model.cat
        h = self.model.hours
        total = 0.0
        for c in self.by_buyer.get(buyer, ()):
            if c.status in ("pending", "active") and c.start <= month < c.end and (purpose is None or c.purpose == purpose):
                total += c.gpus * h * (cat.inf[c.generation] if c.purpose == "inference" else cat.train[c.generation])
        return total

    def _fixed_while(self, key, compute):
        """``compute()``, worked out once under ``key`` while :meth:`negotiate_all` runs: what it
        reads (providers' prices and who trades, NVIDIA's prices, the catalogue) is set before the
        requests are negotiated and signing moves none of it. Outside negotiation, every time."""
        kept = self._negotiating
        if kept is None:
            return compute()
        if key not in kept:
            kept[key] = compute()
        return kept[key]

    def _mean_quote(self, prices: np.ndarray) -> float | None:
        """The mean of a price column (one per provider) over the trading providers that quote it;
        None if none does."""
        quotes = prices[self._fixed_while("live", self.model.pbook.live) & ~np.isnan(prices)]
        return float(np.mean(quotes)) if quotes.size else None

    def reference_reserved(self, g: int) -> float:
        """The market's reserved price for a generation: the mean of providers that quote it, or,
        for a generation nobody sells yet, a cost-plus estimate at NVIDIA's current price."""
        return self._fixed_while(("reserved", g), lambda: self._reserved_or_cost(g))

    def _reserved_or_cost(self, g: int) -> float:
        """:meth:`reference_reserved`, worked out."""
        m = self.model
        quoted = self._mean_quote(m.pbook.res[:, g])
        if quoted is not None:
            return quoted
        cat = m.cat
        neg = m.scn.negotiation  # (a builder's costs, as a buyer building in-house counts them)
        full = pricing.full_cost_per_hour(cat.capex(g, m.nvidia.price[g]), 72.0, m.base_rate + 0.045,
                                          cat.power_kw[g], neg.build_pue, neg.build_power_price_kwh,
                                          neg.build_opex_per_gpu_hour, m.hours, neg.build_site_per_kw_month)
        return full * 1.6 * 0.8

    # ------------------------------------------------------------------ requests and negotiation
    def request(self, buyer, g: int, gpus: int, start: int, term: int, purpose: str,
                sellers: tuple[str, ...] = ()) -> Request | None:
        """Open a request for ``gpus`` of generation ``g`` from ``start`` for ``term`` months, to
        every provider the buyer knows or to ``sellers`` alone (a directed deal)."""
        m = self.model
        if gpus <= 0:
            return None
        ceiling, _ = self.buyer_ceiling(buyer.name, g, purpose, m.month)
        # (a reselling provider has neither: it takes the best offers first, as much as each has)
        max_share = getattr(buyer.spec, "max_share_per_provider", 1.0)
        sensitivity = getattr(buyer.spec, "award_sensitivity", 100.0)
        r = Request(self._next_request, buyer.name, g, int(gpus), start, term, ceiling, purpose, m.month,
                    int(gpus), max_share, sensitivity, sellers)
        self._next_request += 1
        self.requests.append(r)
        m.news("request", [buyer.name], "{} seeks {:,} {} GPUs from {} for {} months (ceiling ${:.2f}/GPU-hour)",
               buyer.name, gpus, m.cat.names[g], m.label(start), term, ceiling, request_id=r.request_id)
        return r

    def buyer_ceiling(self, name: str, g: int, purpose: str, t: int) -> tuple[float, str]:
        """A buyer's ceiling for GPUs of generation ``g`` in month ``t``: its reservation price
        (``negotiation.buyer_reservation``: the cheapest of the mean posted spot price plus a risk
        premium, the full cost of building in-house if it can build, and the next NVIDIA
        generation's reference price per unit of this one's throughput, after the cost of waiting
        for its launch and NVIDIA's lead time) times ``1 + ceiling_markup``; and the outside option that sets it."""
        m = self.model
        cat, pb, neg = m.cat, m.pbook, m.scn.negotiation
        spec = m.agent_by_name[name].spec
        spot = self._fixed_while(("spot", g), lambda: self._mean_quote(pb.spot[:, g]))
        spot = math.inf if spot is None else spot
        own = math.inf
        if getattr(spec, "can_build", False):
            capex = cat.capex(g, m.nvidia.price[g] if cat.nvidia[g] else cat.list_price[g])
            own = float(pricing.full_cost_per_hour(capex, float(cat.useful_life[g]), spec.cost_of_capital,
                                                   cat.power_kw[g], neg.build_pue, neg.build_power_price_kwh,
                                                   neg.build_opex_per_gpu_hour, m.hours,
                                                   neg.build_site_per_kw_month))
        perf = cat.train if purpose == "training" else cat.inf
        later = np.flatnonzero(cat.nvidia & (cat.launch > max(t, int(cat.launch[g]))) & (perf > perf[g]))
        wait, months = math.inf, 0.0
        if later.size:
            h = int(later[np.argmin(cat.launch[later])])
            wait, months = self.reference_reserved(h) * perf[g] / perf[h], float(cat.launch[h] - t + m.nvidia.spec.lead_time_months)
        delay = neg.training_delay_cost if purpose == "training" else neg.inference_delay_cost
        res, option = negotiation.buyer_reservation(spot, neg.spot_risk_premium, own, wait, months, delay)
        if not math.isfinite(res):  # no outside option at all: the market's reference price
            res, option = self.reference_reserved(g), "none"
        return res * (1.0 + getattr(spec, "ceiling_markup", 0.3)), option  # (a hyperscaler reselling: 0.3)

    def open_requests(self) -> list[Request]:
        return [r for r in self.requests if r.open]

    def eligible_sellers(self, r: Request) -> list[Provider]:
        """Providers that may answer a request: active, able to supply the generation, within the
        buyer's consideration set (a captive buyer's: its own provider; a reseller's: neoclouds)
        and among the request's ``sellers`` if it names them."""
        m = self.model
        buyer = m.agent_by_name[r.buyer]
        captive = getattr(buyer.spec, "captive_to", None)
        out = []
        pool = m.providers
        if hasattr(buyer, "idx") and len(self.offers) > m.consider.shape[1]:
            pool = self._known.get(buyer.idx)
            if pool is None:  # the consideration sets are drawn once for the run
                known = {int(self.offer_provider[o]) for o in m.consider[buyer.idx] if o >= 0}
                pool = self._known[buyer.idx] = [m.providers[i] for i in sorted(known)]
        for p in pool:
            if not p.active or p.defaulted or p.name == r.buyer:
                continue
            if (captive and p.name != captive) or (r.sellers and p.name not in r.sellers):
                continue
            if self.exclusions.get((r.buyer, p.name), -1) > m.month:
                continue
            if buyer.kind == "hyperscaler" and p.kind != "neocloud":
                continue
            if not m.cat.nvidia[r.generation] and p.installed[r.generation] <= 0:
                continue
            out.append(p)
        return out

    def gpus_ready(self, g: int, gpus, t: int):
        """The month ``gpus`` more GPUs of generation ``g`` ordered in month ``t`` could be
        installed: when NVIDIA's output from next month (``allocation.delivery_wait``) has shipped
        the queue, i.e. its open orders, the GPUs that sellers' signed contracts need beyond what
        they have or have ordered, and these; before a launch, also the rest of the world's
        orders at launch; then the lead time. Custom silicon the next month. Numbers or arrays."""
        m = self.model
        cat = m.cat
        gpus = np.asarray(gpus, dtype=float)
        if not cat.nvidia[g]:
            return np.full(gpus.shape, t + 1)
        pb = m.pbook
        # the GPUs signed contracts need beyond the fleet, what is coming and ordered (generation
        # ``g``'s column alone: every seller's other generations are not read)
        col = slice(g, g + 1)
        fleet = pb.installed[:, g] + pb.in_transit[:, g] + pb.on_order[:, g]
        promised = service.promised_gpus(slice(None), pb.installed[:, col], pb.in_transit[:, col], pb.on_order[:, col],
                                         self._sched[:, col], t, PROMISE_HORIZON)[:, 0]
        unordered = float((promised - fleet).sum())
        queue = m.nvidia.backlog[g] + unordered + gpus
        if cat.launch[g] > t:
            sp = m.nvidia.spec
            at_launch = cat.output_list(int(cat.launch[g]))[g]
            queue = queue + sp.rest_of_world_share * sp.rest_of_world_backlog_months * at_launch
        wait = allocation.delivery_wait(queue, cat.output_ahead(t, DELIVERY_HORIZON)[:, g])
        return t + wait + 1 + m.nvidia.spec.lead_time_months

    def offer_size(self, r: Request, p: Provider) -> int:
        """GPUs a seller offers on request ``r``: what is left, at most the buyer's share per
        provider, the seller's largest contract and what its concentration limit leaves for this
        buyer (``negotiation.customer_room``: the buyer's live contracts with it that run into the
        request's term, against its fleet installed, coming and on order)."""
        size = min(r.remaining, max(1, math.ceil(r.max_share * r.gpus)), int(p.spec.max_contract_gpus * p.scale))
        if p.spec.max_customer_share >= 1.0:
            return size
        held = sum(c.gpus for c in self.by_seller.get(p.name, ())
                   if c.buyer == r.buyer and c.end > r.start and c.status in ("pending", "active"))
        fleet = float(p.installed.sum() + p.in_transit.sum() + p.on_order.sum())
        return min(size, negotiation.customer_room(held, fleet, p.spec.max_customer_share))

    def earliest_start(self, rows: np.ndarray, g: int, gpus: np.ndarray, t: int) -> np.ndarray:
        """The earliest month each seller (provider ``rows``) could serve ``gpus`` of generation
        ``g``: when the GPUs could be installed (:meth:`gpus_ready`), if the MW it will have
        powered by then are not yet spoken for (:meth:`spare_kw`); else after a new build's lead
        time, if that is later."""
        m = self.model
        cat = m.cat
        gpu_ready = self.gpus_ready(g, gpus, t)
        lead = np.array([m.providers[i].mw_lead for i in rows.tolist()])
        power_ready = np.where(self.spare_kw(rows, t, gpu_ready) >= gpus * cat.power_kw[g], t, t + lead)
        return np.maximum(gpu_ready, power_ready)

    def spare_kw(self, rows: np.ndarray, t: int, by: np.ndarray) -> np.ndarray:
        """kW each seller (provider ``rows``) will have powered by month ``by`` (one per seller:
        powered now and the builds done by then) and has not yet spoken for: less the fleet,
        what is coming, and what signed contracts still need (``service.promised_kw``)."""
        pb = self.model.pbook
        kw = service.promised_kw(rows, pb.installed, pb.in_transit, pb.on_order, self._sched, t, PROMISE_HORIZON,
                                 self.model.cat.power_kw)
        provs = self.model.providers
        months = (by if np.shape(by) == rows.shape else np.broadcast_to(by, rows.shape)).tolist()
        have = [provs[i].ready_mw(b) for i, b in zip(rows.tolist(), months, strict=True)]
        return np.array(have) * 1000.0 - kw

    def reservation_price(self, rows: np.ndarray, g: int, term: int) -> np.ndarray:
        """Each seller's (provider ``rows``) walk-away price: the capital it must recover over the
        term, at most the GPU's economic life (its generation's ``useful_life_months`` and the
        market's ``economic_life_months``, never the accounting life): today's capex less the
        discounted market value the GPU keeps at the end, assuming one newer generation by then;
        plus power and site operations; times 1 + its contract margin. Not the data centre: its
        sites are leased or built ahead by the capacity plan and owed whether or not this deal
        signs, so a walk-away price counts only what signing adds (list prices carry the site,
        ``ProviderBook.site_per_kw_month``)."""
        m = self.model
        cat = m.cat
        pb = m.pbook
        mk = m.scn.market
        capex = cat.capex(g, m.nvidia.price[g]) if cat.nvidia[g] else cat.capex(g, cat.list_price[g])
        months = min(float(term), float(cat.useful_life[g]), mk.economic_life_months)
        life = np.full(rows.size, months)
        rate = pb.rates(rows)
        # (the same for every seller: one value, kept for the generation and life while negotiating)
        left = self._fixed_while(("kept", g, months), lambda: depreciation.market_value_per_gpu(
            capex, np.full(1, months), mk.economic_life_months, mk.residual_value, 1, mk.obsolescence))
        recover = capex - left / (1.0 + rate / 12.0) ** life
        full = pricing.full_cost_per_hour(recover, life, rate, cat.power_kw[g], pb.pue[rows], pb.kwh_price[rows],
                                          pb.opex_rate[rows], m.hours, 0.0)
        return full * (1.0 + pb.contract_margin[rows])

    def tightness(self) -> float:
        """Demand over supply: NVIDIA's backlog in months of output over its target, and
        last month's utilisation of the providers over 85%; the larger of the two."""
        m = self.model
        nv = m.nvidia
        live = nv.output > 0
        months = float(nv.backlog[live].sum() / nv.output[live].sum()) if live.any() else 0.0
        by_backlog = months / max(nv.spec.target_backlog_months, 1e-9)
        return max(by_backlog, m.utilisation / 0.85)

    def negotiate_all(self, t: int) -> None:
        """Every open request past its bid window (``negotiation.bid_window`` months after it was
        issued: sellers, a human player among them, answer it in a later month) is negotiated with
        its eligible sellers; a request filled closes, one older than ``max_request_age`` lapses."""
        m = self.model
        neg = m.scn.negotiation
        tight = self.tightness()  # NVIDIA's backlog and last month's utilisation: fixed while negotiating
        self._negotiating = {}
        try:
            for r in self.open_requests():
                if t - r.issued < neg.bid_window:
                    continue
                self._negotiate(r, t, tight)
                if r.remaining <= 0:
                    r.open = False
                elif t - r.issued >= neg.max_request_age:
                    r.open = False
                    m.news("request_lapsed", [r.buyer], f"{r.buyer}'s request for {r.remaining:,} "
                           f"{m.cat.names[r.generation]} GPUs lapses unfilled", request_id=r.request_id,
                           gpus_unfilled=r.remaining)
        finally:
            self._negotiating = None
        self.player_answers.clear()

    def _negotiate(self, r: Request, t: int, tight: float) -> None:
        """Request ``r`` offered on by each eligible seller with GPUs to offer: the buyer splits the
        request over the offers by their scores (:meth:`quotes`, ``negotiation.award``) and
        negotiates each share by the concession rule (``negotiation.negotiate``) from the seller's
        ask and reservation price; a share that fails is split again, the same month, over the
        offers not yet tried, and what none takes stays on the request for a later month. A human
        player's answer stands where the AI's ask and reservation do: its price is the ask and its
        floor the reservation; an answer without a floor is a firm price, which the buyer takes if
        it is at most its ceiling. The offers are kept for :meth:`offers_on`."""
        m = self.model
        neg = m.scn.negotiation
        quotes = []  # (seller, GPUs it may offer)
        for p in self.eligible_sellers(r):
            qty = self.offer_size(r, p)
            if qty > 0:
                quotes.append((p, qty))
        if not quotes:
            return
        rows = np.array([p.row for p, _ in quotes])
        start, res, ask, score = self.quotes(r, rows, np.array([q for _, q in quotes]), t, tight)
        firm = np.zeros(len(quotes), dtype=bool)
        taking = np.ones(len(quotes), dtype=bool)
        answered = False  # (a human player's price: the offers are scored again)
        for i, (p, _) in enumerate(quotes):
            if p.player:
                ans = self.player_answers.get(r.request_id)
                taking[i] = ans is not None and ans[0] == "offer"
                if ans is not None and not taking[i]:
                    m.news("decline", [p.name, r.buyer], f"{p.name} declines {r.buyer}'s request")
                if taking[i]:
                    ask[i], floor = ans[1], ans[2]
                    firm[i] = floor is None
                    res[i] = ask[i] if floor is None else floor
                    answered = True
        if answered:
            score = self.offer_scores(r, rows, ask, start)
        offers = sorted((o for o, keep in zip(zip(score.tolist(), [p for p, _ in quotes], [q for _, q in quotes],
                                                 start.tolist(), res.tolist(), ask.tolist(), firm.tolist(),
                                                 strict=True), taking, strict=True) if keep),
                        key=lambda o: (o[0], o[1].name))
        self.quoted[r.request_id] = made = [
            {"month": t, "seller": p.name, "gpus": qty, "start": start_, "ask": ask_, "reservation": res_,
             "firm": firm_, "score": score_, "signed": None, "price": None, "reason": "", "rounds": 0}
            for score_, p, qty, start_, res_, ask_, firm_ in offers]  # (the reservation price is the seller's own)
        e_s, e_b = negotiation.exponents(tight, len(offers), neg.tightness_weight, neg.outside_option_weight)
        r.ceiling, option = self.buyer_ceiling(r.buyer, r.generation, r.purpose, t)  # outside options now
        bid0 = r.ceiling * (1.0 - neg.bid_discount)
        reference = self.reference_reserved(r.generation)
        score, room = np.array([o[0] for o in offers]), np.array([o[2] for o in offers])
        tried = np.zeros(len(offers), dtype=bool)
        while r.remaining > 0 and not tried.all():  # a share that fails is split again over the offers not tried
            shares = negotiation.award(score[~tried], room[~tried], r.remaining, r.award_sensitivity,
                                       neg.award_min_share, neg.award_max_sellers)
            if not shares.any():
                break
            for i, qty in zip(np.flatnonzero(~tried).tolist(), shares.tolist(), strict=True):
                if qty > 0:
                    tried[i] = True
                    self._bargain(r, made[i], offers[i], qty, bid0, (e_s, e_b), reference, option, t)

    def _bargain(self, r: Request, o: dict, offer: tuple, qty: int, bid0: float, exps: tuple[float, float],
                 reference: float, option: str, t: int) -> None:
        """One offer on request ``r`` negotiated for its share ``qty``: a firm offer is taken or
        left, any other goes through the concession rounds; a failure says who walked away. The
        outcome is noted in ``o`` (the offer's record) and announced, and a deal signed."""
        neg = self.model.scn.negotiation
        _, p, _, start_, res_, ask_, firm_ = offer
        o["gpus"] = qty
        out = (negotiation.firm_offer(ask_, bid0, r.ceiling) if firm_
               else negotiation.negotiate(res_, ask_, bid0, r.ceiling, neg.rounds, *exps))
        if not out.signed:
            who, why = negotiation.walk_away(res_, r.ceiling, reference, option)
            out.reason, out.walked, out.option = why, who, option
        o.update(signed=out.signed, price=out.price if out.signed else None, reason=out.reason,
                 rounds=len(out.rounds))
        self._announce(r, p, qty, start_, out)
        if out.signed:
            self.sign(r, p, qty, start_, out.price, t)

    def _announce(self, r: Request, p: Provider, qty: int, start: int, out: negotiation.Outcome) -> None:
        """The negotiation's news: the opening offer and bid, each counter, and a walk-away."""
        m = self.model
        s0, b0 = out.rounds[0]
        m.news("offer", [p.name, r.buyer], "{} offers {} {:,} {} GPUs at ${:.2f}/GPU-hour from {}; {} bids ${:.2f}",
               p.name, r.buyer, qty, m.cat.names[r.generation], s0, m.label(start), r.buyer, b0,
               request_id=r.request_id)
        for i, (s, b) in enumerate(out.rounds[1:], start=1):
            m.news("counter", [p.name, r.buyer], "round {}: {} asks ${:.2f}, {} bids ${:.2f}", i, p.name, s, r.buyer,
                   b, request_id=r.request_id)
        if not out.signed:
            who = r.buyer if out.walked == "buyer" else p.name
            m.news("walk_away", [r.buyer, p.name], "{} walks away from {}: {}", who,
                   p.name if who == r.buyer else r.buyer, out.reason, request_id=r.request_id, reason=out.reason,
                   walked=out.walked, outside_option=out.option)

    def offers_on(self, request_id: int) -> list[dict]:
        """The offers made on a request when it was last negotiated, best score first: month,
        seller, GPUs, start month, opening ask, the seller's own reservation price (private to it),
        whether the offer was firm, the buyer's score, whether it signed (None: the buyer put no
        share of the request to it; then ``gpus`` is what the seller offered, else its share), the
        price, the reason of a walk-away and the rounds it took (empty if not negotiated yet)."""
        return list(self.quoted.get(request_id, ()))

    def quotes(self, r: Request, rows: np.ndarray, qty: np.ndarray, t: int,
               tight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each seller's (provider ``rows``, offering ``qty`` GPUs) start, reservation price, ask and
        the buyer's score of its offer for request ``r`` (:meth:`offer_scores`): the ask is the
        reservation price marked up with the market's tightness."""
        start = np.maximum(r.start, self.earliest_start(rows, r.generation, qty, t))
        res = self.reservation_price(rows, r.generation, r.term)
        ask = res * (1.0 + self.model.scn.negotiation.ask_markup * min(2.0, tight))
        return start, res, ask, self.offer_scores(r, rows, ask, start)

    def offer_scores(self, r: Request, rows: np.ndarray, ask: np.ndarray, start: np.ndarray) -> np.ndarray:
        """The buyer's score of each seller's (provider ``rows``) offer on request ``r`` at ``ask``
        from ``start`` (the lower, the better): the ask plus a penalty per month of delay, less the
        share of it the buyer's strategic tie to the seller is worth (its ``partners``), less the
        value of its trust in the seller."""
        m = self.model
        mk = m.scn.market
        delay = np.maximum(0, start - r.start)
        spec = m.agent_by_name[r.buyer].spec
        trust = getattr(spec, "trust_weight", 0.0) * m.pbook.trust[rows]
        partners = getattr(spec, "partners", {})  # (a reselling provider has none)
        tie = np.array([partners.get(m.providers[i].name, 0.0) for i in rows.tolist()])
        return ask * (1.0 + mk.delay_penalty * delay) * (1.0 - tie) - mk.trust_price * trust

    def sign(self, r: Request, p: Provider, qty: int, start: int, price: float, t: int) -> Contract:
        m = self.model
        neg = m.scn.negotiation
        fee = qty * m.hours * price
        c = Contract(self.new_contract_id(), r.buyer, p.name, r.generation, qty, t, start, r.term, price, r.purpose,
                     neg.prepay_share, fee)
        self.add_contract(c)
        self.signed_this_month += 1
        r.remaining -= qty
        buyer = m.agent_by_name[r.buyer]
        prepay = neg.prepay_share * c.total_value
        if prepay > 0:
            m.ledger.transfer(buyer.eid, p.eid, prepay, "prepayment")
            c.prepaid_left = prepay
        value = c.total_value
        m.news("signed", [p.name, r.buyer], "{} signs {}: {:,} {} GPUs at ${:.2f}/GPU-hour for {} months from {}, "
               "${:.2f}B take-or-pay", p.name, r.buyer, qty, m.cat.names[r.generation], price, r.term, m.label(start),
               value / 1e9, contract_id=c.contract_id, value=value)
        mk = m.scn.market
        p.shock += valuation.contract_news(c.total_value, p.market_value, mk.contract_news, mk.contract_news_cap)
        return c

    def add_contract(self, c: Contract) -> None:
        self.contracts.append(c)
        self.by_seller.setdefault(c.seller, []).append(c)
        self.by_buyer.setdefault(c.buyer, []).append(c)
        self._schedule(c, 1.0)
        n = self.book.add(c)  # (its state is read and set in the book from now on)
        if n == self._iterms.shape[1]:
            self._iterms = np.concatenate([self._iterms, np.zeros_like(self._iterms)], axis=-1)
            self._fterms = np.concatenate([self._fterms, np.zeros_like(self._fterms)], axis=-1)
        self._iterms[:, n], self._fterms[:, n] = self._contract_terms(c)
        self.touch()

    # ------------------------------------------------------------------ serving contracts
    def serve_contracts(self, t: int) -> None:
        """Reserved capacity first: each seller delivers its running GPUs to its contracts in the
        order they were signed; buyers pay for what is delivered (take-or-pay) from their
        prepayment first; a short delivery costs the seller a penalty, and one late beyond the
        grace period lets the buyer cancel."""
        m = self.model
        book = m.buyers
        book.contract_eq[:] = 0.0
        self.contract_hours = 0.0
        self.contract_inference_hours = 0.0
        # the live contracts that have started, in the order they were signed (their columns)
        n = self.book.n
        due = np.flatnonzero((self.book.status[:n] <= _ACTIVE) & (self.book.span[0, :n] <= t))
        over = self.book.span[1, due] <= t
        if over.any():  # past its last month unbilled: it ends undelivered
            for col in due[over].tolist():
                c = self.contracts[col]
                self.end_contract(c, "completed")
                c.delivered = 0
            due = due[~over]
        if due.size:
            self._serve(due, t)
        self.touch()  # months were billed: backlog figures change

    def _contract_terms(self, c: Contract) -> tuple[tuple, tuple]:
        """What serving a contract and its backlog need of it that never changes: (seller's
        provider row, seller's and buyer's ledger entities, the buyer's row in the buyer book or,
        for a reseller, its provider row, generation, whether the buyer resells, whether it is for
        inference, whether the buyer is investment grade, term) and (GPUs, monthly fee, prepaid share of each bill, equivalent hours per
        hour)."""
        m = self.model
        cat = m.cat
        seller = m.provider_by_name[c.seller]
        buyer = m.agent_by_name[c.buyer]
        resale = buyer.kind in ("neocloud", "hyperscaler")
        row = self._prow[buyer.name] if resale else buyer.idx
        inference = c.purpose == "inference"
        perf = cat.inf[c.generation] if inference else cat.train[c.generation]
        return ((self._prow[seller.name], seller.eid, buyer.eid, row, c.generation, resale, inference,
                 c.buyer in self.ig, c.term), (c.gpus, c.fee, c.prepay_share, perf))

    def _serve_plan(self, cols: np.ndarray) -> SimpleNamespace:
        """The terms of the contracts in columns ``cols`` as arrays (see ``service.serve``), kept
        while the same contracts are due."""
        if self._plan is not None and np.array_equal(self._plan.cols, cols):
            return self._plan
        srow, s_eid, b_eid, brow, gen, resale, inference = self._iterms[:7, cols]
        gpus, fee, prepay_share, perf = self._fterms[:, cols]
        resale = resale > 0
        own = ~resale
        self._plan = SimpleNamespace(
            cols=cols, term=self._iterms[8, cols], srow=srow, gen=gen, gpus=gpus, fee=fee, prepay_share=prepay_share, resale=resale, brow=brow,
            perf=perf, s_eid=s_eid, b_eid=b_eid, own=own,
            prepaid_acct=np.where(resale, int(Acct.COST_OF_REVENUE), int(Acct.COMPUTE)),
            b_eid_resale=b_eid[resale], s_eid_resale=s_eid[resale], b_eid_own=b_eid[own], s_eid_own=s_eid[own],
            resold_inference=resale & (inference > 0))
        return self._plan

    def _serve(self, cols: np.ndarray, t: int) -> None:
        """Serve the contracts in columns ``cols`` (due this month, in the order they were
        signed) by ``service.serve``: sellers' sales and buyers' contracted hours are tallied, the
        bills go through the ledger, and the contracts' state moves on in their columns; those
        billed to the end or late beyond the grace period end."""
        m = self.model
        L = m.ledger
        neg = m.scn.negotiation
        pb = m.pbook
        plan = self._serve_plan(cols)
        prepaid = self.book.prepaid[cols]
        book = m.buyers
        tally = SimpleNamespace(committed=pb.committed, sold_hours_g=pb.sold_hours_g,
                                own_sold_hours_g=pb.own_sold_hours_g, resale=pb.resale,
                                buyer_hours=np.zeros(book.n), contract_eq=book.contract_eq)
        deliver, due, short, use_prepaid, pay, hours, inference_hours = service.serve(
            plan, prepaid, pb.running, m.hours, tally, book.demand_eq, book.inference_eq)
        fee, s_eid, b_eid = plan.fee, plan.s_eid, plan.b_eid
        for i in np.flatnonzero(short).tolist():  # a short delivery: the seller pays a penalty
            L.transfer(int(s_eid[i]), int(b_eid[i]), neg.penalty_rate * (fee[i] - due[i]), "penalty")
        pre = use_prepaid > 0
        if pre.any():
            L.post_many(b_eid[pre], plan.prepaid_acct[pre], int(Acct.PREPAID), use_prepaid[pre], "consume_prepaid")
            L.post_many(s_eid[pre], int(Acct.DEFERRED_REVENUE), int(Acct.REVENUE), use_prepaid[pre], "recognise")
        L.transfer_many(plan.b_eid_resale, plan.s_eid_resale, pay[plan.resale], "resale_compute")
        own_pay, broke = self._payable(plan.b_eid_own, pay[plan.own])
        L.transfer_many(plan.b_eid_own, plan.s_eid_own, own_pay, "compute")
        self.contract_hours = float(hours.sum())
        # served once, at delivery to a reseller: its later sale of the same hours is not counted again
        self.contract_inference_hours = float(hours[plan.resold_inference].sum()) + inference_hours
        # each contract: active, GPUs delivered (whole), a month billed, months late (a full
        # delivery clears them), prepayment drawn
        self.book.status[cols] = _ACTIVE
        self.book.delivered[cols] = deliver  # (truncated to whole GPUs)
        billed = self.book.billed[cols] + 1
        self.book.billed[cols] = billed
        late = np.where(short, self.book.late[cols] + 1, 0)
        self.book.late[cols] = late
        self.book.prepaid[cols] = np.where(use_prepaid > 0, prepaid - use_prepaid, prepaid)
        # then, in signing order, those billed to the end complete, and those late beyond the
        # grace period are cancelled
        done = billed >= plan.term
        for i in np.flatnonzero(done | (late > neg.late_grace_months)).tolist():
            c = self.contracts[int(cols[i])]
            if done[i]:
                self.end_contract(c, "completed")
            elif c.status in ("pending", "active"):
                self.cancel(c, t, "late delivery", fee_share=0.0)
        for eid in broke:  # buyers whose cash could not pay their bills default on them
            self.default_buyer(m.ledger.names[eid], t, "its cash cannot pay its bills")

    def _payable(self, b_eid: np.ndarray, pay: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """The month's contract bills of buyers that are not providers, paid only as far as each
        buyer's cash goes (pro rata over its contracts when it falls short), and the buyers that
        fell short (their ledger entities)."""
        if not b_eid.size:
            return pay, []
        L = self.model.ledger
        ids, inv = np.unique(b_eid, return_inverse=True)
        owed = np.bincount(inv, weights=pay)
        cash = np.maximum(0.0, L.balances[ids, Acct.CASH])
        short = owed > cash + 1e-6
        if not short.any():
            return pay, []
        share = np.where(short, np.divide(cash, owed, out=np.zeros(ids.size), where=owed > 0), 1.0)
        return pay * share[inv], ids[short].tolist()

    def default_buyer(self, name: str, t: int, why: str, recovery: float = 1.0) -> None:
        """A buyer defaults: each live contract of its ends as ``defaulted`` (the backlog goes
        with it), its termination fee owed but paid only as far as ``recovery`` x its cash goes
        (``funding.capped_fee``; the unpaid rest is the seller's named loss, in the event and in
        ``unpaid_fees``); it stops buying and raising money."""
        m = self.model
        b = m.agent_by_name[name]
        share = m.scn.negotiation.termination_fee
        owed = paid = 0.0
        sellers = []
        for c in list(self.by_buyer.get(name, ())):
            if c.status in ("pending", "active"):
                fee, got = self.cancel(c, t, why, share, status="defaulted", recovery=recovery)
                owed, paid = owed + fee, paid + got
                sellers.append(c.seller)
        self.unpaid_fees += owed - paid
        if hasattr(b, "idx"):
            b.defaulted = True
            b.projects = []
            m.buyers.stop(b.idx)
        m.news("buyer_default", [name, *dict.fromkeys(sellers)], "{} defaults ({}): fees owed ${:.2f}B, paid ${:.2f}B",
               name, why, owed / 1e9, paid / 1e9, fee_owed=owed, fee_paid=paid, fee_unpaid=owed - paid)

    def cancel(self, c: Contract, t: int, why: str, fee_share: float, status: str = "cancelled",
               recovery: float = 1.0) -> tuple[float, float]:
        """End a contract early. The buyer owes ``fee_share`` of the remaining value and pays it as
        far as it can (``funding.capped_fee``: from its prepayment first, then from ``recovery`` x
        its cash, never below zero); any prepayment left is refunded. Returns (fee owed, fee paid)."""
        m = self.model
        L = m.ledger
        seller = m.provider_by_name[c.seller]
        buyer = m.agent_by_name[c.buyer]
        left = c.remaining_value()
        fee = fee_share * left
        cash = recovery * float(L.balances[buyer.eid, Acct.CASH])
        from_prepaid, from_cash, unpaid = funding.capped_fee(fee, c.prepaid_left, cash)
        if from_prepaid > 0:
            L.post(buyer.eid, Acct.OTHER_EXPENSE, Acct.PREPAID, from_prepaid, "consume_prepaid")
            L.post(seller.eid, Acct.DEFERRED_REVENUE, Acct.OTHER_INCOME, from_prepaid, "recognise")
        L.transfer(buyer.eid, seller.eid, from_cash, "penalty")
        refund = c.prepaid_left - from_prepaid
        if refund > 0:
            L.transfer(seller.eid, buyer.eid, refund, "refund")
        c.prepaid_left = 0.0
        self.end_contract(c, status)
        verb = "defaults on" if status == "defaulted" else "cancels"
        m.news(status, [c.buyer, c.seller], f"{c.buyer} {verb} its {m.cat.names[c.generation]} contract "
               f"with {c.seller} ({why}); ${fee / 1e9:.2f}B fee" + (f", ${unpaid / 1e9:.2f}B of it unpaid" if unpaid > 0 else ""),
               contract_id=c.contract_id)
        mk = m.scn.market  # the news: the value the contract had left (the fee is booked as it is paid)
        seller.shock -= valuation.contract_news(left, seller.market_value, mk.contract_loss_news, mk.contract_loss_cap)
        return fee, from_prepaid + from_cash

    # ------------------------------------------------------------------ the short-term market
    def _build_offers(self) -> None:
        """One GPU offer per provider, and one custom-silicon offer per provider that has it."""
        m = self.model
        self.offers = []
        for p in m.providers:
            self.offers.append((p, False))
            if p.spec.custom_silicon is not None:
                self.offers.append((p, True))
        self.offer_provider = np.array([m.providers.index(p) for p, _ in self.offers], dtype=np.int64)
        self.offer_custom = np.array([c for _, c in self.offers])
        self.offer_eid = np.array([p.eid for p, _ in self.offers], dtype=np.int64)
        self.offer_trust = np.array([p.spec.trust for p, _ in self.offers])

    def consideration_sets(self, rng: np.random.Generator) -> np.ndarray:
        """Each buyer considers ``market.consider`` offers, drawn once, with probability in
        proportion to the provider's starting fleet (the big names are known to more buyers);
        captive buyers consider only their provider's offers."""
        m = self.model
        book = m.buyers
        n_offers = len(self.offers)
        K = min(m.scn.market.consider, n_offers)
        fleet = np.array([max(1.0, float(p.installed.sum()) + p.powered_mw * 300.0) for p, _ in self.offers])
        if K == n_offers:
            idx = np.tile(np.arange(n_offers), (book.n, 1))
        else:
            keys = np.log(fleet)[None, :] + rng.gumbel(size=(book.n, n_offers))
            idx = np.argpartition(-keys, K - 1, axis=1)[:, :K]
            idx.sort(axis=1)
        cap = book.captive >= 0
        if cap.any():
            for i in np.nonzero(cap)[0]:
                own = np.nonzero(self.offer_provider == book.captive[i])[0]
                row = np.full(K, -1, dtype=np.int64)
                row[: min(K, own.size)] = own[:K]
                idx[i] = row
        return idx

    def clear_short_term(self, t: int) -> None:
        """Idle capacity meets the demand left after contracts: on-demand first, then spot.

        Each provider offers its idle GPUs (running less those serving contracts, plus capacity it
        resells) as one product, and its custom silicon as another, priced per H100-equivalent
        hour at the capacity-weighted mean of its generations' prices."""
        m = self.model
        cat = m.cat
        book = m.buyers
        pb = m.pbook
        idx = m.consider
        if self._consider_key is not idx:  # drawn once a run: its index arrays are kept
            self._consider_key = idx
            self._consider = clearing.consideration(idx, self.offer_custom, self.offer_trust)
            self._payers = np.repeat(book.eids, idx.shape[1])
            self._payees = self.offer_eid[self._consider.safe].ravel()
        mk = m.scn.market
        s = SimpleNamespace(
            running=pb.running, committed=pb.committed, resale=pb.resale, od=pb.od, spot=pb.spot, live=pb.live(),
            prow=self.offer_provider, custom=self.offer_custom, nvidia=cat.nvidia, inf=cat.inf, hours=m.hours,
            consider=self._consider, demand_eq=book.demand_eq, contract_eq=book.contract_eq, cash=m.ledger.balances[book.eids, Acct.CASH],
            price=max(m.market_price, 1e-6),
            spot_frac=book.spot_frac, switching=book.switching,
            # trust's value in $ per GPU-hour, as a share of the price in the score
            trust_value=mk.trust_scale * mk.trust_price * book.trust_weight, max_price=book.max_price,
            beta=mk.logit_beta, rounds=mk.clearing_rounds, inference_eq=book.inference_eq)
        r = clearing.short_term(s, pb.sold_hours_g, pb.own_sold_hours_g)
        # payments: one per buyer and offer (nothing is served where a buyer has no offer)
        m.ledger.transfer_many(self._payers, self._payees, r.pay.ravel(), "compute")
        book.spend = r.spend
        # the demand each provider's offers turned away, per unit of capacity (at most 1), for its prices
        pb.turned_away[:] = 0.0
        np.maximum.at(pb.turned_away, self.offer_provider, np.minimum(r.excess, 1.0))
        self.unmet_eq = float(r.gap.sum())
        self.st_revenue = float(r.pay.sum())
        self.st_eq = float(r.sold_eq.sum())
        provs = m.providers
        st_eq_p = r.st_eq_p
        for i in np.flatnonzero(st_eq_p > 0).tolist():
            provs[i].st_sold_eq += st_eq_p[i]
        # resold hours were served when delivered to the reseller: count only own-fleet hours
        hours_total = float(r.own_phys.sum())
        # inference hours: each buyer's purchases split by its inference share of need, at the
        # market's average physical hours per equivalent hour. Two rates: own-fleet physical hours
        # per equivalent hour sold (resold hours were counted at delivery to the reseller, so they
        # must not be counted again here), and all physical hours per equivalent hour (what unmet
        # demand would have taken)
        own_per_eq = hours_total / self.st_eq if self.st_eq > 0 else 0.0
        phys_per_eq = float(r.phys.sum()) / self.st_eq if self.st_eq > 0 else 0.0
        self.st_hours = hours_total
        self.st_inference_hours = r.inference_bought * own_per_eq
        unmet_phys = self.unmet_eq * (phys_per_eq if phys_per_eq > 0 else 1.0)
        self.demand_hours = self.contract_hours + hours_total + unmet_phys
        if self.st_eq > 0:
            m.market_price = self.st_revenue / self.st_eq
