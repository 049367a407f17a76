"""Investor value of a public company."""

from __future__ import annotations


def ev_multiple(base: float, growth: float, margin: float, leverage: float, backlog_cover: float,
                sentiment: float) -> float:
    """Enterprise value / revenue run-rate: the base multiple times
    (1 + 0.3 x annualised growth, clipped to [-0.5, 1]) x (1 + EBITDA margin, clipped to [-0.5, 0.8])
    x (1 + 0.05 x backlog cover in years, at most 10) / (1 + 0.1 x leverage above 3x) x sentiment."""
    g = min(1.0, max(-0.5, growth))
    m = min(0.8, max(-0.5, margin))
    cover = min(10.0, max(0.0, backlog_cover))
    lev = max(0.0, leverage - 3.0) if leverage != float("inf") else 10.0
    return base * (1.0 + 0.3 * g) * (1.0 + m) * (1.0 + 0.05 * cover) / (1.0 + 0.1 * lev) * sentiment


def equity_value(revenue_run_rate: float, multiple: float, cash: float, debt: float) -> float:
    """Equity = EV - debt + cash, floored at zero."""
    return max(0.0, revenue_run_rate * multiple - debt + cash)


def next_sentiment(previous: float, persistence: float, shock: float) -> float:
    """Sentiment mean-reverts to 1 with ``persistence`` and takes this month's news ``shock``."""
    return max(0.05, 1.0 + persistence * (previous - 1.0) + shock)
