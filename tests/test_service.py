"""Contract service (market/mechanisms/service.py): the rule on numbers worked by hand, and its
invariants on random months (hypothesis)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.mechanisms import service


def contracts(srow, gen, gpus, fee, prepay_share=None, resale=None, brow=None, perf=None) -> SimpleNamespace:
    n = len(srow)
    return SimpleNamespace(
        srow=np.array(srow, dtype=np.int64), gen=np.array(gen, dtype=np.int64), gpus=np.array(gpus, dtype=float),
        fee=np.array(fee, dtype=float),
        prepay_share=np.zeros(n) if prepay_share is None else np.array(prepay_share, dtype=float),
        resale=np.zeros(n, dtype=bool) if resale is None else np.array(resale, dtype=bool),
        brow=np.arange(n, dtype=np.int64) if brow is None else np.array(brow, dtype=np.int64),
        perf=np.ones(n) if perf is None else np.array(perf, dtype=float))


def tallies(n_providers: int, n_generations: int, n_buyers: int) -> SimpleNamespace:
    return SimpleNamespace(**{name: np.zeros((n_providers, n_generations)) for name in service.TALLIES[:4]},
                           buyer_hours=np.zeros(n_buyers), contract_eq=np.zeros(n_buyers))


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


class TestByHand:
    def test_earlier_contracts_are_served_first_and_bills_follow_delivery(self):
        # Seller 0 runs 100 GPUs of generation 1. Its contracts, in signing order: 60 GPUs (fee 600),
        # 70 GPUs (fee 700). The first gets 60; the second the 40 left, and owes 700 x 40/70 = 400.
        # A contract of seller 1 (its 5 running GPUs of generation 0) is signed between them: 8 GPUs,
        # fee 80, gets 5 and owes 50. Half of each bill comes from a prepayment where there is one:
        # the second contract has 150 prepaid, so 150 of its 400 (half would be 200) comes from it.
        c = contracts(srow=[0, 1, 0], gen=[1, 0, 1], gpus=[60, 8, 70], fee=[600, 80, 700],
                      prepay_share=[0.5, 0.5, 0.5], brow=[3, 4, 3])
        # Buyer 3 needs 1,500 equivalent hours, 1,000 of them inference: its 1,000 contracted hours
        # serve its 500 of training first, so half of them serve inference. Buyer 4 needs only
        # inference: all its 50 hours serve inference. 500 + 50 = 550.
        running = np.array([[0.0, 100.0], [5.0, 0.0]])
        tally = tallies(2, 2, 5)
        demand, inference = np.array([0, 0, 0, 1500.0, 10.0]), np.array([0, 0, 0, 1000.0, 10.0])
        deliver, due, short, used, pay, hours, inference_hours = service.serve(
            c, np.array([0.0, 0.0, 150.0]), running, 10.0, tally, demand, inference)
        assert deliver.tolist() == [60.0, 5.0, 40.0]
        assert due.tolist() == [600.0, 50.0, 400.0]
        assert short.tolist() == [False, True, True]
        assert used.tolist() == [0.0, 0.0, 150.0]
        assert pay.tolist() == [600.0, 50.0, 250.0]
        assert hours.tolist() == [600.0, 50.0, 400.0]
        assert tally.committed.tolist() == [[0.0, 100.0], [5.0, 0.0]]
        assert tally.sold_hours_g.tolist() == [[0.0, 1000.0], [50.0, 0.0]]
        assert tally.buyer_hours.tolist() == [0.0, 0.0, 0.0, 1000.0, 50.0]
        assert inference_hours == 550.0

    def test_a_reseller_gets_capacity_not_buyer_hours(self):
        # Provider 1 buys 10 GPUs of generation 0 from provider 0 to resell: they count as its
        # resale capacity, and as provider 0's hours sold, but as no buyer's contracted hours.
        c = contracts(srow=[0], gen=[0], gpus=[10], fee=[100], resale=[True], brow=[1], perf=[2.0])
        tally = tallies(2, 1, 2)
        service.serve(c, np.zeros(1), np.array([[10.0], [0.0]]), 730.0, tally, np.zeros(2), np.zeros(2))
        assert tally.resale.tolist() == [[0.0], [10.0]]
        assert tally.own_sold_hours_g.tolist() == [[7300.0], [0.0]]
        assert tally.buyer_hours.tolist() == [0.0, 0.0] and tally.contract_eq.tolist() == [0.0, 0.0]

    def test_nothing_running_delivers_nothing(self):
        c = contracts(srow=[0, 0], gen=[0, 0], gpus=[3, 4], fee=[30, 40])
        tally = tallies(1, 1, 2)
        deliver, due, short, _used, pay, _hours, inference_hours = service.serve(
            c, np.zeros(2), np.zeros((1, 1)), 730.0, tally, np.ones(2), np.ones(2))
        assert deliver.tolist() == [0.0, 0.0] and pay.tolist() == [0.0, 0.0] and short.all()
        assert inference_hours == 0.0


@st.composite
def months(draw):
    """A month of contracts due: a few sellers and generations, contracts of all sizes, resellers
    and prepayments, and running fleets from nothing to plenty."""
    P, G, B = draw(st.integers(1, 4)), draw(st.integers(1, 8)), draw(st.integers(1, 6))
    n = draw(st.integers(1, 60))
    ints = st.integers(0, 10**6)
    srow = draw(st.lists(st.integers(0, P - 1), min_size=n, max_size=n))
    gen = draw(st.lists(st.integers(0, G - 1), min_size=n, max_size=n))
    gpus = draw(st.lists(st.integers(1, 20_000), min_size=n, max_size=n))
    price = draw(st.lists(st.floats(0.5, 6.0), min_size=n, max_size=n))
    share = draw(st.lists(st.sampled_from([0.0, 0.1, 0.25]), min_size=n, max_size=n))
    resale = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    brow = [draw(st.integers(0, (P if r else B) - 1)) for r in resale]
    c = contracts(srow, gen, gpus, [g * 730.0 * p for g, p in zip(gpus, price, strict=True)], share, resale, brow,
                  draw(st.lists(st.floats(0.3, 4.0), min_size=n, max_size=n)))
    prepaid = np.array(draw(st.lists(st.sampled_from([0.0, 1e3, 1e9]), min_size=n, max_size=n)))
    running = np.array(draw(st.lists(ints, min_size=P * G, max_size=P * G)), dtype=float).reshape(P, G) / 7.0
    demand = np.array(draw(st.lists(st.floats(0.0, 1e7), min_size=B, max_size=B)))
    inference = demand * np.array(draw(st.lists(st.sampled_from([0.0, 0.3, 1.0, 1.2]), min_size=B, max_size=B)))
    return c, prepaid, running, (P, G, B), demand, inference


class TestInvariants:
    @settings(max_examples=150, deadline=None)
    @given(months())
    def test_deliveries_fit_contracts_and_fleets_and_bills_follow_them(self, month):
        # no contract gets more than its GPUs; no seller delivers more of a generation than runs;
        # each bill is the fee in proportion to delivery; prepayment covers at most its share
        c, prepaid, running, shape, demand, inference = month
        t = tallies(*shape)
        deliver, due, short, use_prepaid, pay, hours, _ = service.serve(c, prepaid, running, 730.0, t, demand,
                                                                        inference)
        assert (deliver >= 0).all() and (deliver <= c.gpus + 1e-9).all()
        per = np.zeros(shape[:2])
        np.add.at(per, (c.srow, c.gen), deliver)
        assert (per <= np.maximum(running, 0.0) + 1e-6).all()
        np.testing.assert_allclose(due, c.fee * deliver / c.gpus, rtol=1e-12)
        assert (use_prepaid <= np.minimum(prepaid, due * c.prepay_share) + 1e-9).all()
        np.testing.assert_allclose(use_prepaid + pay, due, rtol=1e-12, atol=1e-9)
        assert (short == (deliver < c.gpus)).all()

    @pytest.mark.parametrize("n", [7, 8, 9, 130])
    def test_signing_order_is_kept_among_equal_keys(self, n):
        # One seller and generation, contracts of 1..n GPUs, running GPUs for about half of them:
        # the first contracts in signing order are served in full and the rest get what is left.
        c = contracts([0] * n, [0] * n, list(range(n, 0, -1)), [1.0] * n)
        running = np.array([[n * (n + 1) / 4]])
        deliver, *_ = service.serve(c, np.zeros(n), running, 730.0, tallies(1, 1, n), np.zeros(n), np.zeros(n))
        left = running[0, 0]
        for want, got in zip(c.gpus, deliver, strict=True):
            assert got == min(want, max(left, 0.0))
            left -= want

