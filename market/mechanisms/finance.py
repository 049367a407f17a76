"""Debt: interest, amortisation, borrowing capacity, spreads and covenants."""

from __future__ import annotations


def monthly_interest(principal: float, annual_rate: float) -> float:
    """Interest accrued and paid in one month: principal x annual rate / 12."""
    return principal * annual_rate / 12.0


def spread(base_spread: float, ig_discount: float, ig_share: float, leverage: float, leverage_penalty: float) -> float:
    """A borrower's spread: its base spread, less ``ig_discount`` x the investment-grade share of
    its backlog (ComputeFi: loans secured on contracts with strong customers are cheaper), plus
    ``leverage_penalty`` per turn of leverage above 3x; never below zero."""
    return max(0.0, base_spread - ig_discount * ig_share + leverage_penalty * max(0.0, leverage - 3.0))


def borrowing_capacity(fleet_market_value: float, ltv: float, backlog: float, contract_ltv: float,
                       debt: float) -> float:
    """How much more a provider can borrow: ltv x the fleet's market value plus contract_ltv x its
    take-or-pay backlog (weighted by the buyers' credit), less the debt it already has; never
    negative."""
    return max(0.0, ltv * fleet_market_value + contract_ltv * backlog - debt)


def leverage(debt: float, ebitda_annual: float) -> float:
    """Debt / annualised EBITDA; infinite when EBITDA is not positive and there is debt."""
    if debt <= 0:
        return 0.0
    if ebitda_annual <= 0:
        return float("inf")
    return debt / ebitda_annual


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
