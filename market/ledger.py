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

from enum import IntEnum

import numpy as np

from market.compiled import kernels
from market.portable import pairwise_sum


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


N_ACCTS = len(Acct)
ASSETS = [Acct.CASH, Acct.GPU_ASSETS, Acct.ACCUM_DEP, Acct.POWER_INFRA, Acct.PREPAID, Acct.INVESTMENTS]
LIABILITIES = [Acct.DEBT, Acct.DEFERRED_REVENUE]
INCOME = [Acct.REVENUE, Acct.OTHER_INCOME]
EXPENSES = [Acct.COST_OF_REVENUE, Acct.DEPRECIATION, Acct.INTEREST, Acct.OPEX, Acct.COMPUTE,
            Acct.OTHER_EXPENSE]
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
    "prepayment": (Acct.PREPAID, Acct.DEFERRED_REVENUE),  # buyer prepays a contract
    "refund": (Acct.DEFERRED_REVENUE, Acct.PREPAID),  # seller returns an unearned prepayment
    "end_user_revenue": (Acct.COMPUTE, Acct.REVENUE),  # end users pay a lab for its services
    "penalty": (Acct.OTHER_EXPENSE, Acct.OTHER_INCOME),  # late-delivery penalties, cancellation fees
    "backstop": (Acct.COMPUTE, Acct.OTHER_INCOME),  # NVIDIA buys unused capacity
    "asset_sale": (Acct.GPU_ASSETS, Acct.GPU_ASSETS),  # GPUs change hands (payee's gain/loss posted apart)
}
#: transfers whose payer side is capital expenditure
CAPEX_KINDS = frozenset({"gpu_purchase", "system_purchase", "custom_chips", "power_build"})
MEMOS = list(TRANSFERS) + ["opening", "depreciation", "recognise", "consume_prepaid", "disposal",
                           "write_off", "asset_purchase"]
MEMO_CODE = {m: i for i, m in enumerate(MEMOS)}
_TRANSFER_CODES = {k: (int(TRANSFERS[k][0]), int(TRANSFERS[k][1]), MEMO_CODE[k]) for k in TRANSFERS}
# each account as a one-element array: post_many's one account for every posting
_ONE_ACCT = tuple(np.array([a], dtype=np.int64) for a in range(N_ACCTS))
_CASH, _DEBT, _GPU_ASSETS, _ACCUM_DEP = int(Acct.CASH), int(Acct.DEBT), int(Acct.GPU_ASSETS), int(Acct.ACCUM_DEP)
_REVENUE, _OTHER_INCOME = int(Acct.REVENUE), int(Acct.OTHER_INCOME)


