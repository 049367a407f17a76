"""Debt: interest, amortisation, borrowing capacity, spreads and covenants."""

from __future__ import annotations

import numpy as np


def monthly_interest(principal: float, annual_rate: float) -> float:
    """Interest accrued and paid in one month: principal x annual rate / 12."""
    return principal * annual_rate / 12.0


def spread(base_spread, ig_discount, ig_share, leverage, leverage_penalty):
    """A borrower's spread: its base spread, less ``ig_discount`` x the investment-grade share of
    its backlog (ComputeFi: loans secured on contracts with strong customers are cheaper), plus
    ``leverage_penalty`` per turn of leverage above 3x; never below zero. Numbers or arrays."""
    return np.maximum(0.0, base_spread - ig_discount * ig_share + leverage_penalty * np.maximum(0.0, leverage - 3.0))


def borrowing_capacity(fleet_market_value: float, ltv: float, backlog: float, contract_ltv: float,
                       debt: float) -> float:
    """How much more a provider can borrow: ltv x the fleet's market value plus contract_ltv x its
    take-or-pay backlog (weighted by the buyers' credit), less the debt it already has; never
    negative."""
    return max(0.0, ltv * fleet_market_value + contract_ltv * backlog - debt)


def leverage(debt, ebitda_annual):
    """Debt / annualised EBITDA; infinite when EBITDA is not positive and there is debt; no debt,
    no leverage. Numbers or arrays."""
    debt, ebitda_annual = np.asarray(debt, dtype=float), np.asarray(ebitda_annual, dtype=float)
    positive = ebitda_annual > 0
    lev = np.divide(debt, ebitda_annual, out=np.full(np.broadcast(debt, ebitda_annual).shape, np.inf), where=positive)
    return np.where(debt > 0, lev, 0.0)


def dscr(ebitda: float, debt_service: float) -> float:
    """Debt-service coverage: EBITDA / (interest + principal) over the same period."""
    if debt_service <= 0:
        return float("inf")
    return ebitda / debt_service


def covenant_breached(debt: float, ebitda_quarter: float, service_quarter: float, max_leverage: float,
                      min_dscr: float) -> tuple[bool, float, float]:
    """The quarterly test: leverage on annualised quarterly EBITDA and the quarter's DSCR."""
    lev = leverage(debt, ebitda_quarter * 4.0)
    cov = dscr(ebitda_quarter, service_quarter)
    return (lev > max_leverage or cov < min_dscr), lev, cov


class Loans:
    """A borrower's floating-rate GPU-backed loans, oldest first, as arrays: principal, spread over
    the base rate, and level monthly principal repayment (principal / amortisation months)."""

    __slots__ = ("principal", "spread", "monthly")

    def __init__(self) -> None:
        self.principal = np.zeros(0)
        self.spread = np.zeros(0)
        self.monthly = np.zeros(0)

    def __len__(self) -> int:
        return self.principal.size

    def add(self, principal: float, spread: float, amort_months: int) -> None:
        self.principal = np.append(self.principal, principal)
        self.spread = np.append(self.spread, spread)
        self.monthly = np.append(self.monthly, principal / amort_months)

    def total(self) -> float:
        """Principal outstanding."""
        return float(self.principal.sum())

    def service(self, base_rate: float, extra_spread: float, slow: float) -> tuple[float, float]:
        """This month's interest (:func:`monthly_interest` at base + spread + ``extra_spread``, never
        below zero: a fixed-spread loan whose base rate falls below it pays nothing, not less) and
        principal (``slow`` x the level repayment, at most what is left) on every loan; the
        principal is taken off the loans and paid-off loans are dropped."""
        rate = np.maximum(0.0, base_rate + self.spread + extra_spread)
        interest = float(np.sum(monthly_interest(self.principal, rate)))
        pay = np.minimum(self.principal, self.monthly * slow)
        self.principal = self.principal - pay
        self._drop_paid()
        return interest, float(pay.sum())

    def repay(self, amount: float) -> float:
        """Repay ``amount`` early, oldest loans first (each loan's level repayment is capped at what
        is left of it); paid-off loans are dropped. Returns what could not be repaid."""
        owed_before = np.cumsum(self.principal) - self.principal  # principal of the older loans
        pay = np.clip(amount - owed_before, 0.0, self.principal)
        self.principal = self.principal - pay
        self.monthly = np.minimum(self.monthly, self.principal)
        self._drop_paid()
        return max(0.0, amount - float(pay.sum()))

    def clear(self) -> None:
        self.principal, self.spread, self.monthly = np.zeros(0), np.zeros(0), np.zeros(0)

    def _drop_paid(self) -> None:
        keep = self.principal > 1e-6
        if not keep.all():
            self.principal, self.spread, self.monthly = self.principal[keep], self.spread[keep], self.monthly[keep]
