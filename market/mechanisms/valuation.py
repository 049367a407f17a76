"""Investor value of a public company: discounted free cash flow over a growth that fades.

The value of the operations (enterprise value) is the free cash flow of the next ``YEARS`` years
and a terminal value, discounted at the cost of equity. Revenue grows at a rate that starts at
the expected growth and fades each year towards the terminal growth; the operating margin after
depreciation moves from today's towards a long-run target at the same pace; free cash flow is
the operating profit after tax less what growth costs to finance (``growth / return on
capital`` of it: the value-driver formula). Everything is vectorised over companies.
"""

from __future__ import annotations

import numpy as np

YEARS = 10  # years of explicit forecast before the terminal value


def discount_rate(base_rate, equity_risk_premium, beta, leverage, leverage_premium, ig_cover, backlog_discount):
    """The cost of equity: ``base_rate + beta x equity_risk_premium``, plus ``leverage_premium``
    per turn of debt / EBITDA above 3 (at most 10 turns counted), less ``backlog_discount`` x the
    investment-grade backlog in years of revenue (at most 1): contracted revenue from customers
    who will pay is worth more than hoped-for revenue. Numbers or arrays."""
    lev = np.clip(np.nan_to_num(np.asarray(leverage, dtype=float), nan=0.0, posinf=13.0) - 3.0, 0.0, 10.0)
    cover = np.clip(np.asarray(ig_cover, dtype=float), 0.0, 1.0)
    return base_rate + beta * equity_risk_premium + leverage_premium * lev - backlog_discount * cover


def enterprise_value(revenue, growth, margin, rate, fade, terminal_growth, target_margin, return_on_capital,
                     tax_rate):
    """Value of operations from this year's ``revenue``: in year y = 1..YEARS revenue grows at
    ``g_y = terminal + (growth - terminal) x fade^(y-1)`` and the margin after depreciation is
    ``m_y = target + (margin - target) x fade^y``; free cash flow is operating profit after tax
    less the reinvestment growth needs, ``R_y x (m_y - target x g_y / return_on_capital) x
    (1 - tax)`` (reinvestment scales with the profit the business earns at maturity, so a loss
    today never turns a growth charge into a credit), discounted at ``rate``; then a terminal value of the year
    after at ``terminal`` growth, ``FCF / (rate - terminal)`` (the rate kept at least 1 point
    above it). With ``growth = terminal`` and ``margin = target`` this is the Gordon formula
    ``R x (1 + g) x m x (1 - tax) x (1 - g / roc) / (rate - g)``. Arrays over companies."""
    revenue, growth, margin, rate, fade, target, roc, tax = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (revenue, growth, margin, rate, fade, target_margin, return_on_capital,
                                               tax_rate)))
    rate = np.maximum(rate, terminal_growth + 0.01)
    y = np.arange(1, YEARS + 2)  # (the year after the forecast: the terminal year)
    g = terminal_growth + (growth[..., None] - terminal_growth) * fade[..., None] ** (y - 1)
    g[..., -1] = terminal_growth
    m = target[..., None] + (margin[..., None] - target[..., None]) * fade[..., None] ** y
    m[..., -1] = m[..., -2]
    rev = revenue[..., None] * np.cumprod(1.0 + g, axis=-1)
    fcf = rev * (m - target[..., None] * g / roc[..., None]) * (1.0 - tax[..., None])
    disc = (1.0 + rate[..., None]) ** -y[:-1]
    tv = fcf[..., -1] / (rate - terminal_growth)
    return (fcf[..., :-1] * disc).sum(axis=-1) + tv * disc[..., -1]


def equity_value(enterprise: np.ndarray, sentiment, cash, debt) -> np.ndarray:
    """Equity = (enterprise value - debt + cash) x sentiment, floored at zero: the mood of the
    month's news moves the share price, not the value of the operations (it is not levered up by
    the debt)."""
    return np.maximum(0.0, np.asarray(enterprise) - debt + cash) * sentiment


def observed_growth(revenue_now, revenue_before, months_apart):
    """The annualised growth between two three- or six-month revenues ``months_apart`` apart,
    clipped to -50%..+150%. Arrays."""
    now, before = np.asarray(revenue_now, dtype=float), np.asarray(revenue_before, dtype=float)
    apart = np.maximum(np.asarray(months_apart, dtype=float), 1.0)
    ratio = np.divide(now, before, out=np.ones_like(now), where=before > 0)
    return np.clip(np.maximum(ratio, 1e-6) ** (12.0 / apart) - 1.0, -0.5, 1.5)


def adapt(expected, observed, speed):
    """Adaptive expectations: investors move what they expect ``speed`` of the way towards what
    they observe each month, ``expected + speed x (observed - expected)``. Numbers or arrays."""
    return expected + speed * (np.asarray(observed, dtype=float) - expected)


def contract_news(value: float, market_value: float, weight: float, cap: float) -> float:
    """How far a contract's news moves its seller's sentiment: ``weight`` x the contract's ``value``
    (signed, or lost on a cancellation) over the seller's ``market_value`` (at least $1B; $10B
    before it has one), at most ``cap``. The caller adds it for a signature and takes it off for
    a loss."""
    scale = max(market_value, 1e9) if market_value == market_value else 1e10
    return min(cap, weight * value / scale)


def next_sentiment(previous: float, persistence: float, shock: float) -> float:
    """Sentiment mean-reverts to 1 with ``persistence`` and takes this month's news ``shock``."""
    return max(0.05, 1.0 + persistence * (previous - 1.0) + shock)
