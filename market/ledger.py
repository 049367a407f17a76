"""The double-entry ledger: the only place money moves.

Every entity (an agent or an outside party such as lenders or utilities) has the same chart of
accounts. A posting debits one account and credits another of the *same* entity by the same
amount, so each entity's accounts always sum to zero and assets = liabilities + equity holds by
construction. Money crosses between entities only through :meth:`Ledger.transfer`, which writes
the two matching postings (one on each side) of a payment, so the sum of all cash accounts is
constant: cash is conserved. Balances are a numpy matrix (entities x accounts); postings are kept
only when ``keep=True`` (``--ledger``).
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np


class Acct(IntEnum):
    """The chart of accounts (debit balances are positive)."""

    CASH = 0
    GPU_ASSETS = 1  # GPUs and their systems at cost (asset)
    ACCUM_DEP = 2  # accumulated depreciation (contra-asset)
    POWER_INFRA = 3  # data centres and power at cost, net of its own depreciation (asset)
    PREPAID = 4  # prepaid compute (asset, buyers)
    INVESTMENTS = 5  # loans made, equity held (asset, lenders, investors, NVIDIA)
    DEBT = 6  # borrowings (liability)
    DEFERRED_REVENUE = 7  # prepayments received (liability)
    PAID_IN = 8  # paid-in capital (equity)
    REVENUE = 9  # income
    OTHER_INCOME = 10  # penalties received, backstop payments, gains (income)
    COST_OF_REVENUE = 11  # power, site operations, NVIDIA's cost of goods, resold capacity (expense)
    DEPRECIATION = 12  # expense
    INTEREST = 13  # expense
    OPEX = 14  # selling, general and administrative (expense)
    COMPUTE = 15  # compute bought for own use (expense, buyers)
    OTHER_EXPENSE = 16  # penalties paid, cancellation fees, losses on sales (expense)
    LEASES = 17  # data-centre leases and colocation (expense)
    SBC = 18  # stock-based compensation (expense, paid in new shares: no cash)
    INCOME_TAX = 19  # income taxes (expense)
    REVALUATION = 20  # revaluation reserve: unrealised gains on stakes held (equity, outside net income)


N_ACCTS = len(Acct)
ASSETS = [Acct.CASH, Acct.GPU_ASSETS, Acct.ACCUM_DEP, Acct.POWER_INFRA, Acct.PREPAID, Acct.INVESTMENTS]
LIABILITIES = [Acct.DEBT, Acct.DEFERRED_REVENUE]
EQUITY = [Acct.PAID_IN, Acct.REVALUATION]  # besides retained earnings (income less expenses)
INCOME = [Acct.REVENUE, Acct.OTHER_INCOME]
EXPENSES = [Acct.COST_OF_REVENUE, Acct.DEPRECIATION, Acct.INTEREST, Acct.OPEX, Acct.COMPUTE,
            Acct.OTHER_EXPENSE, Acct.LEASES, Acct.SBC, Acct.INCOME_TAX]
ACCT_NAMES = [a.name.lower() for a in Acct]
# the same as index arrays (numpy converts a list of enums element by element on every use)
_ASSETS, _LIABILITIES, _EXPENSES = (np.array(x, dtype=np.intp) for x in (ASSETS, LIABILITIES, EXPENSES))

#: kinds of payment: (payer's debit account, payee's credit account); the payer credits cash and
#: the payee debits cash.
TRANSFERS: dict[str, tuple[Acct, Acct]] = {
    "compute": (Acct.COMPUTE, Acct.REVENUE),  # a buyer pays a provider for compute
    "resale_compute": (Acct.COST_OF_REVENUE, Acct.REVENUE),  # a reseller pays for capacity it resells
    "gpu_purchase": (Acct.GPU_ASSETS, Acct.REVENUE),  # a provider pays NVIDIA for GPUs
    "system_purchase": (Acct.GPU_ASSETS, Acct.REVENUE),  # servers, network, install
    "custom_chips": (Acct.GPU_ASSETS, Acct.REVENUE),  # in-house accelerators from a foundry
    "cost_of_goods": (Acct.COST_OF_REVENUE, Acct.REVENUE),  # NVIDIA pays its suppliers
    "power": (Acct.COST_OF_REVENUE, Acct.REVENUE),  # electricity to utilities
    "site_opex": (Acct.COST_OF_REVENUE, Acct.REVENUE),  # colocation, network, staff per GPU-hour
    "sga": (Acct.OPEX, Acct.REVENUE),  # overheads
    "power_build": (Acct.POWER_INFRA, Acct.REVENUE),  # building MW
    "interest": (Acct.INTEREST, Acct.REVENUE),  # to lenders
    "loan": (Acct.INVESTMENTS, Acct.DEBT),  # lender pays, borrower owes
    "repayment": (Acct.DEBT, Acct.INVESTMENTS),  # borrower pays, lender's claim falls
    "equity": (Acct.INVESTMENTS, Acct.PAID_IN),  # investors pay in
    "parent_funding": (Acct.INVESTMENTS, Acct.PAID_IN),  # a segment's parent company pays in
    "prepayment": (Acct.PREPAID, Acct.DEFERRED_REVENUE),  # buyer prepays a contract
    "refund": (Acct.DEFERRED_REVENUE, Acct.PREPAID),  # seller returns an unearned prepayment
    "end_user_revenue": (Acct.COMPUTE, Acct.REVENUE),  # end users pay a lab for its services
    "penalty": (Acct.OTHER_EXPENSE, Acct.OTHER_INCOME),  # late-delivery penalties, cancellation fees
    "backstop": (Acct.COMPUTE, Acct.OTHER_INCOME),  # NVIDIA buys unused capacity
    "asset_sale": (Acct.GPU_ASSETS, Acct.GPU_ASSETS),  # GPUs change hands (payee's gain/loss posted apart)
    "lease": (Acct.LEASES, Acct.REVENUE),  # data-centre lease or colocation to landlords
    "income_tax": (Acct.INCOME_TAX, Acct.REVENUE),  # to the government
    "capital_return": (Acct.PAID_IN, Acct.INVESTMENTS),  # buybacks and dividends: shareholders paid out
    "nvidia_investment": (Acct.INVESTMENTS, Acct.PAID_IN),  # NVIDIA buys new shares of a provider
}
#: transfers whose payer side is capital expenditure
CAPEX_KINDS = frozenset({"gpu_purchase", "system_purchase", "custom_chips", "power_build"})
MEMOS = list(TRANSFERS) + ["opening", "depreciation", "recognise", "consume_prepaid", "disposal",
                           "write_off", "asset_purchase", "sbc", "mark_to_market"]
MEMO_CODE = {m: i for i, m in enumerate(MEMOS)}
_TRANSFER_CODES = {k: (int(TRANSFERS[k][0]), int(TRANSFERS[k][1]), MEMO_CODE[k]) for k in TRANSFERS}
_CASH, _DEBT, _GPU_ASSETS, _ACCUM_DEP = int(Acct.CASH), int(Acct.DEBT), int(Acct.GPU_ASSETS), int(Acct.ACCUM_DEP)
_REVENUE, _OTHER_INCOME = int(Acct.REVENUE), int(Acct.OTHER_INCOME)


class Ledger:
    """Balances of every entity's accounts, moved only by postings."""

    def __init__(self, names: list[str], keep: bool = False) -> None:
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.balances = np.zeros((len(self.names), N_ACCTS))
        self.opening = self.balances.copy()  # the balances when the month began (begin_month)
        self.capex = np.zeros(len(self.names))  # this month's capital expenditure
        self.keep = keep
        self.month = -1
        # kept postings (keep=True), in batches: (month, entities, debits, credits, amounts, memo, transfer ids)
        self._batches: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]] = []
        self._next_transfer = 0

    # -- postings ---------------------------------------------------------------------------
    def post(self, entity: int, debit: int, credit: int, amount: float, memo: str) -> None:
        """One posting inside one entity (depreciation, recognition of deferred revenue...)."""
        self.post_many(np.array([entity]), debit, credit, np.array([float(amount)]), memo)

    @staticmethod
    def _legs(payer, payee, dr: int, cr: int) -> tuple:
        """The four postings of a payment, as (entity, account, sign): the payer debits ``dr``
        and credits cash; the payee debits cash and credits ``cr``."""
        return (payer, dr, 1.0), (payer, _CASH, -1.0), (payee, _CASH, 1.0), (payee, cr, -1.0)

    def transfer(self, payer: int, payee: int, amount: float, kind: str) -> None:
        """A payment of ``amount`` from ``payer`` to ``payee``: :meth:`_legs`, one on each side."""
        if amount == 0.0:
            return
        if not (amount > 0.0 and math.isfinite(amount)):
            raise ValueError(f"transfer {kind}: amount must be a non-negative finite number, got {amount}")
        dr, cr, code = _TRANSFER_CODES[kind]
        b = self.balances
        for who, acct, sign in self._legs(payer, payee, dr, cr):
            b[who, acct] += sign * amount
        if kind in CAPEX_KINDS:
            self.capex[payer] += amount
        if self.keep:
            self._keep(np.array([payer]), np.array([payee]), np.array([float(amount)]), dr, cr, code)

    def transfer_many(self, payers: np.ndarray, payees: np.ndarray, amounts: np.ndarray, kind: str) -> None:
        """Payments of one kind, each as :meth:`transfer` makes it (zero payments are no postings)."""
        amounts = np.asarray(amounts, dtype=float)
        if amounts.size == 0:
            return
        if not (amounts.min() >= 0.0 and np.isfinite(amounts).all()):  # negative, NaN or infinite
            bad = amounts[~((amounts >= 0.0) & np.isfinite(amounts))][0]
            raise ValueError(f"transfer {kind}: amounts must be non-negative finite numbers, got {bad}")
        dr, cr, code = _TRANSFER_CODES[kind]
        payers, payees = np.asarray(payers), np.asarray(payees)
        if payers.shape != amounts.shape or payees.shape != amounts.shape:
            payers, payees = np.broadcast_to(payers, amounts.shape), np.broadcast_to(payees, amounts.shape)
        legs = self._legs(payers, payees, dr, cr)
        # (the four legs in one call, in order: each balance takes the same additions in the same order)
        np.add.at(self.balances.reshape(-1), np.concatenate([who * N_ACCTS + acct for who, acct, _ in legs]),
                  np.concatenate([amounts if sign > 0 else -amounts for _, _, sign in legs]))
        if kind in CAPEX_KINDS:
            np.add.at(self.capex, payers, amounts)
        if self.keep:
            self._keep(np.asarray(payers), np.asarray(payees), amounts, dr, cr, code)

    def _keep(self, payers: np.ndarray, payees: np.ndarray, amounts: np.ndarray, dr: int, cr: int, code: int) -> None:
        """Keep the postings of payments just made (``keep=True``), a transfer id each."""
        nonzero = amounts > 0.0
        payers, payees, amounts = payers[nonzero], payees[nonzero], amounts[nonzero]
        n = amounts.size
        ids = np.arange(self._next_transfer, self._next_transfer + n)
        self._next_transfer += n
        self._batches.append((self.month, payers, np.full(n, dr), np.full(n, _CASH), amounts, code, ids))
        self._batches.append((self.month, payees, np.full(n, _CASH), np.full(n, cr), amounts, code, ids))

    def post_many(self, entities: np.ndarray, debit, credit, amounts: np.ndarray, memo: str) -> None:
        """Postings inside entities (which may repeat); ``debit`` and ``credit`` are accounts, one
        for all or one per posting (zero amounts are skipped)."""
        amounts = np.asarray(amounts, dtype=float)
        if amounts.size == 0:
            return
        if not np.isfinite(amounts).all():
            raise ValueError(f"posting {memo}: amounts must be finite numbers")
        entities = np.asarray(entities, dtype=np.int64)
        debit, credit = np.asarray(debit, dtype=np.int64), np.asarray(credit, dtype=np.int64)
        flat = self.balances.reshape(-1)
        np.add.at(flat, entities * N_ACCTS + debit, amounts)
        np.add.at(flat, entities * N_ACCTS + credit, -amounts)
        if self.keep:  # (a negative amount is kept as the reverse posting: the journal's amounts are positive)
            debit, credit = np.broadcast_to(debit, amounts.shape), np.broadcast_to(credit, amounts.shape)
            keep, neg = amounts != 0.0, amounts < 0.0
            dr, cr = np.where(neg, credit, debit), np.where(neg, debit, credit)
            self._batches.append((self.month, entities[keep], dr[keep], cr[keep], np.abs(amounts[keep]),
                                  MEMO_CODE[memo], np.full(int(keep.sum()), -1)))

    # -- reading ------------------------------------------------------------------------------
    def cash(self, entity: int) -> float:
        return float(self.balances[entity, _CASH])

    def book_equity(self, entity: int) -> float:
        """Book equity: paid-in capital, the revaluation reserve and retained earnings (every
        account from ``PAID_IN`` on), as a positive number."""
        return -float(self.balances[entity, Acct.PAID_IN:].sum())

    def begin_month(self, month: int) -> np.ndarray:
        """Start a month: reset capex, keep a copy of the opening balances (``opening``, from which
        the month's flows so far are read) and return it."""
        self.month = month
        self.capex[:] = 0.0
        self.opening = self.balances.copy()
        return self.opening

    def postings(self) -> dict[str, np.ndarray]:
        """Every kept posting as columns: month, entity, debit, credit, amount, memo, transfer_id."""
        names = ("month", "entity", "debit", "credit", "amount", "memo", "transfer_id")
        cols: dict[str, list[np.ndarray]] = {k: [] for k in names}
        for month, ent, dr, cr, amt, code, ids in self._batches:
            batch = (np.full(amt.size, month), ent, dr, cr, amt, np.full(amt.size, code), ids)
            for k, v in zip(names, batch, strict=True):
                cols[k].append(v if k == "amount" else v.astype(np.int64))
        return {k: (np.concatenate(v) if v else np.zeros(0, dtype=float if k == "amount" else np.int64))
                for k, v in cols.items()}


