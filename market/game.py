"""A game: a model, the company the player runs, and the player's decisions month by month.

Saving writes the scenario, seed, player and every month's decisions (versioned JSON, never
pickle); loading replays them, which gives the identical state because the model is
deterministic. A fork is a second game replayed to the same month, optionally with extra
scenario events from that month on, so two futures can be compared side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

import market
from market.agents.provider import Turn
from market.errors import UserError
from market.ledger import Acct
from market.model import MarketModel
from market.scenario import EventSpec, Scenario, apply_and_validate, read_toml, resolve

SAVE_FORMAT = "gpumarket-save"
SAVE_VERSION = 1


def money(x: float) -> str:
    """Dollars with three significant figures in the largest sensible unit ($1.23B, $456M,
    $78.9k, $120): the one money format of the game's messages and of the UI (tui.format.money)."""
    if x != x:
        return "-"
    a = abs(x)
    sign = "-" if x < 0 and a >= 0.5 else ""
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div * 0.9995:
            v = a / div
            if unit == "T" and v >= 999.5:
                return f"{sign}${v:,.0f}T"
            digits = 2 if v < 9.995 else (1 if v < 99.95 else 0)
            return f"{sign}${v:,.{digits}f}{unit}"
    return f"{sign}${a:,.0f}"


def find_company(names, wanted: str) -> str | None:
    """The provider called ``wanted``, ignoring case and surrounding spaces (None if none is)."""
    w = wanted.strip().casefold()
    for n in names:
        if n.casefold() == w:
            return n
    return None


class PriceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_demand: float
    reserved: float
    spot: float


