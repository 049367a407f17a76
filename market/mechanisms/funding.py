"""Buyers with finite money: funding rounds, and the credit a buyer's health is worth.

Pure rules over arrays (one entry per buyer)."""

from __future__ import annotations

import numpy as np


def runway(cash, burn):
    """Months a buyer's cash lasts at its net burn (spending less revenue, a month); infinite for
    a buyer that burns nothing."""
    burn = np.asarray(burn, dtype=float)
    return np.divide(cash, burn, out=np.full(burn.shape, np.inf), where=burn > 0)


def funding_round(cash, burn, appetite, sentiment, growth, runway_months, round_months, growth_weight, min_score):
    """Which buyers raise a round this month, which of those succeed, and how much they raise.

    A buyer with investors (``appetite`` > 0: dollars a month they would fund) raises when its
    runway falls below ``runway_months``. The round's ``score`` is its investors' ``sentiment``
    (1 at the start; demand booms, busts and freezes move it) times (1 + ``growth_weight`` x its
    revenue growth over the last year); it succeeds when the score is at least ``min_score``, and
    raises ``round_months`` of the larger of its appetite and its burn, times the score:

        raise   = appetite > 0 and cash / burn < runway_months
        success = raise and score >= min_score
        size    = round_months x max(appetite, burn) x score      (where success; else 0)

    Returns (raise, success, size)."""
    need = (np.asarray(appetite) > 0) & (runway(cash, burn) < runway_months)
    s = score(sentiment, growth, growth_weight)
    ok = need & (s >= min_score)
    size = np.where(ok, round_months * np.maximum(appetite, burn) * s, 0.0)
    return need, ok, size


def score(sentiment, growth, growth_weight):
    """A round's score: investors' sentiment x max(0, 1 + growth_weight x revenue growth)."""
    return np.asarray(sentiment) * np.maximum(0.0, 1.0 + np.asarray(growth_weight) * np.asarray(growth))


def credit_health(cash, burn, runway_months, failed):
    """How much of a buyer's investment-grade standing its health keeps (0..1): its runway as a
    share of ``runway_months`` (1 at or beyond it, or when it burns nothing), and 0 while a round
    of its has just failed or it has defaulted (``failed``):

        health = 0 if failed else min(1, (cash / burn) / runway_months)"""
    months = np.maximum(np.asarray(runway_months, dtype=float), 1e-9)
    return np.where(failed, 0.0, np.minimum(1.0, runway(cash, burn) / months))


def capped_fee(fee, prepaid, cash):
    """A termination fee paid as far as the buyer can: from its prepayment first, then from its
    cash (never below zero). Returns (from prepayment, from cash, unpaid):

        from_prepaid = min(fee, prepaid)
        from_cash    = min(fee - from_prepaid, max(0, cash))
        unpaid       = fee - from_prepaid - from_cash"""
    from_prepaid = min(fee, prepaid)
    from_cash = min(fee - from_prepaid, max(0.0, cash))
    return from_prepaid, from_cash, fee - from_prepaid - from_cash