class Ledger:
    """Balances of every entity's accounts, moved only by postings."""

    def __init__(self, names: list[str], keep: bool = False) -> None:
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.balances = np.zeros((len(self.names), N_ACCTS))
        # the same numbers, flat (entity x N_ACCTS + account), for single postings and reads: a
        # memoryview's item costs a third of numpy's (the balances are never replaced)
        self.flat = memoryview(self.balances.reshape(-1))
        self.capex = np.zeros(len(self.names))  # this month's capital expenditure
        self.keep = keep
        self.month = -1
        self._rows: list[tuple[int, int, int, int, float, int, int]] = []
        self._batches: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]] = []
        self._next_transfer = 0

    # -- postings ---------------------------------------------------------------------------
    def post(self, entity: int, debit: int, credit: int, amount: float, memo: str) -> None:
        """One posting inside one entity (depreciation, recognition of deferred revenue...)."""
        if amount == 0.0:
            return
        b = self.flat
        row = entity * N_ACCTS
        b[row + debit] += amount
        b[row + credit] -= amount
        if self.keep:
            self._rows.append((self.month, entity, debit, credit, amount, MEMO_CODE[memo], -1))

    def transfer(self, payer: int, payee: int, amount: float, kind: str) -> None:
        """A payment of ``amount`` from ``payer`` to ``payee``: two postings, one on each side."""
        if amount == 0.0:
            return
        if amount < 0.0 or amount != amount:
            raise ValueError(f"transfer {kind}: amount must be a non-negative number, got {amount}")
        dr, cr, code = _TRANSFER_CODES[kind]
        b = self.flat
        i, j = payer * N_ACCTS, payee * N_ACCTS
        b[i + dr] += amount
        b[i + _CASH] -= amount
        b[j + _CASH] += amount
        b[j + cr] -= amount
        if kind in CAPEX_KINDS:
            self.capex[payer] += amount
        if self.keep:
            self._keep_transfer(payer, payee, amount, kind)

    def _keep_transfer(self, payer: int, payee: int, amount: float, kind: str) -> None:
        """Keep the two postings of a payment already made (``keep=True``)."""
        dr, cr, code = _TRANSFER_CODES[kind]
        t = self._next_transfer
        self._next_transfer += 1
        self._rows.append((self.month, payer, dr, _CASH, amount, code, t))
        self._rows.append((self.month, payee, _CASH, cr, amount, code, t))

    def kept_transfers(self, payers: list[int], payees: list[int], amounts: list[float], kinds: list[str]) -> None:
        """Payments a compiled kernel has posted with :func:`transfer_into`, in order: kept as
        :meth:`transfer` keeps its own (when ``keep=True``)."""
        if self.keep:
            for payer, payee, amount, kind in zip(payers, payees, amounts, kinds, strict=True):
                self._keep_transfer(payer, payee, amount, kind)

    def transfer_many(self, payers: np.ndarray, payees: np.ndarray, amounts: np.ndarray, kind: str) -> None:
        """Many payments of one kind at once: the same postings as :meth:`transfer` called for
        each (zero payments are no postings)."""
        if amounts.size == 0:
            return
        dr, cr, code = _TRANSFER_CODES[kind]
        capex = kind in CAPEX_KINDS
        if amounts.size < 256:
            # compiled: numpy's add.at costs microseconds a call on batches this small
            payers = np.ascontiguousarray(payers, dtype=np.int64)
            payees = np.ascontiguousarray(payees, dtype=np.int64)
            amounts = np.ascontiguousarray(amounts, dtype=np.float64)
            bad = _kernels().transfer(self.balances.reshape(-1), self.capex, payers, payees, amounts, dr, cr,
                                      N_ACCTS, _CASH, capex)
            if bad >= 0:
                raise ValueError(f"transfer {kind}: amounts must be non-negative numbers, got {amounts[bad]}")
        else:  # many payments: sum them per entity first (bincount is much faster than add.at)
            if not amounts.min() >= 0.0:  # negative or NaN
                bad = ~(amounts >= 0.0)
                raise ValueError(f"transfer {kind}: amounts must be non-negative numbers, got {amounts[bad][0]}")
            n = len(self.names)
            out = np.bincount(payers, weights=amounts, minlength=n)
            into = np.bincount(payees, weights=amounts, minlength=n)
            self.balances[:, dr] += out
            self.balances[:, _CASH] -= out
            self.balances[:, _CASH] += into
            self.balances[:, cr] -= into
            if capex:
                self.capex += out
        if self.keep:
            keep = amounts > 0.0
            payers, payees, amounts = payers[keep], payees[keep], amounts[keep]
            ids = np.arange(self._next_transfer, self._next_transfer + amounts.size)
            self._next_transfer += amounts.size
            self._batches.append((self.month, payers, np.full(amounts.size, dr), amounts.copy(), ids, code,
                                  np.full(amounts.size, _CASH)))
            self._batches.append((self.month, payees, np.full(amounts.size, _CASH), amounts.copy(), ids, code,
                                  np.full(amounts.size, cr)))

    def post_many(self, entities: np.ndarray, debit, credit, amounts: np.ndarray, memo: str) -> None:
        """Many postings inside entities (which may repeat); ``debit`` and ``credit`` are accounts,
        one for all or one per posting (the vectorised :meth:`post`; zero amounts are skipped)."""
        n = amounts.size
        if n == 0:
            return
        entities = np.ascontiguousarray(entities, dtype=np.int64)
        amounts = np.ascontiguousarray(amounts, dtype=np.float64)
        # one account for all: a one-element array the kernel reads for every posting
        debit = _ONE_ACCT[debit] if isinstance(debit, int | np.integer) else np.ascontiguousarray(debit, np.int64)
        credit = _ONE_ACCT[credit] if isinstance(credit, int | np.integer) else np.ascontiguousarray(credit, np.int64)
        _kernels().post(self.balances.reshape(-1), entities, debit, credit, amounts, N_ACCTS)
        if self.keep:
            debit = np.broadcast_to(debit, (n,))
            credit = np.broadcast_to(credit, (n,))
            keep = amounts != 0.0
            self._batches.append((self.month, entities[keep], debit[keep], amounts[keep], np.full(int(keep.sum()), -1),
                                  MEMO_CODE[memo], credit[keep]))

    # -- reading ------------------------------------------------------------------------------
    def cash(self, entity: int) -> float:
        return float(self.balances[entity, _CASH])

    def balance(self, entity: int, acct: int) -> float:
        return float(self.balances[entity, acct])

    def begin_month(self, month: int) -> np.ndarray:
        """Start a month: reset capex, return a copy of the opening balances."""
        self.month = month
        self.capex[:] = 0.0
        return self.balances.copy()

    def postings(self) -> dict[str, np.ndarray]:
        """Every kept posting as columns: month, entity, debit, credit, amount, memo, transfer_id."""
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("month", "entity", "debit", "credit", "amount",
                                                             "memo", "transfer_id")}
        if self._rows:
            arr = np.array(self._rows, dtype=object)
            cols["month"].append(arr[:, 0].astype(np.int64))
            cols["entity"].append(arr[:, 1].astype(np.int64))
            cols["debit"].append(arr[:, 2].astype(np.int64))
            cols["credit"].append(arr[:, 3].astype(np.int64))
            cols["amount"].append(arr[:, 4].astype(np.float64))
            cols["memo"].append(arr[:, 5].astype(np.int64))
            cols["transfer_id"].append(arr[:, 6].astype(np.int64))
        for month, ent, dr, amt, ids, code, cr in self._batches:
            cols["month"].append(np.full(amt.size, month, dtype=np.int64))
            cols["entity"].append(ent.astype(np.int64))
            cols["debit"].append(dr.astype(np.int64))
            cols["credit"].append(cr.astype(np.int64))
            cols["amount"].append(amt)
            cols["memo"].append(np.full(amt.size, code, dtype=np.int64))
            cols["transfer_id"].append(ids.astype(np.int64))
        out = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
        if out["month"].size:
            order = np.argsort(out["month"], kind="stable")
            out = {k: v[order] for k, v in out.items()}
        return out


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
        "net_income": revenue + other_income - exp.sum(axis=1),
    }


