"""Companies: each provider's accounts, NVIDIA's order book and the labs' compute bills."""

from __future__ import annotations

from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView, pair, spark, table

NVIDIA = "__nvidia__"
LABS = "__labs__"


def natural_width(renderable) -> int:
    """Columns a renderable takes when nothing is cut or wrapped."""
    console = Console(width=400)
    return Measurement.get(console, console.options, renderable).maximum


def statements(bs, inc, cf, width: int, gap: int = 3):
    """The three statements side by side where ``width`` columns hold them whole, else the
    balance sheet beside the income statement above the cash flow, else one under another: a
    label or a figure is never cut."""
    w = [natural_width(t) for t in (bs, inc, cf)]
    if sum(w) + 2 * gap <= width:
        grid = Table.grid(padding=(0, gap))
        grid.add_row(bs, inc, cf)
        return grid
    if w[0] + w[1] + gap <= width:
        return Group(pair(bs, inc, False, gap), Text(""), cf)
    return Group(bs, Text(""), inc, Text(""), cf)


def provider_panel(session: Session, name: str, width: int = 200) -> Group:
    """Balance sheet, income statement (month, quarter, year to date), cash flow, backlog and
    sparklines, laid out for a pane ``width`` columns wide."""
    narrow = width < 86
    m = session.model
    p = m.provider_by_name[name]
    e = p.eid
    parts: list = []
    status = "defaulted" if p.defaulted else (p.status if p.active else "not yet active")
    head = Text()
    head.append(f"{p.name}", style="bold")
    head.append(f"  {p.kind}, {'public' if p.spec.public else 'private'}, status {status}")
    if p.player:
        head.append("  (your company)", style="bold reverse")
    parts.append(head)
    gpus = float(p.installed.sum())
    parts.append(Text(f"GPUs {F.count(gpus)} installed, {F.count(float(p.in_transit.sum()))} in transit, "
                      f"{F.count(float(p.on_order.sum()))} on order; {p.powered_mw:,.0f} MW powered, "
                      f"{sum(mw for _, mw in p.builds):,.0f} MW building; utilisation {F.pct(p.utilisation)}; "
                      f"market value {F.money(p.market_value) if p.spec.public else '(private)'}"))
    if not m.recorder.agent_months:
        return Group(*parts)
    bs = table("Balance sheet")
    bs.add_column("")
    bs.add_column("", justify="right")
    for label, v in V.balance_sheet(m, e):
        style = "bold" if label.startswith(("Total", "Equity")) else ""
        bs.add_row(Text(label, style=style), Text(F.money(v), style=style))
    inc = table("Income statement")
    inc.add_column("")
    for col in ("month", "quarter", "year"):
        inc.add_column({"month": "month", "quarter": "QTD", "year": "YTD"}[col], justify="right")
    st = V.income_statement(m, e)
    for line in V.INCOME_LINES:
        style = "bold" if line in ("revenue", "net_income") else ""
        inc.add_row(Text(V.INCOME_LABELS[line], style=style),
                    *(Text(F.money(st[line][k]), style=style) for k in ("month", "quarter", "year")))
    cf = table("Cash flow")
    cf.add_column("")
    for col in ("month", "QTD", "YTD"):
        cf.add_column(col, justify="right")
    flows = V.cash_flow(m, e, getattr(session.game, "opening", None))
    for line in V.CASH_FLOW_LINES:
        style = "bold" if line in ("operating", "investing", "financing", "change") else ""
        cf.add_row(Text(V.CASH_FLOW_LABELS[line], style=style),
                   *(Text(F.money(flows[line][k]), style=style) for k in ("month", "quarter", "year")))
    parts += [statements(bs, inc, cf, width), Text("")]
    total, top_share, ranked = V.backlog(m, name)
    bl = table(f"Backlog {F.money(total)}, top customer {F.pct(top_share)}")
    bl.add_column("customer")
    bl.add_column("value", justify="right")
    bl.add_column("share", justify="right")
    for b, v, s in ranked[:5]:
        bl.add_row(F.display_name(b), F.money(v), F.pct(s))
    if len(ranked) > 5:
        bl.add_row(f"{len(ranked) - 5} more", F.money(sum(v for _, v, _ in ranked[5:])),
                   F.pct(sum(s for _, _, s in ranked[5:])))
    sp = table("Trends (last 24 months)")
    sp.add_column("")
    sp.add_column("now", justify="right")
    sp.add_column("")
    for label, key, fmt in (("Revenue", "revenue", F.money), ("Net income", "net_income", F.money),
                            ("Cash", "cash", F.money), ("Debt", "debt", F.money),
                            ("GPUs", "gpus_installed", F.count), ("Share", "market_share", F.pct),
                            ("Utilisation", "utilization", F.pct)):
        ys = V.agent_series(m, e, key)
        sp.add_row(label, fmt(ys[-1]), Text(spark(ys), style="green"))
    parts.append(pair(bl, sp, narrow))
    return Group(*parts)


