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


def stake_after_investment(old_share: float, amount: float, pre_money_value: float) -> float:
    """An investor's share of a company after it buys new shares for ``amount`` at the company's
    value ``pre_money_value`` (before the money): (old share x pre + amount) / (pre + amount)."""
    pre = max(0.0, pre_money_value)
    return (old_share * pre + amount) / (pre + amount) if pre + amount > 0 else old_share


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


NEVER = 2**62  # (the maturity of an amortising loan)


class Loans:
    """A borrower's loans, oldest first, as arrays: principal; spread over the base rate (floating)
    or a fixed coupon (NaN when floating); level monthly principal repayment (principal /
    amortisation months; 0 for a bullet); and the month a bullet falls due (``NEVER`` for an
    amortising loan)."""

    __slots__ = ("principal", "spread", "monthly", "coupon", "due")

    def __init__(self) -> None:
        self.clear()

    def __len__(self) -> int:
        return self.principal.size

    def add(self, principal: float, spread: float, amort_months: int, coupon: float = np.nan,
            due: int = NEVER) -> None:
        """A loan: floating at the base rate plus ``spread``, or at a fixed ``coupon``; repaid level
        over ``amort_months``, or whole in month ``due`` when ``amort_months`` is 0."""
        self.principal = np.append(self.principal, principal)
        self.spread = np.append(self.spread, spread)
        self.monthly = np.append(self.monthly, principal / amort_months if amort_months > 0 else 0.0)
        self.coupon = np.append(self.coupon, coupon)
        self.due = np.append(self.due, due if amort_months <= 0 else NEVER)

    def total(self) -> float:
        """Principal outstanding."""
        return float(self.principal.sum())

    def rates(self, base_rate: float, extra_spread: float) -> np.ndarray:
        """Each loan's annual rate: a fixed coupon keeps its rate until the loan is refinanced; a
        floating loan reprices with the base rate, plus ``extra_spread`` (a credit-spread shock, a
        restructuring), never below zero."""
        return np.where(np.isnan(self.coupon), np.maximum(0.0, base_rate + self.spread + extra_spread), self.coupon)

    def service(self, t: int, base_rate: float, extra_spread: float, slow: float) -> tuple[float, float]:
        """Month ``t``'s interest (:func:`monthly_interest` at :meth:`rates`) and principal
        (``slow`` x the level repayment, at most what is left, and every bullet due by ``t``)
        on every loan; the principal is taken off the loans and paid-off loans are dropped."""
        interest = float(np.sum(monthly_interest(self.principal, self.rates(base_rate, extra_spread))))
        pay = np.where(self.due <= t, self.principal, np.minimum(self.principal, self.monthly * slow))
        self.principal = self.principal - pay
        self._drop_paid()
        return interest, float(pay.sum())

    def maturing(self, t: int) -> float:
        """Principal of the bullets due by month ``t``."""
        return float(self.principal[self.due <= t].sum())

    def refinance(self, t: int, amount: float, spread: float, amort_months: int) -> None:
        """``amount`` of the bullets due by month ``t`` rolled into a new floating loan at today's
        ``spread`` (the new rate); what is not rolled stays due."""
        due = self.due <= t
        total = self.principal[due].sum()
        if amount <= 0 or total <= 0:
            return
        take = min(amount, total) / total
        self.principal = np.where(due, self.principal * (1.0 - take), self.principal)
        self._drop_paid()
        self.add(min(amount, total), spread, amort_months)

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
        self.principal, self.spread, self.monthly, self.coupon = np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
        self.due = np.zeros(0, dtype=np.int64)

    def _drop_paid(self) -> None:
        keep = self.principal > 1e-6
        if not keep.all():
            for name in self.__slots__:
                setattr(self, name, getattr(self, name)[keep])


def income_tax(profit: np.ndarray, losses: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Income tax on each company's pre-tax ``profit`` of the period at ``rate``, after the tax
    ``losses`` it carries forward (used up first); a loss adds to them. Returns (tax, losses
    carried forward after the period)."""
    gain = np.maximum(profit, 0.0)
    used = np.minimum(losses, gain)
    return rate * (gain - used), losses - used + np.maximum(-profit, 0.0)
