"""The player's turn: GPU orders, MW to build, prices, answers to capacity requests and
financing. The month advances when the player ends the turn (``n`` or the button)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from market.game import Decision
from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView


def _row(*children, classes: str = "form-row", id: str | None = None) -> Horizontal:
    return Horizontal(*children, classes=classes, id=id)


class TurnPanel(VerticalScroll, MarketView):
    """The decision form for the company the player runs. ``read_decision`` turns what is typed
    into a :class:`market.game.Decision` (a ValueError says which box is wrong)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._filled_for: tuple[int, int] | None = None  # (game generation, month) the form was reset for
        self._request_ids: list[int] = []
        self._names: list[str] = []

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any box ends the turn, as ``n`` does outside the boxes (inside one, ``n``
        is a letter)."""
        event.stop()
        self.app.action_next_month()  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        tips = {
            "#prices-title": "On-demand: rented month to month at the posted price. Reserved: committed ahead, "
                             "cheaper. Spot: cheapest, interrupted when others need the GPUs (spot <= reserved <= "
                             "on-demand).",
            "#answers-title": "A request is a buyer's call for capacity. Offer a price per GPU-hour at or under "
                              "its ceiling and the buyer signs a take-or-pay contract: it pays every month, and "
                              "you owe the GPUs from the start month (late delivery costs penalties). The "
                              "remaining contract value is your backlog.",
            "#financing-title": "Lenders advance against your GPUs and contracts. Covenants (tested each quarter): "
                                "debt at most a multiple of EBITDA, EBITDA at least the debt service. 6 shows "
                                "your headroom.",
        }
        for sel, tip in tips.items():
            self.query_one(sel).tooltip = tip

    def compose(self) -> ComposeResult:
        session: Session = self.app.session  # type: ignore[attr-defined]
        cat = session.model.cat
        self._names = list(cat.names)
        yield Static(id="turn-status")
        yield Static(id="turn-errors", classes="errors")
        yield Static(Text("Tab: next box · Enter (n outside a box): end the turn · Escape: leave a box",
                          style="dim"), classes="form-title")
        yield Static(Text("GPU orders from NVIDIA (units; paid on shipment)", style="bold"), classes="form-title")
        for g, name in enumerate(cat.names):
            if cat.nvidia[g]:
                yield _row(Label(name, classes="form-label", id=f"order-label-{g}"),
                           Input(placeholder="0", id=f"order-{g}", classes="num"), id=f"order-row-{g}")
        yield Static(Text("Power", style="bold"), classes="form-title")
        yield _row(Label("MW to build", classes="form-label", id="mw-label"),
                   Input(placeholder="0", id="build-mw", classes="num"))
        yield Static(Text("Prices, $ per GPU-hour: on-demand / reserved / spot", style="bold"), classes="form-title",
                     id="prices-title")
        for g, name in enumerate(cat.names):
            yield _row(Label(name, classes="form-label"),
                       Input(id=f"od-{g}", classes="num"), Input(id=f"res-{g}", classes="num"),
                       Input(id=f"spot-{g}", classes="num"), id=f"price-row-{g}")
        yield Static(Text("Financing ($; 1.5B, 250M and 40k are understood)", style="bold"), classes="form-title",
                     id="financing-title")
        yield _row(Label("Borrow", classes="form-label"), Input(placeholder="0", id="borrow", classes="num"),
                   Label("Repay", classes="form-label"), Input(placeholder="0", id="repay", classes="num"))
        yield Static(Text("Capacity requests you can answer (a price alone is an offer; take-or-pay: the buyer "
                          "pays monthly, you must deliver)", style="bold"), classes="form-title",
                     id="answers-title")
        yield Vertical(id="answers")
        yield Button("End turn (n)", id="end-turn", variant="primary")

    # ------------------------------------------------------------------ showing
    def show(self, session: Session) -> None:
        if session.player is None or list(session.model.cat.names) != self._names:
            return
        with session.lock:
            m = session.model
            p = session.game.company
            cat = m.cat
            t = m.month
            cap = p.borrowing_capacity()
            status = Text()
            status.append(f"{p.name} - decisions for {m.label(t)}", style="bold")
            status.append(f"   cash {F.money(p.cash())}  debt {F.money(p.debt())}  can borrow {F.money(cap)}\n")
            status.append(f"GPUs {F.count(float(p.installed.sum()))} installed, "
                          f"{F.count(float(p.in_transit.sum()))} in transit, {F.count(float(p.on_order.sum()))} on "
                          f"order; {p.powered_mw:,.0f} MW powered + {sum(mw for _, mw in p.builds):,.0f} MW "
                          f"building; utilisation {F.pct(p.utilisation)}; status "
                          f"{'defaulted' if p.defaulted else p.status}")
            short = next((row for row in V.obligations(session.game, 18) if row["short"] or row["mw_short"]), None)
            if short is not None:
                what = ", ".join(f"{F.count(v)} {k}" for k, v in short["short"].items()) or "MW"
                status.append(f"\nObligations: from {short['month']} your contracts need more than you will hold "
                              f"({what} short); 7 shows month by month.", style="bold yellow")
            if session.finished:
                status.append("\nThe scenario is over: k shows the scorecard.", style="bold")
            self.query_one("#turn-status", Static).update(status)
            key = (session.generation, t)
            fresh = key != self._filled_for
            self._filled_for = key
            for g in range(cat.n):
                if cat.nvidia[g]:
                    can = t < cat.end[g]  # (before its launch an order joins NVIDIA's queue)
                    self.query_one(f"#order-row-{g}").display = bool(can)
                    self.query_one(f"#order-label-{g}", Label).update(
                        f"{cat.names[g]} ${cat.capex(g, m.nvidia.price[g]) / 1e3:,.0f}k")
                    if fresh:
                        self.query_one(f"#order-{g}", Input).value = ""
                has = (p.installed[g] + p.in_transit[g] + p.on_order[g] + p.resale[g] > 0) or p.od[g] == p.od[g]
                self.query_one(f"#price-row-{g}").display = bool(has)
                if fresh:
                    for key_, arr in (("od", p.od), ("res", p.res), ("spot", p.spot)):
                        v = arr[g]
                        self.query_one(f"#{key_}-{g}", Input).value = f"{v:.2f}" if v == v else ""
            self.query_one("#mw-label", Label).update(
                f"MW to build (${p.mw_cost / 1e6:,.1f}M/MW, ready in {p.mw_lead} months)")
            requests = []
            for r in m.exchange.open_requests():
                sellers = m.exchange.eligible_sellers(r)
                if p in sellers:
                    requests.append((r, len(sellers) - 1))
            game = session.game
            rows = []
            for r, rivals in requests:
                qty = game.offer_size(r)
                means = game.means(r.generation, r.start, r.term)
                begin = game.offer_start(r)
                when = "" if begin <= r.start else f" (yours could start {m.label(begin)})"
                rows.append((r.request_id,
                             f"#{r.request_id} {F.display_name(r.buyer)} wants {r.remaining:,} "
                             f"{cat.names[r.generation]} from {m.label(r.start)} for {r.term} months ({r.purpose}); "
                             f"you may offer {qty:,}{when}, you have {max(0, int(means['free'])):,} free; "
                             f"{rivals} rival{'s' if rivals != 1 else ''} may offer; issued {m.label(r.issued)}",
                             r.ceiling))
        if fresh:
            for i in ("build-mw", "borrow", "repay"):
                self.query_one(f"#{i}", Input).value = ""
            self.query_one("#turn-errors", Static).update("")
        ids = [r[0] for r in rows]
        if ids != self._request_ids or fresh:
            self._request_ids = ids
            self.call_later(self._rebuild_answers, rows)

    async def _rebuild_answers(self, rows: list[tuple[int, str, float]]) -> None:
        box = self.query_one("#answers", Vertical)
        await box.remove_children()
        if not rows:
            await box.mount(Static(Text("No open request you could serve this month.", style="dim")))
            return
        widgets = []
        for rid, text, ceiling in rows:
            widgets.append(Static(text, classes="answer-text"))
            widgets.append(_row(
                Select([("offer", "offer"), ("decline", "decline")], prompt="no answer", id=f"ans-{rid}",
                       classes="answer-select"),
                Input(placeholder=f"$/h (ceiling {F.price(ceiling)})", id=f"ansprice-{rid}", classes="num mid",
                      tooltip=f"Your price per GPU-hour; the buyer's ceiling is {F.price(ceiling)}."),
                Input(placeholder="floor (blank: firm)", id=f"ansfloor-{rid}", classes="num mid",
                      tooltip="The lowest price you would concede to. With a floor the offer is negotiated as the "
                              "AI's are: you open at the price and concede towards the floor while the buyer raises "
                              "its bid; without one the price is firm and the buyer takes it if under its ceiling.")))
        await box.mount_all(widgets)

    def show_errors(self, errors: list[str]) -> None:
        t = Text()
        for e in errors:
            t.append("✗ " + e + "\n", style="bold red")
        self.query_one("#turn-errors", Static).update(t)
        self.scroll_home(animate=False)

    # ------------------------------------------------------------------ reading
    def read_decision(self, session: Session) -> Decision:
        """The decision typed in the form. Only prices that differ from the company's current
        ones are included."""
        m = session.model
        p = session.game.company
        cat = m.cat
        # what was typed stands for this month: a later repaint must not reset the boxes
        self._filled_for = (session.generation, m.month)
        orders: dict[str, int] = {}
        prices: dict[str, dict[str, float]] = {}
        for g, name in enumerate(cat.names):
            if cat.nvidia[g]:
                row = self.query_one(f"#order-row-{g}")
                v = _num(self.query_one(f"#order-{g}", Input), f"orders {name}")
                if v:
                    if not row.display:
                        raise ValueError(f"orders: NVIDIA no longer sells {name}")
                    if v != int(v):
                        raise ValueError(f"orders {name}: whole GPUs only (got {v:g})")
                    orders[name] = int(v)
            if not self.query_one(f"#price-row-{g}").display:
                continue
            cur = (p.od[g], p.res[g], p.spot[g])
            vals = []
            changed = False
            for key, c in zip(("od", "res", "spot"), cur):
                box = self.query_one(f"#{key}-{g}", Input)
                if not box.value.strip():
                    vals.append(c)
                    continue
                v = _num(box, f"prices {name} {key}")
                vals.append(v)
                if not (c == c and f"{c:.2f}" == box.value.strip()):
                    changed = True
            if changed:
                if any(v != v for v in vals):
                    raise ValueError(f"prices {name}: give all three prices (on-demand, reserved, spot)")
                prices[name] = {"on_demand": vals[0], "reserved": vals[1], "spot": vals[2]}
        answers: dict[int, dict] = {}
        for rid in self._request_ids:
            try:
                sel = self.query_one(f"#ans-{rid}", Select)
            except Exception:  # the rows are being rebuilt
                continue
            pr = _num(self.query_one(f"#ansprice-{rid}", Input), f"request {rid} price")
            floor = _num(self.query_one(f"#ansfloor-{rid}", Input), f"request {rid} floor")
            terms = {"price": pr, **({"floor": floor} if floor else {})}
            if sel.value == Select.NULL:
                if pr:  # a price typed without choosing: an offer at that price, not a silent nothing
                    answers[rid] = {"action": "offer", **terms}
                continue
            answers[rid] = {"action": str(sel.value), **terms}
        return Decision(
            orders=orders,
            build_mw=_num(self.query_one("#build-mw", Input), "MW to build"),
            prices=prices,
            answers=answers,
            borrow=_num(self.query_one("#borrow", Input), "borrow"),
            repay=_num(self.query_one("#repay", Input), "repay"),
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "end-turn":
            event.stop()
            self.app.action_next_month()  # type: ignore[attr-defined]


def _num(box: Input, what: str) -> float:
    try:
        return F.parse_number(box.value)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
