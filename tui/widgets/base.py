"""What every view of the market has in common."""

from __future__ import annotations

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
               ylim: tuple[float, float] | None = None) -> None:
    """Redraw a line chart: each (label, xs, ys) downsampled to the widget's width; empty series
    are skipped (textual-plotext raises on an empty labelled series)."""
    plt = widget.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    width = max(10, widget.size.width - 12)
    drawn = 0
    for label, xs, ys in series:
        if not xs:
            continue
        x, y = downsample(xs, ys, width)
        plt.plot(x, y, label=label, marker=MARKER)
        drawn += 1
    if ylabel:
        plt.ylabel(ylabel)
    if xticks is not None and drawn:
        plt.xticks(*xticks)
    if ylim is not None and drawn:
        plt.ylim(*ylim)
    widget.refresh()


def month_ticks(labels: list[str], months: list[int], n: int = 5) -> tuple[list[float], list[str]]:
    """A few x ticks labelled YYYY-MM."""
    if not months:
        return [], []
    step = max(1, len(months) // n)
    picks = months[::step]
    return [float(t) for t in picks], [labels[i] for i in range(0, len(months), step)]
