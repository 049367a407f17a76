"""A game: a model, the company the player runs, and the player's decisions month by month.

Saving writes the scenario, seed, player and every month's decisions (versioned JSON, never
pickle); loading replays them, which gives the identical state because the model is
deterministic. A fork is a second game replayed to the same month, optionally with extra
scenario events from that month on, so two futures can be compared side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

import market
from market.errors import UserError
from market.ledger import Acct
from market.model import MarketModel
from market.scenario import EventSpec, Scenario, apply_and_validate, read_toml, resolve

SAVE_FORMAT = "gpumarket-save"
SAVE_VERSION = 1
NonNeg = Annotated[float, Field(ge=0.0)]


class PriceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_demand: float
    reserved: float
    spot: float


class Answer(BaseModel):
    """The player's answer to an open capacity request: a firm offer at ``price`` or a decline."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["offer", "decline"]
    price: float = 0.0


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
                 scenario_data: dict | None = None, source: str = "") -> None:
        self.scenario = scenario
        self.scenario_data = scenario_data if scenario_data is not None else scenario.model_dump(mode="json")
        self.source = source or scenario.name
        self.seed = seed
        self.model = MarketModel(scenario, seed=seed)
        self.player = player
        self.decisions: list[dict | None] = []
        if player is not None:
            p = self.model.provider_by_name.get(player)
            if p is None:
                names = ", ".join(self.model.provider_by_name)
                raise UserError(f"--as {player}: not a provider in {scenario.name} (choose one of: {names})")
            p.player = True
            self._seed_player_prices(p)

    # ------------------------------------------------------------------ construction
    @classmethod
    def new(cls, scenario_ref: str, seed: int = 0, overrides=(), player: str | None = None) -> Game:
        path = resolve(scenario_ref)
        data = read_toml(path)
        scn = apply_and_validate(data, overrides, str(path))
        return cls(scn, seed, player, scn.model_dump(mode="json"), str(scenario_ref))

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
        """Everything wrong with a decision, each in plain words (empty when it is valid)."""
        errs: list[str] = []
        p = self.company
        if p is None:
            return [] if d.is_empty() else ["no company is being played: start the game with a company (--as)"]
        m = self.model
        cat = m.cat
        if p.defaulted:
            return [f"{p.name} has defaulted and can decide nothing"]
        cash = p.cash()
        capacity = p.borrowing_capacity()
        t = m.month
        order_cost = 0.0
        for name, n in d.orders.items():
            if name not in cat.index:
                errs.append(f"orders: unknown generation {name!r}")
                continue
            g = cat.index[name]
            if n < 0:
                errs.append(f"orders: {name}: a GPU order cannot be negative ({n})")
            elif not cat.nvidia[g]:
                errs.append(f"orders: {name} is not sold by NVIDIA")
            elif cat.launch[g] > t or t >= cat.end[g]:
                errs.append(f"orders: NVIDIA is not shipping {name} in {m.label(t)}")
            order_cost += max(0, n) * cat.capex(g, m.nvidia.price[g])
        if not math.isfinite(d.build_mw) or d.build_mw < 0:
            errs.append(f"build_mw: must be zero or more MW (got {d.build_mw})")
        build_cost = max(0.0, d.build_mw) * p.mw_cost
        if not math.isfinite(d.borrow) or d.borrow < 0:
            errs.append(f"borrow: must be zero or more (got {d.borrow})")
        elif d.borrow > capacity + 1.0:
            errs.append(f"borrow: ${d.borrow / 1e9:.2f}B is more than the lenders allow "
                        f"(${capacity / 1e9:.2f}B against the fleet and contracts)")
        if not math.isfinite(d.repay) or d.repay < 0:
            errs.append(f"repay: must be zero or more (got {d.repay})")
        elif d.repay > p.debt() + 1.0:
            errs.append(f"repay: ${d.repay / 1e9:.2f}B is more than the debt (${p.debt() / 1e9:.2f}B)")
        funds = cash + min(max(0.0, d.borrow), capacity) - max(0.0, d.repay)
        if d.repay > cash + max(0.0, d.borrow):
            errs.append(f"repay: ${d.repay / 1e9:.2f}B is more cash than {p.name} has (${cash / 1e9:.2f}B)")
        if order_cost + build_cost > funds + max(0.0, capacity - max(0.0, d.borrow)) + 1.0:
            errs.append(f"orders and MW cost ${(order_cost + build_cost) / 1e9:.2f}B, more than {p.name} has "
                        f"and can borrow (${(funds + max(0.0, capacity - d.borrow)) / 1e9:.2f}B)")
        elif build_cost > funds + 1.0:
            errs.append(f"build_mw: {d.build_mw:.0f} MW cost ${build_cost / 1e9:.2f}B, more cash than {p.name} has "
                        f"(${funds / 1e9:.2f}B)")
        for name, ps in d.prices.items():
            if name not in cat.index:
                errs.append(f"prices: unknown generation {name!r}")
                continue
            vals = (ps.on_demand, ps.reserved, ps.spot)
            if not all(math.isfinite(v) and v > 0 for v in vals):
                errs.append(f"prices: {name}: every price must be above zero")
            elif not ps.spot <= ps.reserved <= ps.on_demand:
                errs.append(f"prices: {name}: expected spot <= reserved <= on-demand "
                            f"(got {ps.spot:.2f} / {ps.reserved:.2f} / {ps.on_demand:.2f})")
        open_ids = {r.request_id: r for r in m.exchange.open_requests()}
        for rid, a in d.answers.items():
            r = open_ids.get(rid)
            if r is None:
                errs.append(f"answers: request {rid} is not open")
                continue
            if p not in m.exchange.eligible_sellers(r):
                errs.append(f"answers: {p.name} cannot serve request {rid} ({r.buyer})")
            if a.action == "offer" and not (math.isfinite(a.price) and a.price > 0):
                errs.append(f"answers: request {rid}: an offer needs a price above zero")
        return errs

    def _apply(self, d: Decision) -> None:
        m = self.model
        p = self.company
        cat = m.cat
        if d.borrow > 0:
            p.borrow(d.borrow)
        if d.repay > 0:
            m.distress._repay(p, d.repay)
        for name, n in d.orders.items():
            if n > 0:
                p.place_order(cat.index[name], float(n))
        if d.build_mw > 0:
            p.build_mw(m.month, d.build_mw)
        for name, ps in d.prices.items():
            g = cat.index[name]
            p.od[g], p.res[g], p.spot[g] = ps.on_demand, ps.reserved, ps.spot
        for rid, a in d.answers.items():
            m.exchange.player_answers[rid] = (a.action, a.price)

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
        self.decisions.append(d.model_dump(mode="json") if d is not None and not d.is_empty() else None)
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
    def from_json(cls, data: bytes, source: str = "save file") -> Game:
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

        scn = validate_dict(doc["scenario"], f"{source}: scenario")
        seed = doc["seed"]
        if not isinstance(seed, int) or seed < 0:
            raise UserError(f"{source}: seed: expected a whole number of at least 0")
        g = cls(scn, seed, doc.get("player"), doc["scenario"], doc.get("source", scn.name))
        decisions = doc["decisions"]
        if not isinstance(decisions, list) or len(decisions) != doc["month"]:
            raise UserError(f"{source}: decisions: expected one entry per month played ({doc['month']})")
        for i, d in enumerate(decisions):
            try:
                g.step(d)
            except UserError as exc:
                raise UserError(f"{source}: decisions.{i}: {exc}") from None
        return g

    @classmethod
    def load(cls, path: str | Path) -> Game:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read: {exc.strerror}") from None
        return cls.from_json(data, str(path))

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

        scn = validate_dict(data, "fork")
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
