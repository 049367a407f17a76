"""The player's seat: the month's report (what was decided and what happened, in the spirit of
Capsim's Courier) and the obligations view (contracted GPUs by month against GPUs and MW)."""

from __future__ import annotations

import math

from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView, pair, table


def _section(title: str) -> Text:
    return Text("\n" + title.upper(), style="bold underline")


def _bullets(lines: list[str], style: str = "") -> list[Text]:
    return [Text("• " + x, style=style) for x in lines]


def _ratio(x: float) -> str:
    return "none" if x == 0 else ("n/a" if not math.isfinite(x) else f"{x:.1f}x")


def report_body(session: Session, narrow: bool) -> Group:
    """The month's report of the player's company as a renderable."""
    g = session.game
    r = V.player_report(g, session.shadow_for(g.model.month))
    if not r:
        return Group(Text(f"{g.player}: no month simulated yet.", style="bold"), Text(
            "Your first turn, in three lines:\n"
            " 1. Press 5 for your turn: GPU orders, MW to build, prices, answers to buyers.\n"
            " 2. n ends the turn: the month runs; the AI plays every other company.\n"
            " 3. 6 reports what happened to you, 7 what your contracts need; ? explains terms."))
    parts: list = [Text(f"{r['company'].upper()}: YOUR MONTH, {r['month']}", style="bold reverse")]
    parts.append(_section("You decided"))
    parts += _bullets(r["decided"])
    parts.append(_section("What happened"))
    parts += _bullets(r["fleet"])
    sv = r["service"]
    if r["won"]:
        parts += _bullets(["Won: " + w for w in r["won"]], "green")
    else:
        parts += _bullets(["No contract won this month."])
    if r["lost"]:
        parts += _bullets(["Lost: " + w for w in r["lost"]], "yellow")
    if r["cancelled"]:
        parts += _bullets(["Cancelled: " + w for w in r["cancelled"]], "bold red")
    n_riv, v_riv = r["rivals_signed"]
    parts += _bullets([f"Rivals signed {n_riv} contracts worth {F.money(v_riv)} this month."])
    line = f"{sv['active']} contracts being served"
    if sv["short"]:
        shorts = "; ".join(f"{b} {gen} {d:,}/{n:,} GPUs, {late} months late" for b, gen, d, n, late in sv["short"][:4])
        line += f"; delivered short on {len(sv['short'])}: {shorts}"
        parts += _bullets([line + "."], "bold red")
    else:
        parts += _bullets([line + ", every GPU delivered."])
    if sv["penalties"] > 0.5:
        parts += _bullets([f"Penalties, fees and losses paid: {F.money(sv['penalties'])}."], "bold red")
    share = F.pct(r["share"], 1)
    if r["share_prev"] is not None:
        d = r["share"] - r["share_prev"]
        share += f" ({'+' if d >= 0 else '-'}{abs(d) * 100:.1f} pts)"
    parts += _bullets([f"Revenue {F.money(r['revenue'])}, net income {F.money(r['net_income'])}, market share "
                       f"{share}; utilisation {F.pct(r['utilisation'])} (market {F.pct(r['market_utilisation'])}); "
                       f"backlog {F.money(r['backlog'])}."])
    pt = table("Prices against rivals, $/GPU-hour (yours / cheapest rival / rivals' mean)")
    pt.add_column("GPU")
    for k in ("on-demand", "reserved", "spot"):
        pt.add_column(k, justify="right")
    for row in r["prices"]:
        cells = []
        for k in ("on_demand", "reserved", "spot"):
            mine, lo, mean = row[k], row[k + "_min"], row[k + "_mean"]
            style = "green" if lo != lo or mine <= lo else ("yellow" if mine <= mean else "red")
            cells.append(Text(f"{F.price(mine)} / {F.price(lo)} / {F.price(mean)}", style=style))
        pt.add_row(row["generation"], *cells)
    parts += [Text(""), pt if r["prices"] else Text("No prices posted.", style="dim")]
    cf = table("Cash flow")
    cf.add_column("")
    for h in ("month", "QTD", "YTD"):
        cf.add_column(h, justify="right")
    for line_ in V.CASH_FLOW_LINES:
        bold = line_ in ("operating", "investing", "financing", "change")
        cf.add_row(Text(V.CASH_FLOW_LABELS[line_], style="bold" if bold else ""),
                   *(Text(F.money(r["cash_flow"][line_][p]), style="bold" if bold else "")
                     for p in ("month", "quarter", "year")))
    c = r["covenants"]
    cv = table("Covenants (tested each quarter)")
    cv.add_column("")
    cv.add_column("now", justify="right")
    cv.add_column("limit", justify="right")
    cv.add_column("headroom", justify="right")
    lev_ok = c["leverage"] <= c["max_leverage"]
    cv.add_row("Leverage (debt/EBITDA)", _ratio(c["leverage"]), f"≤ {c['max_leverage']:.1f}x",
               Text(f"{c['max_leverage'] - c['leverage']:.1f}x" if math.isfinite(c["leverage"]) else "none",
                    style="green" if lev_ok else "bold red"))
    ds_ok = c["dscr"] >= c["min_dscr"]
    cv.add_row("Debt-service cover", _ratio(c["dscr"]), f"≥ {c['min_dscr']:.1f}x",
               Text(f"{c['dscr'] - c['min_dscr']:.1f}x" if math.isfinite(c["dscr"]) else "ample",
                    style="green" if ds_ok else "bold red"))
    cv.add_row("Next test", c["next_test"], "", "")
    cv.add_row("Status", c["status"], "", "")
    cv.add_row("Debt / can borrow", F.money(c["debt"]), F.money(c["can_borrow"]), "")
    parts += [Text(""), pair(cf, cv, narrow, gap=4)]
    parts.append(_section("Against the AI in your seat"))
    if "shadow" in r:
        st = table()
        st.add_column("")
        st.add_column("you", justify="right")
        st.add_column("the AI's plan", justify="right")
        for label, a, b in r["shadow"]:
            st.add_row(label, a, b)
        parts += [Text("The same start and seed with the AI's own policy running your company (a shadow run).",
                       style="dim"), st]
    else:
        parts.append(Text("◷ working out the AI's plan for your seat (a shadow run from the same start)…",
                          style="italic"))
    return Group(*parts)


