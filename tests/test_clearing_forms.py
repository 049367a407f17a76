"""The short-term market's array forms against stated identities and numbers worked by hand: row
sums taken column by column (``clearing.row_sums``), the scores from terms kept for a run
(``clearing.consideration``, ``offer_terms``, ``price_scores``), the payments cut only on the rows
whose cash falls short (``clearing._afford``), ``allocation.delivery_wait`` within the horizon,
and each seller's largest buyer (``service.top_buyer_shares``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.mechanisms import allocation, clearing, service


@pytest.mark.parametrize("k", [1, 2, 7, 8, 12, 33, 128, 129])
def test_row_sums_are_each_rows_sum(k):
    """Each entry is its row's sum: exactly for small integers, and within a few ulps of the
    correctly rounded sum (``math.fsum``) for mixed magnitudes; on small and wide arrays too."""
    rng = np.random.default_rng(k)
    for rows in (0, 1, 5, 600, 1000):
        ints = rng.integers(-50, 50, (rows, k)).astype(float)
        assert clearing.row_sums(ints).tolist() == [float(sum(r)) for r in ints.tolist()]
        a = rng.random((rows, k)) * 10.0 ** rng.integers(-6, 6, (rows, k))
        exact = np.array([math.fsum(r) for r in a.tolist()])
        assert clearing.row_sums(a) == pytest.approx(exact, rel=1e-13, abs=0.0)
    assert clearing.row_sums(np.ones((600, 12))[:, ::3]).tolist() == [4.0] * 600  # (a strided view)


def test_a_score_by_hand():
    """One buyer, two offers, beta 2, trust value 0.5: a GPU offer at $2 with trust 0.8 scores
    2 x (0.5 x 0.8 / 2 - ln 2) = -0.98629; custom silicon at $1 with trust 0.6 for a buyer with
    a switching cost of 0.25 is priced at 1.25, so 2 x (0.5 x 0.6 / 1.25 - ln 1.25) = 0.033713.
    An offer above the buyer's maximum price ($2.2 here, against 1.25 x $2 = $2.5) is dropped. The
    terms kept for a run (``consideration``, ``offer_terms``) serve any prices."""
    idx = np.array([[0, 1]])
    custom, trust = np.array([False, True]), np.array([0.8, 0.6])
    kept = clearing.offer_terms(clearing.consideration(idx, custom, trust), np.array([0.25]), np.array([0.5]))
    ok, score = clearing.price_scores(kept, np.array([2.0, 1.0]), np.array([10.0]), 2.0)
    assert ok.tolist() == [[0, 1]]
    assert score[0, 0] == pytest.approx(2 * (0.5 * 0.8 / 2 - math.log(2)))
    assert score[0, 1] == pytest.approx(2 * (0.5 * 0.6 / 1.25 - math.log(1.25)))
    ok, _ = clearing.price_scores(kept, np.array([2.0, 2.0]), np.array([2.2]), 2.0)
    assert ok.tolist() == [[0, -1]]


def test_payments_cut_only_where_cash_falls_short():
    """A buyer whose purchases cost more than its cash buys each in the same proportion, cash over
    cost, and spends its cash; the others keep what they were served and pay its cost."""
    rng = np.random.default_rng(3)
    n, k = 400, 5
    od, sp = rng.random((n, k)), rng.random((n, k))
    od_k, spot_k = rng.random((n, k)) * 3.0, rng.random((n, k)) * 2.0
    cash = rng.random(n) * 6.0
    cost = (od * od_k + sp * spot_k).sum(axis=1)
    od0, sp0 = od.copy(), sp.copy()
    pay, spend = clearing._afford(od, sp, od_k, spot_k, cash)  # (od and sp cut in place)
    short = cost > cash
    assert short.any() and (~short).any()
    assert od[~short].tolist() == od0[~short].tolist() and sp[~short].tolist() == sp0[~short].tolist()
    assert spend[~short] == pytest.approx(cost[~short])
    assert spend[short] == pytest.approx(cash[short])
    assert od[short] == pytest.approx(od0[short] * (cash / cost)[short][:, None])
    assert pay == pytest.approx(od * od_k + sp * spot_k)
    assert spend == pytest.approx(pay.sum(axis=1))


def test_delivery_wait_within_the_horizon_is_the_first_month_that_ships_the_queue():
    cum = np.cumsum([5.0, 5.0, 10.0, 10.0])
    assert allocation.delivery_wait(np.array([0.0, 5.0, 5.1, 30.0]), cum).tolist() == [1, 1, 2, 4]
    assert allocation.delivery_wait(np.array([5.1, 31.0]), cum).tolist() == [2, 5]  # (one past: at the last rate)
    assert allocation.delivery_wait(np.array([5.1, 30.0]), cum).dtype == np.int64


def test_top_buyer_shares_by_hand():
    """Seller 0: buyer 7 holds 30 + 10 of 60, buyer 14 holds 20: 40/60. Seller 1: one buyer, all of
    it. Seller 2: nothing (a contract of no value left counts for no one): 0."""
    seller = np.array([0, 0, 0, 1, 2])
    buyer = np.array([7, 14, 7, 3, 7])
    value = np.array([30.0, 20.0, 10.0, 5.0, 0.0])
    assert service.top_buyer_shares(seller, buyer, value, 3).tolist() == pytest.approx([40 / 60, 1.0, 0.0])