#: what :func:`month_figures` gives: :func:`statement`'s stocks, then :func:`flows`
STOCKS = ("cash", "total_assets", "liabilities", "debt", "equity_book", "fleet_book")
FLOWS = ("revenue", "other_income", "cost_of_revenue", "depreciation", "interest_expense", "opex", "compute_expense",
         "other_expense", "net_income")
FIGURES = STOCKS + FLOWS


def month_figures(opening: np.ndarray, balances: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """:func:`statement` of ``balances`` and :func:`flows` from ``opening``, of the first ``n``
    entities, in one compiled pass (the same numbers to the bit; the tests hold them equal)."""
    out = np.empty((len(FIGURES), n))
    _kernels().figures(opening, balances, n, _ASSETS, _LIABILITIES, _EXPENSES, out)
    return dict(zip(FIGURES, out, strict=True))


def _figures_kernel(opening, balances, n, assets, liabilities, expenses, out):  # pragma: no cover - compiled
    """:func:`month_figures`: numpy's row sums (``pairwise_sum``) and its + 0.0 that turns -0.0
    into 0.0, spelled out."""
    a = np.empty(assets.shape[0])
    li = np.empty(liabilities.shape[0])
    ex = np.empty(expenses.shape[0])
    for i in range(n):
        b = balances[i]
        for k in range(assets.shape[0]):
            a[k] = b[assets[k]]
        for k in range(liabilities.shape[0]):
            li[k] = b[liabilities[k]]
        total = pairwise_sum(a, assets.shape[0])
        owed = -pairwise_sum(li, liabilities.shape[0])
        out[0, i] = b[_CASH] + 0.0
        out[1, i] = total + 0.0
        out[2, i] = owed + 0.0
        out[3, i] = -b[_DEBT] + 0.0
        out[4, i] = total - owed
        out[5, i] = b[_GPU_ASSETS] + b[_ACCUM_DEP]
        revenue = -(b[_REVENUE] - opening[i, _REVENUE]) + 0.0
        other = -(b[_OTHER_INCOME] - opening[i, _OTHER_INCOME]) + 0.0
        out[6, i] = revenue
        out[7, i] = other
        for k in range(expenses.shape[0]):
            ex[k] = b[expenses[k]] - opening[i, expenses[k]]
            out[8 + k, i] = ex[k]
        out[14, i] = revenue + other - pairwise_sum(ex, expenses.shape[0])


def _transfer_kernel(flat, capex, payers, payees, amounts, dr, cr, n_accts, cash, with_capex):  # pragma: no cover
    """Post each positive payment (payer: debit ``dr``, credit cash; payee: debit cash, credit
    ``cr``) in order, one leg at a time for the whole batch; with ``with_capex``, add the payers'
    totals to ``capex``. Returns the index of the first negative or NaN amount (nothing posted),
    or -1."""
    n = amounts.shape[0]
    for i in range(n):
        if not amounts[i] >= 0.0:
            return i
    # the four legs, each for the whole batch: payer debits dr and credits cash, payee debits
    # cash and credits cr (adding -a is subtracting a, exactly)
    accts = (dr, cash, cash, cr)
    for leg in range(4):
        who = payers if leg < 2 else payees
        acct = accts[leg]
        sign = 1.0 if leg % 2 == 0 else -1.0
        for i in range(n):
            if amounts[i] > 0.0:
                flat[who[i] * n_accts + acct] += sign * amounts[i]
    if with_capex:
        total = np.zeros(capex.shape[0])
        for i in range(n):
            if amounts[i] > 0.0:
                total[payers[i]] += amounts[i]
        for e in range(capex.shape[0]):
            capex[e] += total[e]
    return -1


def transfer_into(flat, capex, payer, payee, amount, dr, cr, n_accts, cash, is_capex):  # pragma: no cover - inlined
    """:meth:`Ledger.transfer` of a non-negative ``amount`` inside a compiled kernel (``flat``:
    the balances, flat; ``dr`` and ``cr``: the kind's accounts, ``transfer_codes``); nothing is
    posted for zero. Returns whether it posted. Kernels declare it inline."""
    if amount == 0.0:
        return False
    i = payer * n_accts
    j = payee * n_accts
    flat[i + dr] += amount
    flat[i + cash] -= amount
    flat[j + cash] += amount
    flat[j + cr] -= amount
    if is_capex:
        capex[payer] += amount
    return True


def log_transfer(log_payer, log_payee, log_amount, log_kind, n, payer, payee, amount, kind):  # pragma: no cover - inlined
    """Note a kernel's ``n``-th payment (for :meth:`Ledger.kept_transfers`), if it keeps a log:
    the log arrays are empty when the ledger keeps no postings. Returns ``n + 1``. Kernels
    declare it inline."""
    if log_payer.shape[0]:
        log_payer[n] = payer
        log_payee[n] = payee
        log_amount[n] = amount
        log_kind[n] = kind
    return n + 1


#: an empty log (see log_transfer), for a kernel whose ledger keeps no postings
NO_LOG = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))