class Answer(BaseModel):
    """The player's answer to an open capacity request: an offer or a decline. An offer opens at
    ``price``; with a ``floor`` it is negotiated as the AI's are (the company concedes towards
    the floor as the buyer raises its bid: ``negotiation.negotiate``), without one it is a firm
    price that the buyer takes if it is at most its ceiling."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["offer", "decline"]
    price: float = 0.0
    floor: float | None = None


class Decision(BaseModel):
    """What the player decides for its company in one month."""

    model_config = ConfigDict(extra="forbid")
    orders: dict[str, int] = Field(default_factory=dict, description="generation -> GPUs to order from NVIDIA")
    build_mw: float = 0.0
    prices: dict[str, PriceSet] = Field(default_factory=dict, description="generation -> prices, $/GPU-hour")
    answers: dict[int, Answer] = Field(default_factory=dict, description="request id -> answer")
    borrow: float = 0.0
    repay: float = 0.0

    def is_empty(self) -> bool:
        return not (self.orders or self.build_mw or self.prices or self.answers or self.borrow or self.repay)


class Game:
    """A model with an optional human-run company."""

    def __init__(self, scenario: Scenario, seed: int, player: str | None = None,
                 scenario_data: dict | None = None, source: str = "", origin: str | None = None) -> None:
        """``player``: the company the user runs, matched ignoring case; ``origin``: where the
        name came from, for the message if it is not a provider (``--as`` by default)."""
        self.allow_large = False  # (the scenario's size limits lifted: --allow-large; forks keep it)
        self.scenario = scenario
        self.scenario_data = scenario_data if scenario_data is not None else scenario.model_dump(mode="json")
        self.source = source or scenario.name
        self.seed = seed
        self.model = MarketModel(scenario, seed=seed)
        self.decisions: list[dict | None] = []
        self.turn_requests: list[list[tuple[int, str, int, int]]] = []  # per month: (id, buyer, generation, GPUs)
        if player is not None:
            found = find_company(self.model.provider_by_name, player)
            if found is None:
                names = ", ".join(self.model.provider_by_name)
                where = origin if origin is not None else f"--as {player}"
                raise UserError(f"{where}: not a provider in {scenario.name} (choose one of: {names})")
            player = found
            p = self.model.provider_by_name[player]
            p.player = True
            self._seed_player_prices(p)
        self.player = player
        # the opening books of every agent, for the first month's cash-flow statement
        self.opening = self._books()

    # ------------------------------------------------------------------ construction
    @classmethod
    def new(cls, scenario_ref: str, seed: int = 0, overrides=(), player: str | None = None,
            allow_large: bool = False) -> Game:
        path = resolve(scenario_ref)
        data = read_toml(path, allow_large=allow_large)
        scn = apply_and_validate(data, overrides, str(path), allow_large=allow_large)
        g = cls(scn, seed, player, scn.model_dump(mode="json"), str(scenario_ref))
        g.allow_large = allow_large
        return g

    def _books(self) -> dict[str, np.ndarray]:
        """Cash, debt and book equity of every agent row now (from the ledger's balances)."""
        from market.ledger import ASSETS, LIABILITIES

        b = self.model.ledger.balances
        assets = b[:, ASSETS].sum(axis=1)
        liab = -b[:, LIABILITIES].sum(axis=1)
        return {"cash": b[:, Acct.CASH].copy(), "debt": -b[:, Acct.DEBT].copy(), "equity_book": assets - liab}

    def shadow(self) -> Game:
        """The same start with nobody at the wheel: the AI's own policy runs the player's seat
        (not stepped: the caller steps it to the month it wants to compare)."""
        return Game(self.scenario, self.seed, None, self.scenario_data, self.source)

    @property
    def company(self):
        return self.model.provider_by_name[self.player] if self.player else None

    @property
    def finished(self) -> bool:
        return self.model.month >= self.scenario.months

    def _seed_player_prices(self, p) -> None:
        """The player starts from the prices the scenario gives its company."""
        cat = self.model.cat
        ps = p.spec.pricing
        for name, od in ps.initial.items():
            g = cat.index[name]
            p.od[g] = od
            p.res[g] = od * (1.0 - ps.reserved_discount)
            p.spot[g] = od * (1.0 - ps.spot_discount)

    # ------------------------------------------------------------------ decisions
    def decision_errors(self, d: Decision) -> list[str]:
        """Everything wrong with a decision, each in plain words (empty when it is valid). (Orders
        beyond what the company can pay for when its plan is made are cut to it, as the AI's are:
        ProviderBook.plan_capacity; MW are paid when started, by cash, borrowing, then new equity:
        Provider.ensure_cash.)"""
        p = self.company
        if p is None:
            return [] if d.is_empty() else ["no company is being played: start the game with a company (--as)"]
        if p.defaulted:
            return [f"{p.name} has defaulted and can decide nothing"]
        return self._order_errors(d) + self._money_errors(d, p) + self._price_errors(d) + self._answer_errors(d, p)

    def _order_errors(self, d: Decision) -> list[str]:
        errs: list[str] = []
        m = self.model
        cat, t = m.cat, m.month
        for name, n in d.orders.items():
            if name not in cat.index:
                errs.append(f"orders: unknown generation {name!r}")
                continue
            g = cat.index[name]
            if n < 0:
                errs.append(f"orders: {name}: a GPU order cannot be negative ({n})")
            elif not cat.nvidia[g]:
                errs.append(f"orders: {name} is not sold by NVIDIA")
            elif t >= cat.end[g]:  # (before its launch an order joins NVIDIA's queue, as the AI's do)
                errs.append(f"orders: NVIDIA no longer sells {name} ({m.label(t)})")
        if not math.isfinite(d.build_mw) or d.build_mw < 0:
            errs.append(f"build_mw: must be zero or more MW (got {d.build_mw})")
        return errs

    def _money_errors(self, d: Decision, p) -> list[str]:
        errs: list[str] = []
        cash, capacity = p.cash(), p.borrowing_capacity()
        if not math.isfinite(d.borrow) or d.borrow < 0:
            errs.append(f"borrow: must be zero or more (got {d.borrow})")
        elif d.borrow > capacity + 1.0:
            errs.append(f"borrow: {money(d.borrow)} is more than the lenders allow "
                        f"({money(capacity)} against the fleet and contracts)")
        if not math.isfinite(d.repay) or d.repay < 0:
            errs.append(f"repay: must be zero or more (got {d.repay})")
        elif d.repay > p.debt() + 1.0:
            errs.append(f"repay: {money(d.repay)} is more than the debt ({money(p.debt())})")
        if d.repay > cash + max(0.0, d.borrow):
            errs.append(f"repay: {money(d.repay)} is more cash than {p.name} has ({money(cash)})")
        return errs

    def _price_errors(self, d: Decision) -> list[str]:
        errs: list[str] = []
        for name, ps in d.prices.items():
            if name not in self.model.cat.index:
                errs.append(f"prices: unknown generation {name!r}")
                continue
            vals = (ps.on_demand, ps.reserved, ps.spot)
            if not all(math.isfinite(v) and v > 0 for v in vals):
                errs.append(f"prices: {name}: every price must be above zero")
            elif not ps.spot <= ps.reserved <= ps.on_demand:
                errs.append(f"prices: {name}: expected spot <= reserved <= on-demand "
                            f"(got {ps.spot:.2f} / {ps.reserved:.2f} / {ps.on_demand:.2f})")
        return errs

    def _answer_errors(self, d: Decision, p) -> list[str]:
        errs: list[str] = []
        m = self.model
        cat = m.cat
        open_ids = {r.request_id: r for r in m.exchange.open_requests()}
        offered: dict[int, int] = {}  # generation -> GPUs promised by this turn's offers so far
        for rid, a in d.answers.items():
            r = open_ids.get(rid)
            if r is None:
                errs.append(f"answers: request {rid} is not open")
                continue
            if p not in m.exchange.eligible_sellers(r):
                errs.append(f"answers: {p.name} cannot serve request {rid} ({r.buyer})")
                continue
            if a.action != "offer":
                continue
            if not (math.isfinite(a.price) and a.price > 0):
                errs.append(f"answers: request {rid}: an offer needs a price above zero")
                continue
            if a.floor is not None and not (math.isfinite(a.floor) and 0 < a.floor <= a.price):
                errs.append(f"answers: request {rid}: the floor must be above zero and at most the price "
                            f"(got ${a.floor:.2f} for ${a.price:.2f})")
                continue
            if a.floor is None and a.price > r.ceiling:
                errs.append(f"answers: request {rid}: ${a.price:.2f}/GPU-hour is above {r.buyer}'s ceiling of "
                            f"${r.ceiling:.2f}; it would walk away")
            qty = self.offer_size(r)
            g = r.generation
            gname = cat.names[g]
            extra = int(d.orders.get(gname, 0)) if gname in cat.index else 0
            m_ = self.means(g, r.start, r.term, extra)
            free = m_["free"] - offered.get(g, 0)
            offered[g] = offered.get(g, 0) + qty
            if free >= qty or self.nvidia_ready(g, qty - max(0, int(free))) is not None:
                continue  # free GPUs, or NVIDIA sells them: the offer starts when they can be running
            errs.append(f"answers: request {rid}: an offer of {qty:,} {gname} GPUs needs GPUs {p.name} does not "
                        f"have: {max(0, int(free)):,} free ({m_['installed']:,.0f} installed, "
                        f"{m_['in_transit']:,.0f} in transit, {m_['on_order']:,.0f} on order, "
                        f"{m_['contracted']:,.0f} already contracted), and NVIDIA does not sell {gname} now: "
                        f"offer what you have or decline")
        return errs

    # ------------------------------------------------------------------ means and obligations
    def offer_size(self, r) -> int:
        """GPUs the player's company would commit by offering on request ``r`` (the exchange's
        rule: what is left, at most the buyer's share per provider, the seller's largest
        contract and what its concentration limit leaves for the buyer)."""
        return self.model.exchange.offer_size(r, self.company)

    def means(self, g: int, start: int, term: int, extra_orders: int = 0) -> dict[str, float]:
        """The player's GPUs of generation ``g`` (installed, in transit, on order, plus
        ``extra_orders`` ordered this turn) against what its contracts already need at most over
        ``start``..``start + term - 1``; ``free`` is the difference."""
        p = self.company
        ex = self.model.exchange
        contracted = float(ex.committed_ahead(p.name, start, max(0, term - 1))[g]) if start >= 0 else 0.0
        have = {"installed": float(p.installed[g]), "in_transit": float(p.in_transit[g]),
                "on_order": float(p.on_order[g]) + extra_orders}
        total = sum(have.values())
        return {**have, "contracted": contracted, "free": total - contracted}

    def offer_start(self, r) -> int:
        """The month an offer of the player's company on request ``r`` would start if negotiated
        now: the requested start, or later when its GPUs or MW could not be running by then (the
        exchange's rule for every seller, ``Exchange.earliest_start``)."""
        m = self.model
        p = self.company
        qty = np.array([self.offer_size(r)])
        return int(max(r.start, m.exchange.earliest_start(np.array([p.row]), r.generation, qty, m.month)[0]))

    def nvidia_ready(self, g: int, gpus: float) -> int | None:
        """The earliest month ``gpus`` more GPUs of generation ``g`` ordered now could be in the
        player's data centres (NVIDIA's queue, output and lead time), None if NVIDIA does not
        sell it or has stopped."""
        m = self.model
        cat = m.cat
        t = m.month
        if not cat.nvidia[g] or t >= cat.end[g]:
            return None
        return int(m.exchange.gpus_ready(g, gpus, t))

    def _apply(self, d: Decision) -> None:
        """The turn's decisions: borrowing and repayment at once; orders, MW and prices where the
        AI makes its own (``Provider.turn``: the providers' plans and prices of step 4); answers in
        the negotiation of step 5."""
        m = self.model
        p = self.company
        cat = m.cat
        if d.borrow > 0:
            p.borrow(d.borrow)
        if d.repay > 0:
            p.repay(d.repay)
        p.turn = Turn({cat.index[name]: float(n) for name, n in d.orders.items() if n > 0}, max(0.0, d.build_mw),
                      {cat.index[name]: (ps.on_demand, ps.reserved, ps.spot) for name, ps in d.prices.items()})
        for rid, a in d.answers.items():
            m.exchange.player_answers[rid] = (a.action, a.price, a.floor)

    def step(self, decision: Decision | dict | None = None) -> None:
        """Apply the player's decision (refused whole, with the reasons, if any part is invalid)
        and simulate one month."""
        if self.finished:
            raise UserError(f"the scenario ends after {self.scenario.months} months")
        d = None
        if decision is not None:
            try:
                d = decision if isinstance(decision, Decision) else Decision.model_validate(decision)
            except ValidationError as exc:
                e = exc.errors()[0]
                raise UserError(f"decision: {'.'.join(map(str, e['loc']))}: {e['msg']}") from None
            errs = self.decision_errors(d)
            if errs:
                raise UserError("; ".join(errs))
            if self.player is not None:
                decided = d
                self.model.before_month = lambda: self._apply(decided)
        self.decisions.append(d.model_dump(mode="json", exclude_none=True) if d is not None and not d.is_empty()
                              else None)
        if self.player is not None:
            # the requests the player could answer this turn, for the month's report (what became of them)
            m = self.model
            p = self.company
            self.turn_requests.append([(r.request_id, r.buyer, int(r.generation), int(r.remaining))
                                       for r in m.exchange.open_requests() if p in m.exchange.eligible_sellers(r)])
        self.model.step()

    # ------------------------------------------------------------------ save, load, fork
    def to_json(self) -> bytes:
        return orjson.dumps({
            "format": SAVE_FORMAT,
            "version": SAVE_VERSION,
            "gpumarket": market.__version__,
            "source": self.source,
            "seed": self.seed,
            "player": self.player,
            "month": self.model.month,
            "scenario": self.scenario_data,
            "decisions": self.decisions,
        }, option=orjson.OPT_INDENT_2)

    def save(self, path: str | Path) -> Path:
        from market.files import write_bytes

        path = Path(path)
        if path.parent and not path.parent.exists():
            raise UserError(f"{path}: folder {path.parent} does not exist")
        write_bytes(self.to_json(), path)
        return path

    @classmethod
    def from_json(cls, data: bytes, source: str = "save file", allow_large: bool = False) -> Game:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UserError(f"{source}: not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != SAVE_FORMAT:
            raise UserError(f"{source}: not a gpumarket save file")
        if doc.get("version") != SAVE_VERSION:
            raise UserError(f"{source}: save version {doc.get('version')!r} is not supported (expected {SAVE_VERSION})")
        for key in ("scenario", "seed", "decisions", "month"):
            if key not in doc:
                raise UserError(f"{source}: {key}: required field is missing")
        from market.scenario import validate_dict

        scn = validate_dict(doc["scenario"], f"{source}: scenario", allow_large=allow_large)
        seed = doc["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise UserError(f"{source}: seed: expected a whole number from 0 to 2^63 - 1 (got {seed!r:.40})")
        player = doc.get("player")
        if player is not None and not isinstance(player, str):
            raise UserError(f"{source}: player: expected a company's name or null (got {type(player).__name__})")
        month = doc["month"]
        if isinstance(month, bool) or not isinstance(month, int) or month < 0:
            raise UserError(f"{source}: month: expected a whole number of at least 0 (got {month!r:.40})")
        src = doc.get("source", scn.name)
        if not isinstance(src, str):
            src = scn.name
        decisions = doc["decisions"]
        if not isinstance(decisions, list) or len(decisions) != month:
            raise UserError(f"{source}: decisions: expected one entry per month played ({month})")
        if month > scn.months:
            raise UserError(f"{source}: month: {month} is past the scenario's end ({scn.months} months)")
        g = cls(scn, seed, player, doc["scenario"], src, origin=f"{source}: player: {player}")
        g.allow_large = allow_large
        for i, d in enumerate(decisions):
            try:
                g.step(d)
            except UserError as exc:
                raise UserError(f"{source}: decisions.{i}: {exc}") from None
        return g

    @classmethod
    def load(cls, path: str | Path, allow_large: bool = False) -> Game:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read: {exc.strerror}") from None
        return cls.from_json(data, str(path), allow_large=allow_large)

    def fork(self, events: list[dict] | None = None) -> Game:
        """A second game at the same month with the same past; ``events`` (scenario event
        tables without ``month``) take effect from the current month on."""
        data = dict(self.scenario_data)
        if events:
            label = self.model.label(self.model.month)
            extra = []
            for e in events:
                e = dict(e)
                e.setdefault("month", label)
                extra.append(e)
            try:
                TypeAdapter(list[EventSpec]).validate_python(extra)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise UserError(f"fork: events.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
            data["events"] = list(data.get("events", [])) + extra
        from market.scenario import validate_dict

        scn = validate_dict(data, "fork", allow_large=self.allow_large)
        g = Game(scn, self.seed, self.player, data, self.source)
        for d in self.decisions:
            g.step(d)
        return g

    # ------------------------------------------------------------------ scoring
    def scorecard(self) -> list[dict]:
        """Each provider: market value (public) or book equity, market share, return on its opening
        equity, and whether it survived; the player's company flagged."""
        m = self.model
        rec = m.recorder
        if not rec.agent_months:
            return []
        first, last = rec.agent_months[0], rec.agent_months[-1]
        rows = []
        for p in m.providers:
            e = p.eid
            eq0 = float(first["equity_book"][e])
            eq1 = float(last["equity_book"][e])
            value = p.market_value if p.spec.public and p.market_value == p.market_value else None
            rows.append({
                "company": p.name,
                "kind": p.kind,
                "player": p.name == self.player,
                "market_value": value,
                "equity_book": eq1,
                "market_share": float(last["market_share"][e]),
                "return": (eq1 - eq0) / abs(eq0) if eq0 else 0.0,
                "cash": float(m.ledger.balances[e, Acct.CASH]),
                "survived": not p.defaulted,
            })
        rows.sort(key=lambda r: (-r["market_share"], r["company"]))
        return rows
