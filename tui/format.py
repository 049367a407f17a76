"""Plain formatting helpers shared by the widgets: money, counts, shares and series."""

from __future__ import annotations

import math
from collections.abc import Sequence


def money(x: float | None, digits: int = 2) -> str:
    """Dollars in the largest sensible unit: $1.23B, $45.6M, $789k; '-' for missing values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    sign = "-" if x < 0 and a >= 0.5 else ""
    for div, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{sign}${a / div:,.{digits}f}{unit}"
    return f"{sign}${a:,.0f}"


def count(x: float | None) -> str:
    """A count of units (GPUs), shortened above a million."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f}M"
    return f"{x:,.0f}"


def pct(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x * 100:.{digits}f}%"


def price(x: float | None) -> str:
    """$ per GPU-hour."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"${x:.2f}"


def downsample(xs: Sequence[float], ys: Sequence[float], width: int) -> tuple[list[float], list[float]]:
    """At most ``width`` points, keeping the last one (charts cannot show more than a point per
    column, and plotting thousands costs tens of milliseconds)."""
    n = len(xs)
    width = max(2, width)
    if n <= width:
        return list(xs), list(ys)
    step = math.ceil(n / width)
    idx = list(range(n - 1, -1, -step))[::-1]
    return [xs[i] for i in idx], [ys[i] for i in idx]


def parse_number(text: str) -> float:
    """A number typed by a person: '1.5B', '$250M', '2,000', '40k' or '' (zero).
    Raises ValueError with a short reason."""
    s = text.strip().replace(",", "").replace("$", "").replace("_", "")
    if not s:
        return 0.0
    mult = 1.0
    suffix = s[-1].lower()
    if suffix in "kmbt" and len(s) > 1:
        mult = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[suffix]
        s = s[:-1]
    try:
        v = float(s) * mult
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    return v