def transfer_codes(kinds: list[str]) -> np.ndarray:
    """(debit account, credit account, whether capital expenditure) of each kind of payment, for
    :func:`transfer_into`."""
    return np.array([[_TRANSFER_CODES[k][0], _TRANSFER_CODES[k][1], k in CAPEX_KINDS] for k in kinds], dtype=np.int64)


def _post_kernel(flat, entities, debit, credit, amounts, n_accts):  # pragma: no cover
    """Post each non-zero amount (debit ``debit[i]``, credit ``credit[i]`` of ``entities[i]``; a
    one-element ``debit`` or ``credit`` is the account of every posting), in order, one side at
    a time for the whole batch."""
    n = amounts.shape[0]
    one_d = debit.shape[0] == 1
    one_c = credit.shape[0] == 1
    for i in range(n):
        if amounts[i] != 0.0:
            flat[entities[i] * n_accts + debit[0 if one_d else i]] += amounts[i]
    for i in range(n):
        if amounts[i] != 0.0:
            flat[entities[i] * n_accts + credit[0 if one_c else i]] -= amounts[i]


_kernels = kernels((pairwise_sum,), transfer=_transfer_kernel, post=_post_kernel, figures=_figures_kernel)


def warm_up() -> None:
    """Load the compiled postings now."""
    k = _kernels()
    z, i = np.zeros(1), np.zeros(1, dtype=np.int64)
    k.transfer(np.zeros(N_ACCTS), z, i, i, z, 0, 0, N_ACCTS, 0, False)
    k.post(np.zeros(N_ACCTS), i, i, i, z, N_ACCTS)
    month_figures(np.zeros((1, N_ACCTS)), np.zeros((1, N_ACCTS)), 1)