def statement(balances: np.ndarray) -> dict[str, np.ndarray]:
    """Balance-sheet stocks per entity from a balance matrix (rows = entities)."""
    b = balances
    assets = b[:, _ASSETS].sum(axis=1)
    liabilities = -b[:, _LIABILITIES].sum(axis=1)
    # (+ 0.0 turns the -0.0 of an empty negated account into 0.0)
    return {
        "cash": b[:, _CASH] + 0.0,
        "total_assets": assets + 0.0,
        "liabilities": liabilities + 0.0,
        "debt": -b[:, _DEBT] + 0.0,
        "equity_book": assets - liabilities,
        "fleet_book": b[:, _GPU_ASSETS] + b[:, _ACCUM_DEP],
    }


def flows(start: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
    """Income-statement flows per entity between two balance matrices."""
    d = end - start
    revenue = -d[:, int(Acct.REVENUE)] + 0.0
    other_income = -d[:, int(Acct.OTHER_INCOME)] + 0.0
    exp = d[:, _EXPENSES]
    return {
        "revenue": revenue,
        "other_income": other_income,
        "cost_of_revenue": d[:, int(Acct.COST_OF_REVENUE)],
        "depreciation": d[:, int(Acct.DEPRECIATION)],
        "interest_expense": d[:, int(Acct.INTEREST)],
        "opex": d[:, int(Acct.OPEX)],
        "compute_expense": d[:, int(Acct.COMPUTE)],
        "other_expense": d[:, int(Acct.OTHER_EXPENSE)],
        "lease_expense": d[:, int(Acct.LEASES)],
        "sbc_expense": d[:, int(Acct.SBC)],
        "income_tax": d[:, int(Acct.INCOME_TAX)],
        "net_income": revenue + other_income - exp.sum(axis=1),
    }


#: what :func:`month_figures` gives: :func:`statement`'s stocks, then :func:`flows`
STOCKS = ("cash", "total_assets", "liabilities", "debt", "equity_book", "fleet_book")
FLOWS = ("revenue", "other_income", "cost_of_revenue", "depreciation", "interest_expense", "opex", "compute_expense",
         "other_expense", "lease_expense", "sbc_expense", "income_tax", "net_income")
FIGURES = STOCKS + FLOWS


def month_figures(opening: np.ndarray, balances: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """:func:`statement` of ``balances`` and :func:`flows` from ``opening``, of the first ``n``
    entities."""
    return statement(balances[:n]) | flows(opening[:n], balances[:n])
