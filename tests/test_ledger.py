"""The double-entry ledger: postings, transfers, capex and the statements built on it."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from market.ledger import (
    ACCT_NAMES,
    ASSETS,
    CAPEX_KINDS,
    EQUITY,
    EXPENSES,
    INCOME,
    LIABILITIES,
    MEMOS,
    N_ACCTS,
    TRANSFERS,
    Acct,
    Ledger,
    flows,
    statement,
)

NAMES = ["a", "b", "c", "d"]


def replay(ledger: Ledger) -> np.ndarray:
    """Balances rebuilt from the kept postings alone."""
    p = ledger.postings()
    out = np.zeros_like(ledger.balances)
    np.add.at(out, (p["entity"], p["debit"]), p["amount"])
    np.add.at(out, (p["entity"], p["credit"]), -p["amount"])
    return out


def busy_ledger(keep: bool = True, seed: int = 0) -> Ledger:
    """A ledger after a random mix of postings and transfers of every kind over three months."""
    rng = np.random.default_rng(seed)
    L = Ledger(NAMES, keep=keep)
    L.transfer(3, 0, 1000.0, "equity")
    for month in range(3):
        L.begin_month(month)
        for kind in TRANSFERS:
            payer, payee = rng.choice(4, 2, replace=False)
            L.transfer(int(payer), int(payee), float(rng.uniform(1, 100)), kind)
        L.transfer_many(rng.integers(0, 4, 6), rng.integers(0, 4, 6), rng.uniform(0, 50, 6), "compute")
        L.post(1, Acct.DEPRECIATION, Acct.ACCUM_DEP, 7.5, "depreciation")
        L.post(2, Acct.DEFERRED_REVENUE, Acct.REVENUE, 3.25, "recognise")
    return L


class TestPostings:
    def test_post_moves_two_accounts_of_one_entity(self):
        L = Ledger(NAMES)
        L.post(1, Acct.DEPRECIATION, Acct.ACCUM_DEP, 50.0, "depreciation")
        assert L.balances[1, Acct.DEPRECIATION] == 50.0
        assert L.balances[1, Acct.ACCUM_DEP] == -50.0
        assert np.count_nonzero(L.balances) == 2

    def test_every_entity_sums_to_zero(self):
        L = busy_ledger()
        assert_allclose(L.balances.sum(axis=1), 0.0, atol=1e-9)

    def test_zero_amounts_leave_no_trace(self):
        L = Ledger(NAMES, keep=True)
        L.post(0, Acct.OPEX, Acct.CASH, 0.0, "sga")
        L.transfer(0, 1, 0.0, "compute")
        L.transfer_many(np.array([0]), np.array([1]), np.array([0.0]), "compute")
        assert not L.balances.any()
        assert L.postings()["amount"].size == 0


    def test_a_negative_posting_is_kept_as_the_reverse_one(self):
        # a loss of 5 on a stake: investments down 5, the reserve down 5; the journal shows it as
        # 5 debited to the reserve and credited to investments, as an accountant would write it
        L = Ledger(NAMES, keep=True)
        L.post(0, Acct.INVESTMENTS, Acct.REVALUATION, -5.0, "mark_to_market")
        assert L.balances[0, Acct.INVESTMENTS] == -5.0 and L.balances[0, Acct.REVALUATION] == 5.0
        p = L.postings()
        assert (p["debit"].tolist(), p["credit"].tolist(), p["amount"].tolist()) == (
            [int(Acct.REVALUATION)], [int(Acct.INVESTMENTS)], [5.0])


class TestTransfers:
    def test_transfer_books_both_sides(self):
        L = Ledger(NAMES)
        L.transfer(0, 1, 250.0, "compute")
        # payer: compute expense up, cash down; payee: cash up, revenue (credit) up
        assert L.balances[0, Acct.COMPUTE] == 250.0
        assert L.cash(0) == -250.0
        assert L.cash(1) == 250.0
        assert L.balances[1, Acct.REVENUE] == -250.0

    @pytest.mark.parametrize("kind", sorted(TRANSFERS))
    def test_every_kind_conserves_cash(self, kind):
        L = Ledger(NAMES)
        L.transfer(3, 0, 1000.0, "equity")
        before = L.balances.copy()
        L.transfer(0, 2, 123.5, kind)
        assert L.balances[:, Acct.CASH].sum() == pytest.approx(0.0, abs=1e-12)
        dr, cr = TRANSFERS[kind]
        moved = L.balances - before
        # payer's debit account and payee's credit account moved (unless they are cash itself)
        assert L.cash(0) == pytest.approx(1000.0 - 123.5)
        assert L.cash(2) == pytest.approx(123.5)
        assert moved[0, dr] == pytest.approx(123.5 - (123.5 if dr == Acct.CASH else 0.0))
        assert moved[2, cr] == pytest.approx(-123.5 + (123.5 if cr == Acct.CASH else 0.0))
        assert_allclose(L.balances.sum(axis=1), 0.0, atol=1e-9)

    def test_total_cash_is_conserved(self):
        L = busy_ledger()
        assert L.balances[:, Acct.CASH].sum() == pytest.approx(0.0, abs=1e-9)

    @pytest.mark.parametrize("bad", [-1.0, float("nan")])
    def test_negative_or_nan_amount_refused(self, bad):
        L = Ledger(NAMES)
        with pytest.raises(ValueError, match="non-negative"):
            L.transfer(0, 1, bad, "compute")
        assert not L.balances.any()

    @pytest.mark.parametrize("bad", [-1.0, float("nan")])
    def test_transfer_many_refuses_negative_or_nan_amounts(self, bad):
        # like transfer: a negative or NaN payment is a bug upstream, not a payment to drop silently
        L = Ledger(NAMES)
        with pytest.raises(ValueError, match="non-negative"):
            L.transfer_many(np.array([0, 1]), np.array([1, 2]), np.array([5.0, bad]), "compute")
        assert not L.balances.any()

    def test_unknown_kind_refused(self):
        L = Ledger(NAMES)
        with pytest.raises(KeyError):
            L.transfer(0, 1, 5.0, "gift")

    @pytest.mark.parametrize("n", [40, 300])  # small batches (compiled loop) and large (summed per entity)
    @pytest.mark.parametrize("kind", ["compute", "gpu_purchase", "loan", "penalty", "asset_sale"])
    def test_transfer_many_equals_a_loop_of_transfer(self, kind, n):
        rng = np.random.default_rng(3)
        payers = rng.integers(0, 4, n)
        payees = rng.integers(0, 4, n)  # includes payments to oneself and repeated pairs
        amounts = rng.uniform(0, 100, n)
        amounts[::7] = 0.0
        one, many = Ledger(NAMES, keep=True), Ledger(NAMES, keep=True)
        for a, b, x in zip(payers, payees, amounts):
            one.transfer(int(a), int(b), float(x), kind)
        many.transfer_many(payers, payees, amounts, kind)
        assert_allclose(many.balances, one.balances, rtol=1e-12, atol=1e-9)
        assert_allclose(many.capex, one.capex, rtol=1e-12, atol=1e-9)
        pm, po = many.postings(), one.postings()
        assert pm["amount"].size == po["amount"].size == 2 * np.count_nonzero(amounts)
        assert sorted(pm["amount"]) == pytest.approx(sorted(po["amount"]))


    @pytest.mark.parametrize("per_posting", [False, True])
    def test_post_many_equals_a_loop_of_post(self, per_posting):
        rng = np.random.default_rng(5)
        entities = rng.integers(0, 4, 30)
        amounts = rng.normal(0, 100, 30)
        amounts[::5] = 0.0  # skipped, as post skips them
        debit = rng.integers(0, 17, 30) if per_posting else 12
        credit = rng.integers(0, 17, 30) if per_posting else 2
        one, many = Ledger(NAMES, keep=True), Ledger(NAMES, keep=True)
        for i, (e, x) in enumerate(zip(entities, amounts)):
            d = int(debit[i]) if per_posting else debit
            c = int(credit[i]) if per_posting else credit
            one.post(int(e), d, c, float(x), "depreciation")
        many.post_many(entities, debit, credit, amounts, "depreciation")
        assert_allclose(many.balances, one.balances, rtol=1e-12, atol=1e-9)
        assert np.allclose(many.balances.sum(axis=1), 0.0)  # every entity's accounts still sum to zero
        pm, po = many.postings(), one.postings()
        assert pm["amount"].size == po["amount"].size == np.count_nonzero(amounts)
        for col in ("entity", "debit", "credit", "amount"):
            assert pm[col].tolist() == pytest.approx(po[col].tolist())


class TestCapex:
    @pytest.mark.parametrize("kind", sorted(TRANSFERS))
    def test_capex_only_for_capex_kinds(self, kind):
        L = Ledger(NAMES)
        L.transfer(0, 1, 40.0, kind)
        L.transfer_many(np.array([0, 2]), np.array([1, 1]), np.array([10.0, 5.0]), kind)
        expected = [50.0, 0.0, 5.0, 0.0] if kind in CAPEX_KINDS else [0.0] * 4
        assert_allclose(L.capex, expected)

    def test_capex_kinds(self):
        assert CAPEX_KINDS == {"gpu_purchase", "system_purchase", "custom_chips", "power_build"}

    def test_capex_accumulates_within_a_month_and_resets(self):
        L = Ledger(NAMES)
        L.begin_month(0)
        L.transfer(0, 1, 10.0, "gpu_purchase")
        L.transfer(0, 2, 5.0, "power_build")
        assert L.capex[0] == 15.0
        opening = L.begin_month(1)
        assert not L.capex.any()
        assert_allclose(opening, L.balances)
        opening[0, 0] = 99.0  # a copy, not a view
        assert L.balances[0, 0] != 99.0


class TestKeptPostings:
    def test_postings_reproduce_the_balances(self):
        L = busy_ledger()
        assert_allclose(replay(L), L.balances, atol=1e-9)

    def test_postings_are_tagged(self):
        L = busy_ledger()
        p = L.postings()
        n = p["amount"].size
        assert all(p[k].size == n for k in ("month", "entity", "debit", "credit", "memo", "transfer_id"))
        assert np.all(np.diff(p["month"]) >= 0)  # in month order
        assert set(np.unique(p["month"])) == {-1, 0, 1, 2}
        assert p["memo"].max() < len(MEMOS)
        # each transfer is two postings of one amount: one credits the payer's cash, one debits the payee's
        t = p["transfer_id"]
        ids, counts = np.unique(t[t >= 0], return_counts=True)
        assert np.all(counts == 2)
        for i in ids[:20]:
            sel = t == i
            assert p["amount"][sel][0] == p["amount"][sel][1]
            assert sorted([p["debit"][sel][0] == Acct.CASH, p["credit"][sel][0] == Acct.CASH,
                           p["debit"][sel][1] == Acct.CASH, p["credit"][sel][1] == Acct.CASH]).count(True) >= 2
        # internal postings carry transfer id -1
        assert np.count_nonzero(t < 0) == 6

    def test_nothing_kept_by_default(self):
        L = busy_ledger(keep=False)
        assert L.postings()["amount"].size == 0
        assert_allclose(busy_ledger(keep=True).balances, L.balances)


class TestStatements:
    def test_statement_identities(self):
        L = busy_ledger()
        st = statement(L.balances)
        b = L.balances
        assert_allclose(st["cash"], b[:, Acct.CASH])
        assert_allclose(st["total_assets"], b[:, ASSETS].sum(axis=1))
        assert_allclose(st["liabilities"], -b[:, LIABILITIES].sum(axis=1))
        assert_allclose(st["debt"], -b[:, Acct.DEBT])
        assert_allclose(st["total_assets"], st["liabilities"] + st["equity_book"])
        # book equity is what investors paid in plus cumulative income less expenses
        equity_accts = [Acct.PAID_IN] + INCOME + EXPENSES
        assert_allclose(st["equity_book"], -b[:, equity_accts].sum(axis=1), atol=1e-9)
        assert_allclose(st["fleet_book"], b[:, Acct.GPU_ASSETS] + b[:, Acct.ACCUM_DEP])

    def test_statement_by_hand(self):
        L = Ledger(["co", "investors", "lenders", "nvidia"])
        L.transfer(1, 0, 100.0, "equity")  # cash 100, paid-in 100
        L.transfer(2, 0, 50.0, "loan")  # cash 150, debt 50
        L.transfer(0, 3, 120.0, "gpu_purchase")  # cash 30, GPUs 120
        L.post(0, Acct.DEPRECIATION, Acct.ACCUM_DEP, 20.0, "depreciation")
        st = statement(L.balances)
        assert st["cash"][0] == 30.0
        assert st["total_assets"][0] == 130.0  # 30 + 120 - 20
        assert st["liabilities"][0] == 50.0
        assert st["debt"][0] == 50.0
        assert st["equity_book"][0] == 80.0  # 100 paid in - 20 depreciation
        assert st["fleet_book"][0] == 100.0

    def test_flows_by_hand(self):
        L = Ledger(["co", "buyer", "utility", "lender"])
        L.transfer(1, 0, 10.0, "equity")
        start = L.begin_month(0)
        L.transfer(1, 0, 500.0, "compute")  # revenue 500
        L.transfer(0, 1, 30.0, "penalty")  # other expense 30 (buyer's other income)
        L.transfer(0, 2, 100.0, "power")  # cost of revenue 100
        L.transfer(0, 3, 40.0, "interest")
        L.transfer(0, 2, 25.0, "sga")
        L.post(0, Acct.DEPRECIATION, Acct.ACCUM_DEP, 60.0, "depreciation")
        f = flows(start, L.balances)
        assert f["revenue"][0] == 500.0
        assert f["cost_of_revenue"][0] == 100.0
        assert f["depreciation"][0] == 60.0
        assert f["interest_expense"][0] == 40.0
        assert f["opex"][0] == 25.0
        assert f["other_expense"][0] == 30.0
        # 500 - 100 - 60 - 40 - 25 - 30
        assert f["net_income"][0] == 245.0
        assert f["compute_expense"][1] == 500.0
        assert f["other_income"][1] == 30.0
        assert f["net_income"][1] == -470.0

    def test_flows_identities(self):
        L = busy_ledger()
        start = L.balances.copy()
        rng = np.random.default_rng(5)
        L.begin_month(3)
        for kind in TRANSFERS:
            L.transfer(int(rng.integers(4)), int(rng.integers(4)), float(rng.uniform(1, 9)), kind)
        end = L.balances
        f = flows(start, end)
        ni = (f["revenue"] + f["other_income"] - f["cost_of_revenue"] - f["depreciation"] - f["interest_expense"]
              - f["opex"] - f["compute_expense"] - f["other_expense"] - f["lease_expense"] - f["sbc_expense"]
              - f["income_tax"])
        assert_allclose(f["net_income"], ni, atol=1e-9)
        # net income is the change in book equity less new paid-in capital
        eq0, eq1 = statement(start)["equity_book"], statement(end)["equity_book"]
        paid_in = -(end[:, Acct.PAID_IN] - start[:, Acct.PAID_IN])
        assert_allclose(eq1 - eq0, f["net_income"] + paid_in, atol=1e-9)


def test_chart_of_accounts():
    assert N_ACCTS == len(ACCT_NAMES) == len(Acct)
    assert set(ASSETS + LIABILITIES + INCOME + EXPENSES + EQUITY) == set(Acct)
    # every transfer kind and internal memo has a code
    assert set(TRANSFERS) <= set(MEMOS)


def test_month_figures_match_statement_and_flows_to_the_bit():
    # ledger.month_figures (one compiled pass) against the numpy statement and flows, on balances
    # with signed zeros, large and small amounts: numpy's row sums and its -0.0 + 0.0 spelled out
    from market.ledger import FIGURES, flows, month_figures, statement

    rng = np.random.default_rng(11)
    values = [0.0, -0.0, 1.0, -2.5, 1e16, -1e16, 3.3, 1e-9]
    for _ in range(500):
        n = int(rng.integers(1, 12))
        end = rng.choice(values, size=(n + 3, N_ACCTS)) * rng.choice([1.0, 7.77], size=(n + 3, N_ACCTS))
        start = rng.choice(values, size=(n + 3, N_ACCTS))
        got = month_figures(start, end, n)
        ref = {**statement(end[:n]), **flows(start[:n], end[:n])}
        assert list(got) == list(FIGURES) and set(ref) == set(FIGURES)
        for k in FIGURES:
            assert got[k].tobytes() == ref[k].tobytes(), k
