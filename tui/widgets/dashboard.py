"""The dashboard: headline figures, market share over time and prices per generation."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView, colour, month_ticks, plot_lines

PRICE_KINDS = ("on-demand", "reserved", "spot")


class Headline(Static):
    """The month's headline figures in one or two lines."""

    def show(self, session: Session) -> None:
        h = V.headline(session.model)
        if not h:
            # before the first month: what this scenario is about, for the class, and the turn
            scn = session.game.scenario
            tall = self.app.size.height >= 32
            t = Text()
            t.append(scn.title, style="bold")
            if scn.summary:
                t.append(f"  {scn.summary}", style="dim")
            if scn.description and (tall or session.player is None):
                t.append("\n" + " ".join(scn.description.split()))
            if scn.question and (tall or session.player is None):
                t.append("\nQuestion for the class: ", style="bold")
                t.append(scn.question)
            if session.player is not None:
                t.append(f"\nYour first turn as {session.player}, in three lines:", style="bold")
                t.append("\n 1. Press 5 for your turn: GPU orders, MW to build, prices, answers to buyers.")
                t.append("\n 2. n ends the turn: the month runs; the AI plays every other company.")
                t.append("\n 3. 6 reports what happened to you, 7 what your contracts need; ? explains terms.")
            else:
                t.append("\nNo month simulated yet: press n for the next month, space to play, ? for help.",
                         style="italic")
            self.update(t)
            return
        prev = h["prev"]

        def delta(key: str, fmt) -> str:
            if not prev:
                return ""
            d = h[key] - prev[key]
            return f" ({'+' if d >= 0 else '-'}{fmt(abs(d))})"

        t = Text()
        items = [
            ("GPUs shipped", F.count(h["gpus_shipped"])),
            ("installed", F.count(h["gpus_installed"])),
            ("utilisation", F.pct(h["utilization"]) + delta("utilization", lambda x: F.pct(x))),
            ("inference", F.pct(h["inference_share"])),
            ("HHI", f"{h['hhi_revenue']:.3f}"),
            ("avg", F.price(h["avg_price_per_gpu_hour"]) + "/GPU-h"),
            ("revenue", F.money(h["compute_revenue"]) + "/mo"),
            ("backlog", F.money(h["backlog"])),
        ]
        for i, (label, value) in enumerate(items):
            if i:
                t.append("  ")
            t.append(f"{label} ", style="dim")
            t.append(value, style="bold")
        self.update(t)


class ShareChart(PlotextPlot):
    """Providers' market share per month, by compute revenue or by GPU-hours sold."""


class PriceChart(PlotextPlot):
    """Market-average posted price per generation per month."""


class ShareTable(Static):
    """Each provider's share this month and its change on the month, in the chart's colours
    (the chart's legend: none is drawn over the data)."""


class PriceTable(Static):
    """This month's average posted prices per generation, in the price chart's colours."""


class Dashboard(Vertical, MarketView):
    """Headline figures, and two charts each with its table beside it. ``t`` switches the share
    measure and ``p`` the price kind (app-wide keys: they work whatever has focus)."""

    measure: reactive[str] = reactive("revenue")
    price_kind: reactive[int] = reactive(0)

    def compose(self) -> ComposeResult:
        yield Headline(id="headline")
        with Horizontal(id="share-row", classes="dash-row"):
            yield ShareChart(id="share-chart")
            yield ShareTable(id="share-table")
        with Horizontal(id="price-row", classes="dash-row"):
            yield PriceChart(id="price-chart")
            yield PriceTable(id="price-table")

    def action_toggle_measure(self) -> None:
        self.measure = "hours" if self.measure == "revenue" else "revenue"
        self.show(self.app.session)  # type: ignore[attr-defined]

    def action_cycle_price(self) -> None:
        self.price_kind = (self.price_kind + 1) % 3
        self.show(self.app.session)  # type: ignore[attr-defined]

    def show(self, session: Session) -> None:
        with session.lock:
            session.prices.update(session.model)
            m = session.model
            self.query_one(Headline).show(session)
            months, shares = V.share_series(m, self.measure)
            labels = [m.label(t) for t in months]
            ticks = month_ticks(labels, months, 4 if self.size.width < 100 else 6)
            names = [p.name for p in m.providers]
            # providers that never sold anything would only clutter the chart
            series, cols = [], []
            for i, name in enumerate(names):
                ys = shares[name]
                if any(y > 0 for y in ys):
                    series.append((name, months, [100.0 * y for y in ys]))
                    cols.append(colour(i))
            what = "compute revenue" if self.measure == "revenue" else "GPU-hours sold"
            plot_lines(self.query_one(ShareChart), series, f"Market share % by {what} (t)", xticks=ticks,
                       colours=cols)
            pb = session.prices
            kind = self.price_kind
            pseries, pcols = [], []
            for i, name in enumerate(m.cat.names):
                xs, ys = pb.series(name, kind)
                pseries.append((name, [float(x) for x in xs], ys))
                pcols.append(colour(i))
            plot_lines(self.query_one(PriceChart), pseries, f"{PRICE_KINDS[kind].capitalize()} $/GPU-hour (p)",
                       xticks=ticks, colours=pcols)
            latest = pb.latest(len(months) - 1) if months else []
            player = session.player
            last = {n: ys[-1] for n, ys in shares.items() if ys}
            before = {n: ys[-2] for n, ys in shares.items() if len(ys) > 1}
        st = Table(box=None, padding=(0, 1), expand=False, show_edge=False, header_style="bold")
        st.add_column("", no_wrap=True)
        st.add_column("share" if self.measure == "revenue" else "hours", justify="right")
        st.add_column("±pts", justify="right")
        ranked = sorted(range(len(names)), key=lambda i: -last.get(names[i], 0.0))
        for i in ranked:
            n = names[i]
            if n not in last:
                continue
            label = Text("■ ", style=colour(i))
            label.append(n, style="bold" if n == player else "")
            d = (last[n] - before[n]) * 100 if n in before else None
            st.add_row(label, F.pct(last[n], 1), "" if d is None else f"{d:+.1f}")
        self.query_one(ShareTable).update(st if last else Text("no month yet", style="dim"))
        tab = Table(box=None, padding=(0, 1), expand=False, show_edge=False, header_style="bold")
        tab.add_column("GPU", no_wrap=True)
        for k in ("on-dem.", "resv.", "spot"):
            tab.add_column(k, justify="right")
        order = {n: i for i, n in enumerate(m.cat.names)}
        for gen, od, res, spot in sorted(latest, key=lambda r: order.get(r[0], 99)):
            label = Text("■ ", style=colour(order.get(gen, 0)))
            label.append(gen)
            tab.add_row(label, F.price(od), F.price(res), F.price(spot))
        self.query_one(PriceTable).update(tab if latest else Text("no prices yet", style="dim"))
