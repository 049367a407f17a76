"""What every view of the market has in common."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import plotext._utility as _plotext_utility
from textual_plotext import PlotextPlot

from tui.format import downsample


def _ordered_no_duplicates(data):
    """plotext removes duplicate points with ``list(set(...))``; the set holds strings (markers,
    colours), so the drawing order, and which point wins a shared cell, changed with Python's
    per-process string hashing: the same chart came out differently run to run. plotext's own
    source keeps this order-preserving version beside it (commented out as slower)."""
    return list(dict.fromkeys(data))


_plotext_utility.no_duplicates = _ordered_no_duplicates

MARKER = "hd"  # plotext marker of every line chart (sd measured no faster)

#: Okabe and Ito's palette, safe for the common kinds of colour blindness (black swapped for grey
#: and a light grey added, for dark terminals), then three of Paul Tol's (wine, teal, olive) so that
#: the catalogue's twelve generations each have their own; a series keeps its colour by its place
#: in the list.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
           "#DDDDDD", "#882255", "#44AA99", "#999933")


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _rgb(hex_: str) -> tuple[int, int, int]:
    return int(hex_[1:3], 16), int(hex_[3:5], 16), int(hex_[5:7], 16)

if TYPE_CHECKING:
    from tui.session import Session


class MarketView:
    """A part of the screen that repaints from the session after each month. ``show`` must be
    cheap: it runs once per simulated month while the view is visible."""

    def show(self, session: Session) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def spark(values: list[float], width: int = 24) -> str:
    """A one-line sparkline of the last ``width`` values."""
    bars = "▁▂▃▄▅▆▇█"
    vals = [v for v in values[-width:] if v == v]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-12:
        return bars[3] * len(vals)
    return "".join(bars[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in vals)


def plot_lines(widget: PlotextPlot, series: list[tuple[str, list[float], list[float]]], title: str,
               ylabel: str = "", xticks: tuple[list[float], list[str]] | None = None,
               ylim: tuple[float, float] | None = None, colours: list[str] | None = None,
               legend: bool = False) -> None:
    """Redraw a line chart: each (label, xs, ys) downsampled to the widget's width, in the
    palette's colours (``colours``: one per series); empty series are skipped (textual-plotext
    raises on an empty labelled series). Without ``legend`` the lines carry no label, so no
    legend covers the data: a table beside the chart says which colour is which."""
    plt = widget.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    width = max(10, widget.size.width - 12)
    drawn = 0
    for i, (label, xs, ys) in enumerate(series):
        if not xs:
            continue
        x, y = downsample(xs, ys, width)
        c = _rgb(colours[i] if colours is not None else colour(i))
        if legend:
            plt.plot(x, y, label=label, marker=MARKER, color=c)
        else:
            plt.plot(x, y, marker=MARKER, color=c)
        drawn += 1
    if ylabel:
        plt.ylabel(ylabel)
    if xticks is not None and drawn:
        plt.xticks(*xticks)
    if ylim is not None and drawn:
        plt.ylim(*ylim)
    widget.refresh()


def month_ticks(labels: list[str], months: list[int], n: int = 5) -> tuple[list[float], list[str]]:
    """A few x ticks labelled with dates (YYYY-MM), the last month always among them."""
    if not months:
        return [], []
    step = max(1, math.ceil(len(months) / n))
    idx = list(range(len(months) - 1, -1, -step))[::-1]
    return [float(months[i]) for i in idx], [labels[i] for i in idx]


def table(title: str | None = None):
    """A borderless Rich table with a bold title on the left: the tables of the statements."""
    from rich.table import Table

    return Table(title=title, title_justify="left", title_style="bold", box=None, padding=(0, 1),
                 show_edge=False, header_style="bold")


def pair(a, b, narrow: bool, gap: int = 3):
    """Two renderables side by side, or one above the other on a narrow screen."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if narrow:
        return Group(a, Text(""), b)
    grid = Table.grid(padding=(0, gap))
    grid.add_row(a, b)
    return grid
