"""Plain formatting helpers shared by the widgets: money, counts, shares and series."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from market.game import money as _money


def money(x: float | None, digits: int | None = None) -> str:
    """Dollars with three significant figures in the largest sensible unit ($1.23B, $456M,
    $78.9k); '-' for missing values. The same rule as the game's messages (market.game.money);
    ``digits`` is accepted for old callers and ignored: one format everywhere."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return _money(float(x))


_SUFFIX = re.compile(r"(?<=\S)-\d{4}\b")
_BILLIONS = re.compile(r"\$(-?[\d,]+(?:\.\d+)?)B\b")


def display_name(name: str) -> str:
    """A name as people read it: the members of a generated segment ("Other frontier labs-0003")
    lose their internal number."""
    return _SUFFIX.sub("", name)


def clean_text(text: str) -> str:
    """An engine's sentence for the screen: internal suffixes dropped, dollar billions written in
    the one money format ("$58000000.00B" -> "$58,000T", "$0.00B fee" -> "$0 fee")."""
    text = _SUFFIX.sub("", text)
    return _BILLIONS.sub(lambda mt: _money(float(mt.group(1).replace(",", "")) * 1e9), text)


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
