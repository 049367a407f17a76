"""Contract service (market/mechanisms/service.py): the rule on numbers worked by hand, and the
compiled kernel held to the numpy statement bit for bit."""

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


class TestCompiled:
    @settings(max_examples=150, deadline=None)
    @given(months())
    def test_same_bits_as_the_numpy_statement(self, month):
        c, prepaid, running, shape, demand, inference = month
        t_ref, t_kernel = tallies(*shape), tallies(*shape)
        # tallies start from earlier sales, as they do after a month's resets and short-term sales
        for t in (t_ref, t_kernel):
            t.sold_hours_g += np.arange(shape[0] * shape[1]).reshape(shape[:2]) / 3.0
        ref = service.serve_reference(c, prepaid, running, 730.0, t_ref, demand, inference)
        got = service.serve(c, prepaid, running, 730.0, t_kernel, demand, inference)
        for a, b in zip(ref, got, strict=True):
            assert same_bits(a, b)
        for name in service.TALLIES:
            assert same_bits(getattr(t_ref, name), getattr(t_kernel, name)), name

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


def test_promised_kw_matches_the_numpy_statement():
    # service.promised_kw against the numpy it states, on random fleets and schedules: a horizon
    # inside the schedule, one running past its end, and a month beyond it (the fleet alone)
    from market.mechanisms.service import promised_kw

    rng = np.random.default_rng(7)
    P, G, T = 6, 10, 40
    installed, in_transit, on_order = (rng.choice([0.0, 1.0, 250.0, 1e5 / 3], size=(P, G)) for _ in range(3))
    sched = rng.choice([0.0, 7.0, 5e4, 2e5 / 7], size=(P, G, T))
    power_kw = rng.uniform(0.5, 2.0, G)
    rows = np.array([4, 0, 5, 2], dtype=np.int64)
    for t in (0, 10, 30, 39, 40, 55):
        supply = installed[rows] + in_transit[rows] + on_order[rows]
        if t < T:
            want = np.maximum(supply, sched[rows, :, t : t + 37].max(axis=2))
        else:
            want = np.maximum(supply, 0.0)
        expected = (want * power_kw).sum(axis=1)
        got = promised_kw(rows, installed, in_transit, on_order, sched, t, 36, power_kw)
        assert got.tobytes() == expected.tobytes(), t
    # a contract's need above the fleet decides: one generation, one month ahead
    sched[:] = 0.0
    installed[:] = 10.0
    in_transit[:] = on_order[:] = 0.0
    sched[4, 3, 5] = 110.0
    got = promised_kw(np.array([4], dtype=np.int64), installed, in_transit, on_order, sched, 4, 36, np.ones(G))
    assert got.tolist() == [10.0 * 9 + 110.0]


@pytest.mark.parametrize("scenario,seed", [("baseline-2026", 0), ("power-crunch", 2), ("openai-walks", 1)])
def test_serve_columns_matches_the_reference(make_model, monkeypatch, scenario, seed):
    # Exchange._serve (service.serve_columns over the contract columns) against
    # Exchange._serve_reference (service.serve on the terms as arrays, and numpy): the same
    # postings, balances, contract states and tables, month by month, late deliveries included
    from market.exchange import Exchange
    from market.ledger import MEMO_CODE

    def run(reference):
        with monkeypatch.context() as mp:
            if reference:
                mp.setattr(Exchange, "_serve", Exchange._serve_reference)
            m = make_model(scenario=scenario, seed=seed, keep_ledger=True)
            m.run(30)
        ex = m.exchange
        state = [(c.status, c.months_billed, c.late_months, c.prepaid_left, c.delivered) for c in ex.contracts]
        postings = {k: v.tobytes() for k, v in m.ledger.postings().items()}
        rows = [{k: np.asarray(v).tolist() for k, v in r.items()} for r in m.recorder.agent_months]
        # short deliveries: each one's penalty is a payment of its own
        penalties = int((m.ledger.postings()["memo"] == MEMO_CODE["penalty"]).sum()) // 2
        return (m.ledger.balances.tobytes(), postings, state, repr(m.recorder.model_rows), repr(rows),
                m.pbook.sold_hours_g.tobytes()), penalties

    fast, short = run(False)
    ref, short_ref = run(True)
    assert fast == ref
    assert short == short_ref and short > 10  # late deliveries (and their penalties) were exercised


def test_add_schedule_adds_to_the_months_of_both_schedules():
    from market.mechanisms.service import add_schedule

    sched = np.zeros((3, 2, 10))
    bsched = np.zeros((2, 10))
    add_schedule(sched, 1, bsched, 1, 2, 5, 1000.0)
    add_schedule(sched, 1, bsched, 1, 4, 8, -250.0)
    expected = np.zeros(10)
    expected[2:5] += 1000.0
    expected[4:8] -= 250.0
    assert sched[1, 1].tolist() == expected.tolist() and bsched[1].tolist() == expected.tolist()
    assert sched.sum() == expected.sum() and bsched[0].sum() == 0.0