def nvidia_panel(session: Session) -> Group:
    """NVIDIA's order book per generation and this month's allocation by buyer."""
    m = session.model
    nv = m.nvidia
    parts: list = [Text(f"{nv.name}  allocation policy: {nv.policy.replace('_', ' ')}; market value "
                        f"{F.money(nv.market_value)}", style="bold")]
    book = table("Order book")
    for col, j in (("GPU", "left"), ("launch", "left"), ("price", "right"), ("output/mo", "right"),
                   ("shipped", "right"), ("backlog", "right"), ("largest orders", "left")):
        book.add_column(col, justify=j)  # type: ignore[arg-type]
    for r in V.nvidia_book(m):
        if r["output"] <= 0 and r["backlog"] <= 0:
            continue
        orders = ", ".join(f"{n} {F.count(u)}" for n, u in r["orders"][:3])
        book.add_row(r["generation"], r["launch"], F.money(r["price"], 1), F.count(r["output"]), F.count(r["shipped"]),
                     F.count(r["backlog"]), orders)
    parts.append(book)
    alloc = table("Shipped this month, by buyer")
    alloc.add_column("buyer")
    alloc.add_column("GPUs", justify="right")
    alloc.add_column("share", justify="right")
    total = float(nv.shipped.sum())
    to = sorted(nv.shipped_to.items(), key=lambda kv: -kv[1])
    rest = total - sum(float(v) for _, v in to)
    for name, units in to + ([("rest of world", rest)] if rest > 0 else []):
        alloc.add_row(name, F.count(float(units)), F.pct(float(units) / total if total else 0.0))
    parts.append(alloc)
    return Group(*parts)


def labs_panel(session: Session, narrow: bool = False) -> Group:
    """Each named lab's compute bill and contracts (on a narrow screen without the cash and
    sellers columns, so that names and figures are not cut)."""
    m = session.model
    t = table("Labs: compute bill last month and contracts")
    cols = [("lab", "left"), ("bill", "right"), ("short-term", "right"), ("contracts", "right"),
            ("contracted", "right")] + ([] if narrow else [("cash", "right"), ("sellers", "left")])
    for col, j in cols:
        t.add_column(col, justify=j, no_wrap=True)  # type: ignore[arg-type]
    for r in V.labs(m):
        row = [F.display_name(r["name"]), F.money(r["bill"]), F.money(r["short_term"]), str(r["contracts"]),
               F.money(r["contracted_value"])]
        if not narrow:
            row += [F.money(r["cash"]), ", ".join(r["sellers"])]
        t.add_row(*row)
    rows = V.contracts(m)
    live = [c for c in rows if c["status"] in ("pending", "active") and c["buyer"] in {r["name"] for r in V.labs(m)}]
    c = table("Labs' live contracts (largest remaining first)")
    cols = [("lab", "left"), ("seller", "left"), ("GPU", "left"), ("GPUs", "right")]
    cols += [] if narrow else [("$/h", "right"), ("from", "left"), ("months", "right")]
    for col, j in cols + [("remaining" if not narrow else "left", "right")]:
        c.add_column(col, justify=j, no_wrap=True)  # type: ignore[arg-type]
    for r in sorted(live, key=lambda r: -r["remaining"])[:30]:
        row = [F.display_name(r["buyer"]), r["seller"], r["generation"], F.count(r["gpus"])]
        if not narrow:
            row += [F.price(r["price"]), r["start"], str(r["term"])]
        c.add_row(*row, F.money(r["remaining"]))
    return Group(t, Text(""), c)


class Companies(Horizontal, MarketView):
    """A list of companies on the left, the chosen one's accounts on the right."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.selected: str | None = None
        self._names: list[str] = []

    def compose(self) -> ComposeResult:
        yield OptionList(id="company-list")
        with VerticalScroll(id="company-detail"):
            yield Static(id="company-body")

    def _fill_list(self, session: Session) -> None:
        names = [p.name for p in session.model.providers]
        if names == self._names:
            return
        self._names = names
        ol = self.query_one(OptionList)
        ol.clear_options()
        opts = [Option(("★ " if n == session.player else "") + n, id=n) for n in names]
        opts += [Option("NVIDIA", id=NVIDIA), Option("Labs", id=LABS)]
        ol.add_options(opts)
        if self.selected is None or (self.selected not in names and self.selected not in (NVIDIA, LABS)):
            self.selected = session.player or names[0]
        ids = names + [NVIDIA, LABS]
        ol.highlighted = ids.index(self.selected)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.selected:
            self.selected = event.option.id
            self.show(self.app.session)  # type: ignore[attr-defined]

    def reset(self) -> None:
        self._names = []
        self.selected = None

    def show(self, session: Session) -> None:
        with session.lock:
            self._fill_list(session)
            sel = self.selected or ""
            narrow = self.app.size.width < 110
            if sel == NVIDIA:
                body = nvidia_panel(session)
            elif sel == LABS:
                body = labs_panel(session, narrow=narrow)
            else:  # (the pane: the screen less the list, the padding and the scroll bar)
                body = provider_panel(session, sel, width=self.app.size.width - (16 if narrow else 22) - 4)
        self.query_one("#company-body", Static).update(body)
