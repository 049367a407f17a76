"""The dashboard: headline figures, market share over time and prices per generation."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.reactive import reactive
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView, month_ticks, plot_lines

PRICE_KINDS = ("on-demand", "reserved", "spot")


class Headline(Static):
    """The month's headline figures in one or two lines."""

    def show(self, session: Session) -> None:
        h = V.headline(session.model)
        if not h:
            # before the first month: what this scenario is about, for the class
            scn = session.game.scenario
            t = Text()
            t.append(scn.title, style="bold")
            if scn.summary:
                t.append(f"  {scn.summary}", style="dim")
            if scn.description:
                t.append("\n" + " ".join(scn.description.split()))
            if scn.question:
                t.append("\nQuestion for the class: ", style="bold")
                t.append(scn.question)
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


class PriceTable(Static):
    """This month's average posted prices per generation."""


class Dashboard(Vertical, MarketView):
    """Headline figures and two charts. ``t`` switches the share measure, ``p`` the price kind."""

    BINDINGS = [
        ("t", "toggle_measure", "Share by $/hours"),
        ("p", "cycle_price", "Price kind"),
    ]
    measure: reactive[str] = reactive("revenue")
    price_kind: reactive[int] = reactive(0)

    def compose(self) -> ComposeResult:
        yield Headline(id="headline")
        with Grid(id="dash-grid"):
            yield ShareChart(id="share-chart")
            with Vertical(id="price-box"):
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
            ticks = month_ticks(labels, months)
            # providers that never sold anything would only clutter the legend
            series = [(name, months, [100.0 * y for y in ys]) for name, ys in shares.items() if any(y > 0 for y in ys)]
            what = "compute revenue" if self.measure == "revenue" else "GPU-hours sold"
            plot_lines(self.query_one(ShareChart), series, f"Market share % by {what} (t)", xticks=ticks)
            pb = session.prices
            kind = self.price_kind
            pseries = []
            for name in m.cat.names:
                xs, ys = pb.series(name, kind)
                pseries.append((name, [float(x) for x in xs], ys))
            plot_lines(self.query_one(PriceChart), pseries, f"{PRICE_KINDS[kind].capitalize()} $/GPU-hour (p)",
                       xticks=ticks)
            latest = pb.latest(len(months) - 1) if months else []
        tab = Table(box=None, padding=(0, 1), expand=False, show_edge=False)
        tab.add_column("GPU", style="bold")
        for k in PRICE_KINDS:
            tab.add_column(k, justify="right")
        order = {n: i for i, n in enumerate(m.cat.names)}
        for gen, od, res, spot in sorted(latest, key=lambda r: order.get(r[0], 99)):
            tab.add_row(gen, F.price(od), F.price(res), F.price(spot))
        self.query_one(PriceTable).update(tab if latest else Text("no prices yet", style="dim"))
