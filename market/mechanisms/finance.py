"""Debt: interest, amortisation, borrowing capacity, spreads and covenants."""

from __future__ import annotations

import numpy as np

from market.compiled import kernels


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


class Loans:
    """A borrower's floating-rate GPU-backed loans, oldest first, as arrays: principal, spread over
    the base rate, and level monthly principal repayment (principal / amortisation months)."""

    __slots__ = ("principal", "spread", "monthly", "n")
    #: times any borrower's loans have taken new arrays (to grow, or to move into shared matrices):
    #: a holder of the arrays (``ProviderBook.loan_matrices``) checks them only when this changes
    regrown = 0

    def __init__(self) -> None:
        self.principal = np.zeros(8)
        self.spread = np.zeros(8)
        self.monthly = np.zeros(8)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def add(self, principal: float, spread: float, amort_months: int) -> None:
        if self.n == self.principal.size:
            for name in self.__slots__[:3]:
                grown = np.zeros(2 * self.n)
                grown[: self.n] = getattr(self, name)
                setattr(self, name, grown)
            Loans.regrown += 1
        i = self.n
        self.principal[i], self.spread[i], self.monthly[i] = principal, spread, principal / amort_months
        self.n += 1

    def adopt(self, principal: np.ndarray, spread: np.ndarray, monthly: np.ndarray) -> None:
        """Keep the loans in these arrays from now on (rows of matrices of every provider's loans,
        serviced together by ``ProviderBook.pay_operating``), at least as long as the loans;
        :meth:`add` replaces them by longer ones when they fill up."""
        for name, a in zip(self.__slots__[:3], (principal, spread, monthly), strict=True):
            a[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, a)
        Loans.regrown += 1

    def total(self) -> float:
        """Principal outstanding."""
        return float(self.principal[: self.n].sum())

    def service(self, base_rate: float, extra_spread: float, slow: float) -> tuple[float, float]:
        """This month's interest (:func:`monthly_interest` at base + spread + ``extra_spread``) and
        principal (``slow`` x the level repayment, at most what is left) on every loan, oldest
        first; the principal is taken off the loans and paid-off loans are dropped."""
        interest, paid, self.n = _compiled().service(self.principal, self.spread, self.monthly, self.n, base_rate,
                                             extra_spread, slow)
        return interest, paid

    def repay(self, amount: float) -> float:
        """Repay ``amount`` early, oldest loans first (each loan's level repayment is capped at what
        is left of it); paid-off loans are dropped. Returns what could not be repaid."""
        left = amount
        p, mo = self.principal, self.monthly
        for i in range(self.n):
            pay = min(float(p[i]), left)
            p[i] -= pay
            mo[i] = min(float(mo[i]), float(p[i]))
            left -= pay
        self._drop_paid()
        return left

    def clear(self) -> None:
        self.n = 0

    def _drop_paid(self) -> None:
        keep = np.flatnonzero(self.principal[: self.n] > 1e-6)
        k = keep.size
        for name in self.__slots__[:3]:
            a = getattr(self, name)
            a[:k] = a[keep]
        self.n = k


def _service_kernel(principal, spread, monthly, n, base_rate, extra_spread, slow):  # pragma: no cover - compiled
    """``Loans.service`` on the arrays, loan by loan in order, keeping the loans not paid off at
    the front. Returns (interest, principal paid, loans left)."""
    interest = 0.0
    paid = 0.0
    k = 0
    for i in range(n):
        p = principal[i]
        interest += p * (base_rate + spread[i] + extra_spread) / 12.0  # monthly_interest
        pay = p
        if monthly[i] * slow < pay:
            pay = monthly[i] * slow
        p -= pay
        paid += pay
        if p > 1e-6:
            principal[k] = p
            spread[k] = spread[i]
            monthly[k] = monthly[i]
            k += 1
    return interest, paid, k


def spread_of(debt, ebitda, ig_backlog, backlog, base_spread, ig_discount, penalty):  # pragma: no cover - inlined
    """:func:`spread` at :func:`leverage` (``debt``, annualised ``ebitda``; NaN: none yet,
    leverage 0) capped at 20, with the investment-grade share of the credit backlog as
    ``Exchange.ig_share`` takes it, as ``Provider._spread`` does. Python's ``min`` and ``max`` are
    spelled out (the first argument kept unless another is strictly smaller or larger). Kernels
    declare it inline: ``kernels((spread_of,), ...)``."""
    ig_share = ig_backlog / backlog if backlog > 0 else 0.0
    if ebitda != ebitda or debt <= 0:
        lev = 0.0
    elif ebitda <= 0:
        lev = np.inf
    else:
        lev = debt / ebitda
    if 20.0 < lev:
        lev = 20.0
    over = lev - 3.0
    if not over > 0.0:
        over = 0.0
    s = base_spread - ig_discount * ig_share + penalty * over
    return s if s > 0.0 else 0.0


def cash_call(cash, debt, amount, buffer, fleet_mv, bl_ig, bl_total, ltv, non_ig, contract_ltv,
              loans_full):  # pragma: no cover - compiled (inlined)
    """``Provider.ensure_cash(amount)`` as far as its lenders go, for a compiled kernel: the loan
    it takes first (0.0: none; ``borrowing_capacity`` from its fleet's market value, its credit
    backlog and ``debt``, capped at what it needs, nothing at 1.0 or less), and whether
    ``amount`` can then be paid in full with the cash buffer kept. Where it cannot (new equity,
    or only part paid), or the loan would not fit (``loans_full``), nothing is done here: the
    caller leaves that payment to ``ensure_cash`` itself. Kernels declare it inline."""
    need = amount + buffer - cash
    loan = 0.0
    cash_after = cash
    if need > 0:
        room = ltv * fleet_mv + contract_ltv * (bl_ig + non_ig * (bl_total - bl_ig)) - debt
        if not room > 0.0:
            room = 0.0
        loan = room if room < need else need
        if loan > 1.0:
            if loans_full:
                return 0.0, False
            cash_after = cash + loan
        else:
            loan = 0.0
        if amount + buffer - cash_after > 0:
            return 0.0, False
    affordable = amount if not cash_after < amount else cash_after
    if not affordable > 0.0:
        affordable = 0.0
    return loan, not affordable < amount


def book_loan(i, loan, debt, ig_backlog, backlog, ebitda, base_spread, ig_discount, penalty, amort, principal, spread,
              monthly, n_loans):  # pragma: no cover - compiled (inlined)
    """``Loans.add`` of borrower ``i`` in a compiled kernel (its loans are row ``i`` of the
    matrices, ``n_loans[i]`` of them, with room for one more): ``loan`` at its lenders' spread
    (``spread_of``) at ``debt``, the debt before the loan. The caller posts the loan. Kernels
    declare it inline, with ``spread_of``."""
    n = n_loans[i]
    principal[i, n] = loan
    spread[i, n] = spread_of(debt, ebitda, ig_backlog, backlog, base_spread, ig_discount, penalty)
    monthly[i, n] = loan / amort
    n_loans[i] = n + 1


_compiled = kernels(service=_service_kernel)


def warm_up() -> None:
    """Load the compiled loan service now."""
    Loans().service(0.0, 0.0, 1.0)