def obligations_body(session: Session, narrow: bool) -> Group:
    """Contracted GPUs by month against GPUs held and MW powered."""
    g = session.game
    rows = V.obligations(g, 12 if narrow else 18)
    p = g.company
    head = Text()
    head.append(f"{p.name}: what your contracts need, month by month", style="bold")
    head.append("\nContracted: GPUs your signed contracts must deliver that month. Held: GPUs installed, "
                "shipments landing by then, and the GPUs on order with NVIDIA "
                f"({F.count(float(p.on_order.sum()))} now) from when its queue should reach them (an estimate). "
                "MW: what the contracted GPUs draw against MW powered by then.", style="dim")
    t = table()
    for col, j in (("month", "left"), ("contracted", "right"), ("held", "right"), ("gap", "right"),
                   ("MW needed", "right"), ("MW powered", "right"), ("short of", "left")):
        t.add_column(col, justify=j)  # type: ignore[arg-type]
    for r in rows:
        gap = r["held"] - r["contracted"]
        bad = bool(r["short"]) or r["mw_short"]
        what = ", ".join(f"{F.count(v)} {k}" for k, v in r["short"].items())
        if r["mw_short"]:
            what = (what + "; " if what else "") + f"{r['mw_need'] - r['mw_powered']:,.0f} MW"
        style = "bold red" if bad else ""
        t.add_row(r["month"], F.count(r["contracted"]), F.count(r["held"]),
                  Text(("+" if gap >= 0 else "-") + F.count(abs(gap)), style=style),
                  f"{r['mw_need']:,.0f}", f"{r['mw_powered']:,.0f}", Text(what or "-", style=style))
    gens = table("Next month by generation")
    gens.add_column("GPU")
    gens.add_column("contracted", justify="right")
    gens.add_column("held", justify="right")
    if rows:
        for name, (need, held) in rows[0]["by_generation"].items():
            gens.add_row(name, F.count(need), Text(F.count(held), style="bold red" if need > held + 0.5 else ""))
    return Group(head, Text(""), t, Text(""), gens)


class Report(VerticalScroll, MarketView):
    """The month's report of the player's company."""

    def compose(self):
        yield Static(id="report-body")

    def show(self, session: Session) -> None:
        if session.player is None:
            return
        with session.lock:
            self.app.ensure_shadow()  # type: ignore[attr-defined]
            body = report_body(session, self.app.size.width < 110)
        self.query_one("#report-body", Static).update(body)


class Obligations(VerticalScroll, MarketView):
    """Contracted GPUs by month against GPUs arriving and MW powered."""

    def compose(self):
        yield Static(id="obligations-body")

    def show(self, session: Session) -> None:
        if session.player is None:
            return
        with session.lock:
            body = obligations_body(session, self.app.size.width < 110)
        self.query_one("#obligations-body", Static).update(body)
