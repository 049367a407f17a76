"""The faster forms in the short-term market and the quotes give numpy's numbers bit for bit: row
sums taken column by column (``clearing.row_sums``), the scores from terms kept for a run
(``clearing.consideration``, ``offer_terms``, ``price_scores``), the payments cut only on the rows
whose cash falls short (``clearing._afford``), and ``allocation.delivery_wait`` within the horizon."""

from __future__ import annotations

import numpy as np
import pytest

from market.mechanisms import allocation, clearing


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaNs and the sign of zero included)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 12, 15, 16, 17, 24, 33, 64, 128, 129])
def test_row_sums_are_numpys_bit_for_bit(k):
    rng = np.random.default_rng(k)
    for rows in (0, 1, 5, 600, 1000):
        a = rng.random((rows, k)) * 10.0 ** rng.integers(-12, 12, (rows, k))
        a[rng.random((rows, k)) < 0.3] = 0.0
        assert _same(clearing.row_sums(a), a.sum(axis=1))
        a[:, :] = -0.0  # (numpy's sum of negative zeros is +0)
        assert _same(clearing.row_sums(a), a.sum(axis=1))
    b = np.repeat(np.array([[np.inf, 1.0] * 65, [np.nan, 2.0] * 65, [-np.inf, np.inf] * 65])[:, :k], 200, axis=0)
    with np.errstate(invalid="ignore"):  # (inf - inf, in both)
        assert _same(clearing.row_sums(b), b.sum(axis=1))


def test_row_sums_of_strided_and_fortran_arrays():
    # (numpy sums the rows of a Fortran-ordered array one column after another: left to numpy)
    a = np.random.default_rng(1).random((1800, 24))
    for view in (a[:, ::2], np.asfortranarray(a), a[::3]):
        assert _same(clearing.row_sums(view), view.sum(axis=1))


def _scores_by_formula(idx, price, custom, trust, switching, trust_value, max_price, beta):
    """offer_scores as it was written in one piece (before the terms were kept)."""
    valid = idx >= 0
    safe = np.maximum(idx, 0)
    base = np.maximum(price, 1e-6)
    c = custom[safe]
    pr = base[safe] * (1.0 + switching[:, None] * c)
    log_pr = np.log(base)[safe] + np.log(1.0 + switching)[:, None] * c
    score = beta * (trust_value[:, None] * trust[safe] / pr - log_pr)
    ok = valid & (price > 0)[safe] & (pr <= max_price[:, None])
    return np.where(ok, idx, -1), score


def test_scores_from_kept_terms_are_the_formulas():
    rng = np.random.default_rng(7)
    n, n_offers = 500, 30
    idx = np.sort(rng.integers(-1, n_offers, (n, 6)), axis=1)
    custom = rng.random(n_offers) < 0.3
    trust = rng.random(n_offers)
    switching, trust_value = rng.random(n) * 0.4, rng.random(n)
    consider = clearing.consideration(idx, custom, trust)
    for _ in range(3):
        price = np.where(rng.random(n_offers) < 0.1, 0.0, rng.random(n_offers) * 4.0)
        max_price = rng.random(n) * 5.0
        ok, score = clearing.price_scores(clearing.offer_terms(consider, switching, trust_value), price,
                                          max_price, 3.0)
        ok0, score0 = _scores_by_formula(idx, price, custom, trust, switching, trust_value, max_price, 3.0)
        assert _same(ok, ok0)
        assert _same(score[ok0 >= 0], score0[ok0 >= 0])
        ok1, score1 = clearing.offer_scores(idx, price, custom, trust, switching, trust_value, max_price, 3.0)
        assert _same(ok1, ok) and _same(score1, score)


def test_payments_cut_only_where_cash_falls_short():
    rng = np.random.default_rng(3)
    n, k = 400, 5
    od, sp = rng.random((n, k)), rng.random((n, k))
    od_k, spot_k = rng.random((n, k)) * 3.0, rng.random((n, k)) * 2.0
    cash = rng.random(n) * 6.0
    # as it was written: every row scaled by cash over cost where the cost is above the cash, else by 1
    cost = (od * od_k + sp * spot_k).sum(axis=1)
    afford = np.divide(cash, cost, out=np.ones(n), where=cost > cash)[:, None]
    od0, sp0 = od * afford, sp * afford
    pay0 = od0 * od_k + sp0 * spot_k
    pay, spend = clearing._afford(od, sp, od_k, spot_k, cash)  # (od and sp cut in place)
    assert (cost > cash).any() and (cost <= cash).any()
    assert _same(od, od0) and _same(sp, sp0) and _same(pay, pay0) and _same(spend, pay0.sum(axis=1))


def test_delivery_wait_within_the_horizon_is_the_first_month_that_ships_the_queue():
    cum = np.cumsum([5.0, 5.0, 10.0, 10.0])
    assert allocation.delivery_wait(np.array([0.0, 5.0, 5.1, 30.0]), cum).tolist() == [1, 1, 2, 4]
    assert allocation.delivery_wait(np.array([5.1, 31.0]), cum).tolist() == [2, 5]  # (one past: at the last rate)
    assert allocation.delivery_wait(np.array([5.1, 30.0]), cum).dtype == np.int64


def test_top_buyer_shares_sum_each_pair_in_contract_order():
    from market.mechanisms import service

    rng = np.random.default_rng(5)
    for _ in range(50):
        n, n_sellers = int(rng.integers(0, 200)), int(rng.integers(1, 12))
        seller, buyer = rng.integers(0, n_sellers, n), rng.integers(-3, 40, n) * 7
        value = rng.random(n) * 1e9 * (rng.random(n) < 0.8)
        pair, total = {}, [0.0] * n_sellers
        for s, b, v in zip(seller.tolist(), buyer.tolist(), value.tolist(), strict=True):
            if v > 0:
                pair[s, b] = pair.get((s, b), 0.0) + v
                total[s] += v
        top = [0.0] * n_sellers
        for (s, _), v in pair.items():
            top[s] = max(top[s], v)
        expect = np.array([t / tot if tot > 0 else 0.0 for t, tot in zip(top, total, strict=True)])
        assert _same(service.top_buyer_shares(seller, buyer, value, n_sellers), expect)
