"""The month's short-term market in one call (``clearing.short_term``): numbers worked by hand,
and its invariants on random months (hypothesis)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from market.mechanisms import clearing

NAN = float("nan")


def market(**over) -> SimpleNamespace:
    """Two providers, two generations (an NVIDIA one and custom silicon); provider 0 makes a GPU
    offer and a custom-silicon offer, provider 1 a GPU offer; one buyer considers all three."""
    s = SimpleNamespace(
        running=np.array([[10.0, 0.0], [20.0, 0.0]]), committed=np.zeros((2, 2)), resale=np.zeros((2, 2)),
        od=np.array([[2.0, NAN], [3.0, NAN]]), spot=np.array([[1.0, NAN], [1.5, NAN]]),
        live=np.array([True, True]), prow=np.array([0, 0, 1]), custom=np.array([False, True, False]),
        nvidia=np.array([True, False]), inf=np.array([1.0, 0.5]), hours=100.0,
        consider=clearing.consideration(np.array([[0, 1, 2]]), np.array([False, True, False]), np.zeros(3)),
        demand_eq=np.array([500.0]),
        contract_eq=np.zeros(1), cash=np.array([1e9]), price=2.5, spot_frac=np.zeros(1), switching=np.zeros(1),
        trust_value=np.zeros(1), max_price=np.array([100.0]), beta=1.0, rounds=10, inference_eq=np.array([500.0]))
    for k, v in over.items():
        setattr(s, k, v)
    return s


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


class TestByHand:
    def test_ample_capacity_splits_demand_by_the_logit_of_log_price(self):
        # Offers: provider 0's GPUs (1,000 eq-hours at $2), its custom silicon (no idle capacity,
        # unpriced: never chosen) and provider 1's GPUs (2,000 eq-hours at $3). With beta 1 and no
        # trust, the scores are -ln 2 and -ln 3, so the buyer's 500 eq-hours split 3 : 2:
        # 300 at $2 and 200 at $3 = $1,200.
        r = clearing.short_term(market(), np.zeros((2, 2)), np.zeros((2, 2)))
        assert r.p_od.tolist() == [2.0, 0.0, 3.0]
        assert np.allclose(r.served_od, [[300.0, 0.0, 200.0]])
        assert math.isclose(r.spend[0], 1200.0)
        assert np.allclose(r.sold_eq, [300.0, 0.0, 200.0])
        assert r.gap.tolist() == [0.0]
        assert math.isclose(r.inference_bought, 500.0)  # all of its need is inference

    def test_cash_caps_demand_and_spot_clears_second(self):
        # $600 of cash at a market price of $2.5 buys at most 240 eq-hours; 25% of it (60) is spot.
        sold, own = np.zeros((2, 2)), np.zeros((2, 2))
        r = clearing.short_term(market(cash=np.array([600.0]), spot_frac=np.array([0.25])), sold, own)
        assert math.isclose(r.served_od.sum(), 180.0) and math.isclose(r.served_sp.sum(), 60.0)
        # spot at $1 and $1.5 splits 3 : 2 as well: 36 and 24
        assert np.allclose(r.served_sp, [[36.0, 0.0, 24.0]])
        # physical hours: generation 0 runs one eq-hour per hour, so provider 0 sold 108 + 36
        assert np.allclose(sold, [[144.0, 0.0], [96.0, 0.0]]) and np.allclose(own, sold)

    def test_committed_gpus_are_not_offered(self):
        # provider 0's 10 GPUs all serve contracts: only provider 1 sells
        r = clearing.short_term(market(committed=np.array([[10.0, 0.0], [0.0, 0.0]])), np.zeros((2, 2)),
                                np.zeros((2, 2)))
        assert np.allclose(r.served_od, [[0.0, 0.0, 500.0]])
        assert r.st_eq_p.tolist()[0] == 0.0


@st.composite
def months(draw):
    P, G = draw(st.integers(1, 6)), draw(st.integers(1, 9))
    n, K = draw(st.integers(1, 40)), draw(st.integers(1, 12))
    nvidia = np.array(draw(st.lists(st.booleans(), min_size=G, max_size=G)))
    custom_of = draw(st.lists(st.booleans(), min_size=P, max_size=P))
    prow = [i for i in range(P)] + [i for i in range(P) if custom_of[i]]
    custom = [False] * P + [True] * (len(prow) - P)
    n_offers = len(prow)
    K = min(K, n_offers)
    floats = st.floats(0.0, 1e5)

    def mat(rows, cols, elements=floats):
        return np.array(draw(st.lists(elements, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)

    prices = st.one_of(st.just(NAN), st.floats(0.2, 8.0))
    od = mat(P, G, prices)
    idx = np.stack([draw(st.permutations(range(n_offers)))[:K] for _ in range(n)])
    idx[mat(n, K, st.booleans()) > 0] = -1
    demand = mat(1, n)[0]
    return SimpleNamespace(
        running=mat(P, G), committed=mat(P, G), resale=mat(P, G) / 10.0, od=od, spot=od * 0.5,
        live=np.array(draw(st.lists(st.booleans(), min_size=P, max_size=P))), prow=np.array(prow),
        custom=np.array(custom), nvidia=nvidia, inf=mat(1, G, st.floats(0.3, 5.0))[0], hours=730.0,
        consider=clearing.consideration(idx, np.array(custom), mat(1, n_offers, st.floats(0.0, 1.0))[0]),
        demand_eq=demand, contract_eq=mat(1, n)[0], cash=mat(1, n, st.floats(-1e5, 1e6))[0],
        price=draw(st.floats(0.5, 5.0)), spot_frac=mat(1, n, st.floats(0.0, 0.5))[0],
        switching=mat(1, n, st.floats(0.0, 0.6))[0], trust_value=mat(1, n, st.floats(0.0, 0.5))[0],
        max_price=mat(1, n, st.floats(1.0, 20.0))[0], beta=draw(st.floats(0.5, 6.0)),
        rounds=draw(st.integers(1, 10)), inference_eq=demand * draw(st.floats(0.0, 1.2)))


class TestInvariants:
    @settings(max_examples=150, deadline=None)
    @given(months())
    def test_nothing_is_sold_twice_and_money_follows_hours(self, s):
        # each offer sells at most its idle capacity; each buyer buys at most its demand left after
        # contracts (capped by cash); what buyers pay is what they bought at the offers' prices
        P, G = s.running.shape
        sold0 = np.zeros((P, G))
        r = clearing.short_term(s, sold0, sold0.copy())
        bought = (r.served_od + r.served_sp).sum(axis=1)
        left = np.minimum(np.maximum(0.0, s.demand_eq - s.contract_eq), np.maximum(0.0, s.cash) / s.price)
        assert (bought <= left * (1 + 1e-9) + 1e-6).all()
        assert (r.sold_eq <= (r.sold_eq + r.cap_left) * (1 + 1e-12)).all() and (r.cap_left >= 0).all()
        np.testing.assert_allclose(r.pay.sum(axis=1), r.spend, rtol=1e-12)
        assert (r.gap >= 0).all()
        assert np.isfinite(r.pay).all() and (r.pay >= 0).all()


def test_a_demand_boom_shows_in_price_not_only_in_unmet_demand():
    """A 60% boom in inference demand from 2026-03, against the same seed's baseline: demand goes
    unmet and the short-term market's price per H100-equivalent hour is higher in every month
    from the boom on (the sellers that are sold out raise their prices, ``pricing.scarcity_markup``
    and the utilisation strategy, and buyers turn to dearer offers)."""
    from market.scenario import load_scenario
    from market.simulate import simulate

    boom = {"events": [{"kind": "demand_boom", "month": "2026-03", "pct": 0.6}], "market.months": 15}
    got = simulate(load_scenario("baseline-2026", boom), seed=0).model.to_pandas()
    base = simulate(load_scenario("baseline-2026", {"market.months": 15}), seed=0).model.to_pandas()
    price, price0 = got.short_term_price_per_h100_hour, base.short_term_price_per_h100_hour
    assert (price.loc[:1] == price0.loc[:1]).all()
    assert (price.loc[2:] > price0.loc[2:]).all(), (price - price0)
    assert (got.unmet_gpu_hours.loc[2:] > base.unmet_gpu_hours.loc[2:]).all()
