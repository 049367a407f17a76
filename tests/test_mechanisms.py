"""The market's rules (``market.mechanisms``) against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from market.mechanisms import allocation, clearing, depreciation, finance, negotiation, pricing, valuation

NAN = float("nan")
INF = float("inf")


# ============================================================================ allocation


class TestAllocate:
    def test_pro_rata_when_short(self):
        # 30 units over orders 10, 20, 30 (total 60): each gets half of what it asked.
        assert_allclose(allocation.allocate(30, np.array([10.0, 20.0, 30.0])), [5, 10, 15])

    def test_everyone_served_when_output_covers_all(self):
        assert_allclose(allocation.allocate(1000, np.array([10.0, 20.0, 30.0])), [10, 20, 30])

    def test_nothing_to_give(self):
        assert_allclose(allocation.allocate(0, np.array([10.0, 20.0])), [0, 0])
        assert allocation.allocate(10, np.array([])).size == 0

    def test_weights_tilt_the_split(self):
        # output 30, orders 20 and 20, weights 2:1 -> claims 40:20 -> 20 and 10.
        assert_allclose(allocation.allocate(30, np.array([20.0, 20.0]), np.array([2.0, 1.0])), [20, 10])

    def test_capped_water_filling(self):
        # output 100, orders 10 and 100, weights 10:1 -> claims 100:100 -> shares 50/50; the first is
        # capped at 10; the 40 it leaves goes to the second in the next round: 10 and 90.
        got = allocation.allocate(100, np.array([10.0, 100.0]), np.array([10.0, 1.0]))
        assert_allclose(got, [10, 90])

    def test_water_filling_three_orders(self):
        # output 60, orders 5, 50, 50 with weights 20, 1, 1 -> claims 100, 50, 50 (total 200):
        # shares 30, 15, 15; the first is capped at 5, leaving 25; round two: claims 50, 50 ->
        # 12.5 each -> 5, 27.5, 27.5.
        got = allocation.allocate(60, np.array([5.0, 50.0, 50.0]), np.array([20.0, 1.0, 1.0]))
        assert_allclose(got, [5, 27.5, 27.5])
        assert got.sum() == pytest.approx(60)

    def test_never_more_than_asked_nor_output(self):
        rng = np.random.default_rng(1)
        for _ in range(200):
            req = rng.uniform(0, 100, 7) * (rng.uniform(size=7) > 0.2)
            w = rng.uniform(0.1, 5, 7)
            out = rng.uniform(0, 400)
            got = allocation.allocate(out, req, w)
            assert np.all(got <= req + 1e-9)
            assert np.all(got >= 0)
            assert got.sum() == pytest.approx(min(out, req.sum()), rel=1e-9, abs=1e-6)


class TestSeniority:
    def test_weights_grow_with_the_months_waited(self):
        # policy weights 1 and 1.5; waited 0, 1 and 3 months at seniority 4: x1, x5, x13
        got = allocation.seniority_weights(np.array([1.0, 1.5, 1.0]), np.array([0, 1, 3]), 4.0)
        assert_allclose(got, [1.0, 7.5, 13.0])
        assert_allclose(allocation.seniority_weights(np.array([1.0, 1.5]), np.array([0, 5]), 0.0), [1.0, 1.5])

    def test_an_earlier_order_is_not_diluted_by_a_later_one(self):
        # 100 units, two orders of 100: pro rata (seniority 0) 50 / 50; the one that has waited a
        # month at seniority 4 claims 5 x 100 against 100: 83.33 / 16.67
        req = np.array([100.0, 100.0])
        assert_allclose(allocation.allocate(100.0, req, allocation.seniority_weights(np.ones(2), [1, 0], 0.0)),
                        [50.0, 50.0])
        assert_allclose(allocation.allocate(100.0, req, allocation.seniority_weights(np.ones(2), [1, 0], 4.0)),
                        [500 / 6, 100 / 6])


class TestAllocateMany:
    def test_rounding_leftovers_go_to_the_largest_remainders(self):
        # 3 units among four orders of 1: 0.75 each, rounded down to 0; the 3 units rounding left
        # go to the first three in the book (equal remainders)
        got = allocation.allocate_many(np.array([3.0]), np.ones(4), np.ones(4), np.array([0, 4]))
        assert got.tolist() == [1.0, 1.0, 1.0, 0.0]

    def test_a_last_unit_is_not_starved(self):
        # an order with 1 unit left beside one of 20,000: with 15,000 units, pro-rata 14,999.25004
        # and 0.74996; rounded down 14,999 and 0, the unit left goes to the larger remainder, the
        # small order's (rounding down alone would never ship it while the big order waits)
        got = allocation.allocate_many(np.array([15_000.0]), np.array([20_000.0, 1.0]), np.ones(2), np.array([0, 2]))
        assert got.tolist() == [14_999.0, 1.0]
        # with 10,000 units: 9,999.50002 and 0.49998: the big order's remainder is larger
        got = allocation.allocate_many(np.array([10_000.0]), np.array([20_000.0, 1.0]), np.ones(2), np.array([0, 2]))
        assert got.tolist() == [10_000.0, 0.0]

    @pytest.mark.parametrize("biggest", [12, 129])
    def test_whole_units_within_each_order_and_output(self, biggest):
        # generations with no orders, no output, scarce and ample output: whole units, never more
        # than asked, all of the output handed out in whole units when it is short
        rng = np.random.default_rng(biggest)
        for _ in range(50):
            sizes = [0, 3, biggest, 1, 9]
            starts = np.cumsum([0] + sizes)
            req = np.floor(rng.uniform(0, 1e5, starts[-1])) + (rng.uniform(size=starts[-1]) < 0.5)
            w = np.where(rng.uniform(size=starts[-1]) < 0.3, 2.5, 1.0)
            outputs = np.array([5.0, 0.0, 0.5, 1.5, 2.0]) * np.array([1.0] + [req[a:b].sum() for a, b in
                                                                              zip(starts[1:-1], starts[2:])])
            got = allocation.allocate_many(outputs, req, w, starts)
            assert (got == np.floor(got)).all() and (got <= req).all() and (got >= 0).all()
            for k, (a, b) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
                assert got[a:b].sum() == min(np.floor(outputs[k]), req[a:b].sum()), k


class TestPolicyWeights:
    # three buyers: a partner building no rival silicon, a non-partner that builds it, and one that is neither
    buyers = [(True, False), (False, True), (False, False)]

    def weights(self, policy):
        return [allocation.policy_weight(policy, p, r, 3.0) for p, r in self.buyers]

    def test_pro_rata(self):
        assert self.weights("pro_rata") == [1, 1, 1]

    def test_partner_priority(self):
        assert self.weights("partner_priority") == [3, 1, 1]

    def test_no_rival_silicon(self):
        # buyers building no competing silicon weigh 3x: the first and the third
        assert self.weights("no_rival_silicon") == [3, 1, 3]

    def test_unknown_policy(self):
        with pytest.raises(ValueError, match="allocation policy"):
            allocation.policy_weight("lottery", True, False, 3.0)


class TestNvidiaPrice:
    # list 100, target 3 months of backlog, sensitivity 0.05, bounds [0.85, 1.25]
    def price(self, backlog, output, target=3.0):
        return allocation.nvidia_price(100.0, backlog, output, target, 0.05, 0.85, 1.25)

    def test_inside_the_bounds(self):
        # backlog 600 / output 100 = 6 months; 1 + 0.05 x (6 - 3) = 1.15
        assert self.price(600, 100) == pytest.approx(115.0)
        # 2 months: 1 - 0.05 = 0.95
        assert self.price(200, 100) == pytest.approx(95.0)

    def test_at_the_target(self):
        assert self.price(300, 100) == pytest.approx(100.0)

    def test_capped(self):
        # 12 months: 1.45 -> capped at 1.25
        assert self.price(1200, 100) == pytest.approx(125.0)

    def test_floored(self):
        # no backlog with a 6-month target: 1 - 0.3 = 0.7 -> floor 0.85
        assert self.price(0, 100, target=6.0) == pytest.approx(85.0)

    def test_exactly_at_the_floor(self):
        # no backlog, 3-month target: 0.85, the floor itself
        assert self.price(0, 100) == pytest.approx(85.0)

    def test_no_output_means_list_price(self):
        assert self.price(5000, 0) == pytest.approx(100.0)


# ============================================================================ pricing


def inputs(full=2.0, cash=1.0, previous=NAN, util=0.85, rival=NAN, cap=INF) -> pricing.PriceInputs:
    return pricing.PriceInputs(full, cash, previous, util, rival, cap)


class TestPricingRules:
    def test_cost_plus(self):
        # 2.00 x 1.5
        assert pricing.cost_plus(inputs(full=2.0), 0.5) == pytest.approx(3.0)

    def test_floor_price(self):
        assert pricing.floor_price(inputs(cash=1.0), 0.1) == pytest.approx(1.1)

    def test_undercut_when_idle(self):
        # utilisation 0.5 < target 0.85: rival 3.00 less 10% = 2.70
        assert pricing.undercut(inputs(previous=3.2, util=0.5, rival=3.0), 0.1, 0.5, 0.85) == pytest.approx(2.7)

    def test_undercut_when_full_holds_its_higher_price(self):
        # full: max(rival 3.00, own 3.20) = 3.20
        assert pricing.undercut(inputs(previous=3.2, util=0.9, rival=3.0), 0.1, 0.5, 0.85) == pytest.approx(3.2)

    def test_undercut_when_full_matches_a_dearer_rival(self):
        assert pricing.undercut(inputs(previous=2.5, util=0.9, rival=3.0), 0.1, 0.5, 0.85) == pytest.approx(3.0)

    def test_undercut_first_price_undercuts(self):
        # no price of its own yet: the rival less the gap
        assert pricing.undercut(inputs(util=0.9, rival=3.0), 0.1, 0.5, 0.85) == pytest.approx(2.7)

    def test_undercut_without_rivals(self):
        # nobody else sells it: cost-plus the first time (2 x 1.5), then hold its price
        assert pricing.undercut(inputs(full=2.0), 0.1, 0.5, 0.85) == pytest.approx(3.0)
        assert pricing.undercut(inputs(full=2.0, previous=2.8), 0.1, 0.5, 0.85) == pytest.approx(2.8)

    def test_utilisation_target_raises_when_full(self):
        # 3.00 x (1 + 0.5 x (0.95 - 0.85)) = 3.15
        assert pricing.utilisation_target(inputs(previous=3.0, util=0.95), 0.85, 0.5, 0.5) == pytest.approx(3.15)

    def test_utilisation_target_cuts_when_idle(self):
        # 3.00 x (1 + 0.5 x (0.45 - 0.85)) = 3.00 x 0.8 = 2.40
        assert pricing.utilisation_target(inputs(previous=3.0, util=0.45), 0.85, 0.5, 0.5) == pytest.approx(2.4)

    def test_utilisation_target_starts_at_cost_plus(self):
        assert pricing.utilisation_target(inputs(full=2.0), 0.85, 0.5, 0.5) == pytest.approx(3.0)

    def test_sticky_inside_the_band_holds(self):
        # target 3.00, previous 2.80: |3/2.8 - 1| = 7.1% < 25%: hold 2.80
        assert pricing.sticky(inputs(full=2.0, previous=2.8), 0.5, 0.25) == pytest.approx(2.8)

    def test_sticky_outside_the_band_reprices(self):
        # target 3.00, previous 2.00: 50% > 25%: reprice to 3.00
        assert pricing.sticky(inputs(full=2.0, previous=2.0), 0.5, 0.25) == pytest.approx(3.0)
        # and downwards: previous 5.00 -> |3/5 - 1| = 40%
        assert pricing.sticky(inputs(full=2.0, previous=5.0), 0.5, 0.25) == pytest.approx(3.0)

    def test_sticky_first_price_is_the_target(self):
        assert pricing.sticky(inputs(full=2.0), 0.5, 0.25) == pytest.approx(3.0)


class TestOnDemand:
    terms = dict(markup=0.5, undercut=0.1, target_utilisation=0.85, step=0.5, sticky_band=0.25, premium=0.4,
                 adjust=0.25, min_margin=0.1, max_markup=np.inf)

    def test_each_strategy_by_name(self):
        inp = inputs(full=2.0, cash=1.0, previous=3.0, util=0.45, rival=2.5)
        assert pricing.on_demand("cost_plus", inp, self.terms) == pytest.approx(3.0)
        assert pricing.on_demand("undercut", inp, self.terms) == pytest.approx(2.25)  # 2.5 x 0.9
        assert pricing.on_demand("utilisation", inp, self.terms) == pytest.approx(2.4)  # 3 x 0.8
        assert pricing.on_demand("sticky", inp, self.terms) == pytest.approx(3.0)  # target 3 = previous
        # a quarter of the way from 3.00 to the rival's 2.50 x 1.4 = 3.50
        assert pricing.on_demand("premium", inp, self.terms) == pytest.approx(3.125)

    def test_premium_alone_or_first(self):
        # nobody else sells it: cost-plus the first time (2 x 1.5), then it holds its price
        assert pricing.on_demand("premium", inputs(full=2.0, cash=1.0), self.terms) == pytest.approx(3.0)
        assert pricing.on_demand("premium", inputs(full=2.0, cash=1.0, previous=4.0), self.terms) == pytest.approx(4.0)
        # first price with a rival: straight to the rival's price x 1.4
        assert pricing.on_demand("premium", inputs(full=2.0, cash=1.0, rival=2.5), self.terms) == pytest.approx(3.5)

    def test_the_scarcity_markup_multiplies_the_strategys_price_within_the_bounds(self):
        inp = inputs(full=2.0, cash=1.0, previous=3.0, util=0.45, rival=2.5)
        assert pricing.on_demand("cost_plus", inp, self.terms, 0.2) == pytest.approx(3.6)  # 3.00 x 1.2
        assert pricing.on_demand("cost_plus", inp, self.terms, -0.5) == pytest.approx(1.5)  # 3.00 x 0.5 > floor 1.1
        assert pricing.on_demand("cost_plus", inp, self.terms, -0.9) == pytest.approx(1.1)  # the floor holds
        capped = dict(self.terms, max_markup=0.6)  # at most full cost x 1.6 = 3.20
        assert pricing.on_demand("cost_plus", inp, capped, 0.2) == pytest.approx(3.2)

    def test_floor(self):
        # cost-plus 0.5 x 1.5 = 0.75 is below cash cost 1.0 x 1.1 = 1.10
        assert pricing.on_demand("cost_plus", inputs(full=0.5, cash=1.0), self.terms) == pytest.approx(1.1)

    def test_value_cap(self):
        # cost-plus 3.00 capped at the generation's value 2.50
        assert pricing.on_demand("cost_plus", inputs(full=2.0, cash=1.0, cap=2.5), self.terms) == pytest.approx(2.5)

    def test_floor_beats_the_value_cap(self):
        # the cap (1.00) is below the floor (1.10): no provider sells below its floor
        assert pricing.on_demand("cost_plus", inputs(full=2.0, cash=1.0, cap=1.0), self.terms) == pytest.approx(1.1)

    def test_unknown_strategy(self):
        with pytest.raises(ValueError, match="pricing strategy"):
            pricing.on_demand("auction", inputs(), self.terms)


class TestNoFasterFall:
    def test_a_list_falls_at_most_max_cut_a_month(self):
        # last month 3.00, at most 10% down: 2.70; a target of 2.00 waits, 2.80 and a rise pass
        got = pricing.no_faster_fall(np.array([2.0, 2.8, 3.5]), np.array([3.0, 3.0, 3.0]), 0.1)
        assert_allclose(got, [2.7, 2.8, 3.5])
        # one limit per provider; 1 is no limit
        assert_allclose(pricing.no_faster_fall(np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([0.25, 1.0])),
                        [1.5, 1.0])

    def test_a_price_never_set_sets_no_limit(self):
        assert_allclose(pricing.no_faster_fall(np.array([2.0, 2.0]), np.array([np.nan, 0.0]), 0.1), [2.0, 2.0])

    @given(st.floats(0.01, 100), st.floats(0.01, 100), st.floats(0, 1))
    def test_never_below_the_limit_nor_the_target(self, price, previous, cut):
        got = float(pricing.no_faster_fall(price, previous, cut))
        assert got >= price and got >= previous * (1 - cut) - 1e-12
        assert got == pytest.approx(max(price, previous * (1 - cut)))


class TestScarcity:
    def test_the_markup_moves_with_the_demand_turned_away_or_the_idle_gap(self):
        # sold out (0.9 >= 0.85) with 40% turned away: +0.1 x 0.4; idle (0.65): -0.1 x 0.2
        got = pricing.scarcity_markup(np.array([0.05, 0.05]), np.array([0.9, 0.65]), 0.4, 0.85, 0.1, 0.3, 0.3)
        assert got == pytest.approx([0.09, 0.03])
        # and stops at its bounds
        assert pricing.scarcity_markup(0.29, 1.0, 1.0, 0.85, 0.1, 0.3, 0.3) == pytest.approx(0.3)
        assert pricing.scarcity_markup(-0.29, 0.0, 0.0, 0.85, 0.1, 0.3, 0.3) == pytest.approx(-0.3)

    @given(st.floats(-0.3, 0.3), st.floats(0, 1), st.floats(0, 1), st.floats(0, 2))
    def test_the_markup_stays_within_its_bounds(self, previous, util, excess, speed):
        got = pricing.scarcity_markup(previous, util, excess, 0.85, speed, 0.3, 0.3)
        assert -0.3 <= got <= 0.3

    def test_demand_an_offer_turns_away(self):
        # two buyers of 100 split evenly between two offers (equal scores): each offer is asked
        # 100; the one with 40 turns away 60, 1.5 per unit of its capacity; the one with 500 none
        idx = np.array([[0, 1], [0, 1]])

        def turned_away(capacity):
            asked = np.zeros(2)
            clearing.clear(np.array([100.0, 100.0]), idx, np.zeros((2, 2)), capacity, asked_first=asked)
            return clearing.turned_away(asked, capacity)

        assert turned_away(np.array([40.0, 500.0])) == pytest.approx([1.5, 0.0])
        # an offer with no capacity is not asked: all goes to the other
        assert turned_away(np.array([0.0, 150.0])) == pytest.approx([0.0, 50.0 / 150.0])


class TestReservedAndSpot:
    def test_discounts(self):
        # od 4.00: reserved 4 x 0.8 = 3.20; spot 4 x (1 - 0.45 - 0.4 x 0.5) = 1.40 (> cash 1.00)
        res, spot = pricing.reserved_and_spot(4.0, 0.2, 0.45, 0.5, 0.4, 1.0)
        assert res == pytest.approx(3.2)
        assert spot == pytest.approx(1.4)

    def test_spot_never_below_cash_cost(self):
        res, spot = pricing.reserved_and_spot(4.0, 0.2, 0.45, 0.5, 0.4, 2.0)
        assert spot == pytest.approx(2.0)

    def test_spot_below_the_reserved_price(self):
        # reserved 4 x 0.5 = 2.00; spot 4.00 undiscounted -> at most 0.95 x 2.00 = 1.90
        res, spot = pricing.reserved_and_spot(4.0, 0.5, 0.0, 0.0, 0.0, 0.5)
        assert res == pytest.approx(2.0)
        assert spot == pytest.approx(1.9)


class TestCosts:
    def test_annuity(self):
        # 1000 at 1% a month over 12 months: 1000 x 0.01 / (1 - 1.01^-12) = 88.8488
        assert pricing.annuity(1000.0, 0.01, 12) == pytest.approx(88.8488, abs=1e-4)

    def test_annuity_edges(self):
        assert pricing.annuity(1200.0, 0.0, 12) == pytest.approx(100.0)
        assert pricing.annuity(1200.0, 0.01, 0) == pytest.approx(1200.0)

    def test_annuity_repays_the_principal(self):
        # the present value of the payments is the principal
        pay = pricing.annuity(50_000.0, 0.008, 60)
        pv = sum(pay / 1.008**k for k in range(1, 61))
        assert pv == pytest.approx(50_000.0)

    def test_cash_cost(self):
        # 1.3 kW x PUE 1.2 x $0.10 = 0.156, + 0.25 site operations
        assert pricing.cash_cost_per_hour(1.3, 1.2, 0.10, 0.25) == pytest.approx(0.406)

    def test_full_cost_per_hour(self):
        # capex 36,000 over 48 months at 0%: 750 a month / 750 hours = 1.00;
        # power 1 kW x 1.5 x 0.10 = 0.15; operations 0.25 -> 1.40
        assert pricing.full_cost_per_hour(36_000, 48, 0.0, 1.0, 1.5, 0.10, 0.25, 750, 0.0) == pytest.approx(1.40)

    def test_full_cost_carries_the_lease_but_the_cash_cost_does_not(self):
        # a 1.3 kW GPU in colocation at $250 per kW a month: 325 a month / 730 h = 0.4452 an hour;
        # over 750 hours 0.4333, added to the full cost (as above, with the GPU's 1.3 kW: power
        # 1.3 x 1.5 x 0.10 = 0.195, so 1.00 + 0.195 + 0.25 + 0.4333 = 1.8783) and not to the cash
        # cost (0.195 + 0.25 = 0.445)
        assert pricing.site_cost_per_hour(1.3, 250.0, 730.0) == pytest.approx(325 / 730)
        assert pricing.full_cost_per_hour(36_000, 48, 0.0, 1.3, 1.5, 0.10, 0.25, 750, 250.0) == pytest.approx(
            1.00 + 0.195 + 0.25 + 325 / 750)
        assert pricing.cash_cost_per_hour(1.3, 1.5, 0.10, 0.25) == pytest.approx(0.445)

    def test_full_cost_with_interest(self):
        # at 12% a year (1% a month) over 12 months: 12,000 -> annuity 1066.19 a month, / 730 h = 1.46053
        got = pricing.full_cost_per_hour(12_000, 12, 0.12, 0.0 + 1e-12, 1.0, 0.0, 0.0, 730, 0.0)
        assert got == pytest.approx(12_000 * 0.01 / (1 - 1.01**-12) / 730)
        assert got == pytest.approx(1.46053, abs=1e-5)


# ============================================================================ clearing


def shares(score, available):
    """Each row's logit shares: its weights over their sum."""
    w = clearing.logit_weights(score, available)
    tot = w.sum(axis=1, keepdims=True)
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


class TestLogitShares:
    def test_softmax(self):
        # scores 0 and ln 3: shares 1/4 and 3/4
        s = shares(np.array([[0.0, math.log(3.0)]]), np.array([[True, True]]))
        assert_allclose(s, [[0.25, 0.75]])

    def test_unavailable_gets_nothing(self):
        s = shares(np.array([[5.0, 0.0, 1.0]]), np.array([[False, True, True]]))
        e = math.exp(-1.0)
        assert_allclose(s, [[0.0, e / (1 + e), 1 / (1 + e)]])

    def test_nothing_available(self):
        s = shares(np.array([[1.0, 2.0]]), np.array([[False, False]]))
        assert_allclose(s, [[0.0, 0.0]])

    def test_large_scores_do_not_overflow(self):
        s = shares(np.array([[1000.0, 1000.0]]), np.array([[True, True]]))
        assert_allclose(s, [[0.5, 0.5]])

    def test_an_unavailable_offer_with_a_huge_score_does_not_overflow(self):
        # exp(1e6 - 0) would be inf (and inf x 0 nan): the unavailable entry is weighed 0 all the same
        w = clearing.logit_weights(np.array([[1e6, 0.0, -1.0]]), np.array([[False, True, True]]))
        assert_allclose(w, [[0.0, 1.0, math.exp(-1.0)]])


class TestClear:
    def test_two_buyers_two_offers_rationed(self):
        # Both buyers want 100 and like both offers equally, so each asks 50 of each.
        # Round 1: offer 0 (capacity 40) is asked 100: fills 40% -> 20 to each buyer; offer 1
        # (capacity 200) fills the 100 asked. Each buyer still wants 30; round 2: only offer 1 has
        # capacity (100 left), asked 60 -> filled. Served: [[20, 80], [20, 80]]; capacity left 0, 40.
        served, left = clearing.clear(np.array([100.0, 100.0]), np.array([[0, 1], [0, 1]]), np.zeros((2, 2)),
                                      np.array([40.0, 200.0]))
        assert_allclose(served, [[20, 80], [20, 80]])
        assert_allclose(left, [0, 40])

    def test_logit_split_when_capacity_is_ample(self):
        # buyer 0 scores offers (ln 3, 0): 75 / 25 of its 100; buyer 1 considers offer 1 then 0
        # with equal scores: 30 / 30 of its 60.
        idx = np.array([[0, 1], [1, 0]])
        score = np.array([[math.log(3.0), 0.0], [0.0, 0.0]])
        served, left = clearing.clear(np.array([100.0, 60.0]), idx, score, np.array([1000.0, 1000.0]))
        assert_allclose(served, [[75, 25], [30, 30]])
        assert_allclose(left, [1000 - 75 - 30, 1000 - 25 - 30])

    def test_one_round_leaves_demand_unmet(self):
        served, left = clearing.clear(np.array([100.0, 100.0]), np.array([[0, 1], [0, 1]]), np.zeros((2, 2)),
                                      np.array([40.0, 200.0]), rounds=1)
        assert_allclose(served, [[20, 50], [20, 50]])
        assert_allclose(left, [0, 100])

    def test_invalid_offers_are_never_served(self):
        served, left = clearing.clear(np.array([50.0]), np.array([[-1, 0]]), np.array([[10.0, 0.0]]),
                                      np.array([100.0]))
        assert_allclose(served, [[0, 50]])
        assert_allclose(left, [50])

    def test_short_capacity_is_shared_by_demand(self):
        # one offer of 30 asked 60 and 30: fill 1/3 -> 20 and 10
        served, left = clearing.clear(np.array([60.0, 30.0]), np.array([[0], [0]]), np.zeros((2, 1)),
                                      np.array([30.0]))
        assert_allclose(served, [[20], [10]])
        assert_allclose(left, [0])

    def test_buyers_served_in_full_leave_the_later_rounds(self):
        # Buyers 0-3 want 10 each of offer 1 only; buyer 4 wants 100 and likes offers 0 and 1
        # equally. Round 1: offer 0 (capacity 40) is asked 50 by buyer 4 and fills 40; offer 1
        # fills 40 + 50. Four of five buyers are done; round 2 (buyer 4 alone, offer 0 closed):
        # its last 10 from offer 1. Capacity left: 0 and 1000 - 40 - 60 = 900.
        idx = np.array([[1, -1]] * 4 + [[0, 1]])
        served, left = clearing.clear(np.array([10.0] * 4 + [100.0]), idx, np.zeros((5, 2)),
                                      np.array([40.0, 1000.0]))
        assert_allclose(served, [[10, 0]] * 4 + [[40, 60]])
        assert_allclose(left, [0, 900])

    def test_a_faint_buyer_left_alone_still_finds_its_open_offer(self):
        # as test_clearing_survives_extreme_logit_scores, with four buyers that leave after round
        # 1: buyer 4 (scores 0 and -2,000) gets offer 0's 10, then its other 90 from offer 1
        idx = np.array([[1, -1]] * 4 + [[0, 1]])
        score = np.array([[0.0, 0.0]] * 4 + [[0.0, -2000.0]])
        served, left = clearing.clear(np.array([10.0] * 4 + [100.0]), idx, score, np.array([10.0, 500.0]))
        assert_allclose(served, [[10, 0]] * 4 + [[10, 90]])
        assert_allclose(left, [0, 370])

    def test_quantity_is_conserved(self):
        rng = np.random.default_rng(7)
        for _ in range(100):
            B, K, n_offers = 9, 3, 5
            demand = rng.uniform(0, 100, B)
            idx = np.stack([rng.choice(n_offers, K, replace=False) for _ in range(B)])
            idx[rng.uniform(size=(B, K)) < 0.15] = -1
            score = rng.normal(size=(B, K))
            cap = rng.uniform(0, 150, n_offers)
            served, left = clearing.clear(demand, idx, score, cap)
            assert np.all(served >= 0)
            assert np.all(served[idx < 0] == 0)
            assert np.all(served.sum(axis=1) <= demand + 1e-9)
            per_offer = np.bincount(idx[idx >= 0], weights=served[idx >= 0], minlength=n_offers)
            assert_allclose(per_offer + left, cap, atol=1e-9)
            assert np.all(left >= 0)


class TestOfferScores:
    def test_scores_match_the_formula(self):
        # offer 0 a GPU offer at $2, offer 1 custom silicon at $1.5, offer 2 unpriced; beta 4
        idx = np.array([[0, 1, 2], [1, -1, 0]])
        price = np.array([2.0, 1.5, 0.0])
        custom = np.array([False, True, False])
        trust = np.array([1.0, 0.5, 0.2])
        switching = np.array([0.2, 0.0])
        trust_value = np.array([0.3, 0.0])
        max_price = np.array([10.0, 1.9])
        terms = clearing.offer_terms(clearing.consideration(idx, custom, trust), switching, trust_value)
        ok, score = clearing.price_scores(terms, price, max_price, 4.0)
        # buyer 0: offer 1 costs 1.5 x 1.2 = 1.8 with its switching cost; offer 2 has no price
        assert_allclose(score[0, 0], -4 * math.log(2.0) + 4 * 0.3 / 2.0)
        assert_allclose(score[0, 1], -4 * math.log(1.8) + 4 * 0.15 / 1.8)
        assert ok[0].tolist() == [0, 1, -1]
        # buyer 1: offer 0 at $2 is above its maximum of $1.9; the empty slot stays empty
        assert ok[1].tolist() == [1, -1, -1]
        assert_allclose(score[1, 0], -4 * math.log(1.5))


class TestPriceResponse:
    def test_constant_elasticity(self):
        # price 2: 100 x (2/1)^-1 = 50; 100 x (2/4)^-1 = 200 (cheaper than quoted); at the
        # reference price, the base; and 100 x (4/1)^-0.5 = 50
        assert_allclose(clearing.price_response(np.array([100.0, 100.0, 80.0]), 2.0, np.array([1.0, 4.0, 2.0]),
                                                np.array([1.0, 1.0, 0.7])), [50.0, 200.0, 80.0])
        assert_allclose(clearing.price_response(np.array([100.0]), 4.0, np.array([1.0]), np.array([0.5])), [50.0])


# ============================================================================ finance


class TestFinance:
    def test_monthly_interest(self):
        # 1.2M at 10% a year: 10,000 a month
        assert finance.monthly_interest(1.2e6, 0.10) == pytest.approx(10_000.0)

    def test_spread(self):
        # 4.5% - 2% x 0.5 + 0.5% x (5 - 3) = 4.5%
        assert finance.spread(0.045, 0.02, 0.5, 5.0, 0.005) == pytest.approx(0.045)
        # below 3x leverage no penalty: 4.5% - 2% = 2.5%
        assert finance.spread(0.045, 0.02, 1.0, 2.0, 0.005) == pytest.approx(0.025)

    def test_spread_never_negative(self):
        assert finance.spread(0.01, 0.05, 1.0, 2.0, 0.005) == 0.0

    def test_borrowing_capacity(self):
        # 0.7 x 100 + 0.4 x 50 - 30 = 60
        assert finance.borrowing_capacity(100.0, 0.7, 50.0, 0.4, 30.0) == pytest.approx(60.0)
        assert finance.borrowing_capacity(100.0, 0.7, 50.0, 0.4, 200.0) == 0.0

    def test_leverage(self):
        assert finance.leverage(100.0, 20.0) == pytest.approx(5.0)
        assert finance.leverage(0.0, -5.0) == 0.0
        assert finance.leverage(100.0, 0.0) == INF
        assert finance.leverage(100.0, -1.0) == INF

    def test_dscr(self):
        assert finance.dscr(30.0, 20.0) == pytest.approx(1.5)
        assert finance.dscr(30.0, 0.0) == INF

    def test_covenants_pass(self):
        # leverage 100 / (5 x 4) = 5 <= 7; DSCR 5 / 4 = 1.25 >= 1.1
        breached, lev, cov = finance.covenant_breached(100.0, 5.0, 4.0, 7.0, 1.1)
        assert not breached
        assert lev == pytest.approx(5.0)
        assert cov == pytest.approx(1.25)

    def test_leverage_covenant_breached(self):
        # leverage 100 / 12 = 8.33 > 7
        breached, lev, cov = finance.covenant_breached(100.0, 3.0, 1.0, 7.0, 1.1)
        assert breached
        assert lev == pytest.approx(100 / 12)
        assert cov == pytest.approx(3.0)

    def test_dscr_covenant_breached(self):
        # leverage 100 / 40 = 2.5 fine, but DSCR 10 / 10 = 1.0 < 1.1
        breached, lev, cov = finance.covenant_breached(100.0, 10.0, 10.0, 7.0, 1.1)
        assert breached
        assert lev == pytest.approx(2.5)
        assert cov == pytest.approx(1.0)

    def test_negative_ebitda_breaches(self):
        breached, lev, _ = finance.covenant_breached(100.0, -1.0, 1.0, 7.0, 0.0)
        assert breached and lev == INF


# ============================================================================ depreciation


class TestLoans:
    @staticmethod
    def _two():
        loans = finance.Loans()
        loans.add(1200.0, 0.02, 12)  # 100 a month
        loans.add(600.0, 0.04, 6)  # 100 a month
        return loans

    def test_service_by_hand(self):
        loans = self._two()
        # base 5%: 1,200 x 7% / 12 + 600 x 9% / 12 = 7 + 4.5; principal 100 + 100
        interest, principal = loans.service(0, 0.05, 0.0, 1.0)
        assert interest == pytest.approx(11.5) and principal == pytest.approx(200.0)
        assert loans.total() == pytest.approx(1600.0) and len(loans) == 2  # 1,100 + 500
        # a restructured borrower (half repayments) with 1% more spread: 1,100 x 8% / 12 + 500 x 10% / 12
        interest, principal = loans.service(0, 0.05, 0.01, 0.5)
        assert interest == pytest.approx(1100 * 0.08 / 12 + 500 * 0.10 / 12) and principal == pytest.approx(100.0)

    def test_paid_off_loans_are_dropped_and_order_kept(self):
        loans = finance.Loans()
        loans.add(100.0, 0.01, 1)  # paid off by the first service
        loans.add(300.0, 0.03, 3)
        for _ in range(9):  # grows its arrays past their first size
            loans.add(10.0, 0.05, 10)
        interest, principal = loans.service(0, 0.0, 0.0, 1.0)
        assert principal == pytest.approx(100.0 + 100.0 + 9 * 1.0)
        assert len(loans) == 10 and loans.spread[0] == 0.03 and loans.principal[0] == pytest.approx(200.0)
        assert interest == pytest.approx(100 * 0.01 / 12 + 300 * 0.03 / 12 + 9 * 10 * 0.05 / 12)

    def test_early_repayment_oldest_first(self):
        loans = self._two()
        loans.service(0, 0.05, 0.0, 1.0)  # 1,100 and 500 left
        assert loans.repay(1150.0) == 0.0
        # the first loan is gone; the second is 450 with its repayment still 100 a month
        assert len(loans) == 1 and loans.principal[0] == pytest.approx(450.0) and loans.monthly[0] == 100.0
        assert loans.repay(1000.0) == pytest.approx(550.0) and len(loans) == 0 and loans.total() == 0.0


class TestDepreciation:
    def test_straight_line(self):
        # 720 over 72 months: 10 a month once installed; the last 4 of a cohort with 716 booked;
        # nothing once 720 is booked, nor before it is installed
        got = depreciation.straight_line(np.full(4, 720.0), np.array([0.0, 700.0, 716.0, 720.0]), 72,
                                         np.array([True, True, True, True]))
        assert_allclose(got, [10, 10, 4, 0])
        assert depreciation.straight_line(np.array([720.0]), np.array([0.0]), 72, np.array([False]))[0] == 0.0

    def test_accumulated(self):
        # not yet installed, half-way, beyond the life
        got = depreciation.accumulated(np.array([720.0, 720.0, 720.0]), 72, np.array([-5, 36, 100]))
        assert_allclose(got, [0, 360, 720])

    def test_straight_line_sums_to_accumulated(self):
        for months in (40, 72, 90):
            booked = np.zeros(1)
            for _ in range(months):
                booked += depreciation.straight_line(np.array([720.0]), booked, 72, np.array([True]))
            assert booked[0] == pytest.approx(depreciation.accumulated(np.array([720.0]), 72, np.array([months]))[0])

    def test_market_value(self):
        # age 24 of 48, residual 20%: 1 - 0.8 x 0.5 = 0.6 -> 600
        assert depreciation.market_value_per_gpu(1000, 24, 48, 0.2, 0, 0.25) == pytest.approx(600.0)
        # two newer generations: x 0.75^2 = 0.5625 -> 337.5
        assert depreciation.market_value_per_gpu(1000, 24, 48, 0.2, 2, 0.25) == pytest.approx(337.5)

    def test_market_value_bounds(self):
        assert depreciation.market_value_per_gpu(1000, 100, 48, 0.2, 0, 0.25) == pytest.approx(200.0)
        assert depreciation.market_value_per_gpu(1000, -3, 48, 0.2, 0, 0.25) == pytest.approx(1000.0)


# ============================================================================ negotiation


class TestNegotiation:
    def test_a_firm_offer_signs_at_its_price_or_not_at_all(self):
        # $3.00 against a ceiling of $3.50 (the buyer opening at $2.10): signed at $3.00, one round;
        # $4.00 is above the ceiling: a walk-away with the reason
        ok = negotiation.firm_offer(3.0, 2.1, 3.5)
        assert ok.signed and ok.price == 3.0 and ok.rounds == [(3.0, 2.1)]
        no = negotiation.firm_offer(4.0, 2.1, 3.5)
        assert not no.signed and no.reason == "$4.00 is above its ceiling"

    def test_exponents_balanced(self):
        assert negotiation.exponents(1.0, 1, 1.0, 0.5) == pytest.approx((1.0, 1.0))

    def test_exponents_tight_market_with_rivals(self):
        # e_s = exp(-1 x (2 - 1)) = 0.3679; e_b = exp(1 x 1 - 0.5 x (3 - 1)) = exp(0) = 1
        e_s, e_b = negotiation.exponents(2.0, 3, 1.0, 0.5)
        assert e_s == pytest.approx(math.exp(-1.0))
        assert e_b == pytest.approx(1.0)

    def test_exponents_clipped(self):
        assert negotiation.exponents(100.0, 1, 1.0, 0.0) == pytest.approx((0.05, 20.0))

    def test_seller_offer_ends(self):
        # opens at the ask (20), ends at the reservation price (10), whatever the exponent
        for e in (0.2, 1.0, 5.0):
            assert negotiation.seller_offer(10.0, 20.0, 0, 4, e) == pytest.approx(20.0)
            assert negotiation.seller_offer(10.0, 20.0, 4, 4, e) == pytest.approx(10.0)

    def test_buyer_bid_ends(self):
        for e in (0.2, 1.0, 5.0):
            assert negotiation.buyer_bid(5.0, 15.0, 0, 4, e) == pytest.approx(5.0)
            assert negotiation.buyer_bid(5.0, 15.0, 4, 4, e) == pytest.approx(15.0)

    def test_concession_speed(self):
        # round 2 of 4: a linear seller (e=1) is half-way: 15; a tough one (e=0.5): 10 + 10 x (1 - 0.25) = 17.5
        assert negotiation.seller_offer(10.0, 20.0, 2, 4, 1.0) == pytest.approx(15.0)
        assert negotiation.seller_offer(10.0, 20.0, 2, 4, 0.5) == pytest.approx(17.5)
        # a conceding buyer (e=2): 5 + 10 x 0.5^0.5 = 12.071
        assert negotiation.buyer_bid(5.0, 15.0, 2, 4, 2.0) == pytest.approx(5 + 10 * math.sqrt(0.5))

    def test_deal_at_the_midpoint(self):
        # linear: seller 20 - 2.5 r, buyer 6 + 2.5 r; they cross when 5 r >= 14: round 3,
        # seller 12.5, buyer 13.5 -> price 13.0
        out = negotiation.negotiate(10.0, 20.0, 6.0, 16.0, 4, 1.0, 1.0)
        assert out.signed
        assert out.price == pytest.approx(13.0)
        assert len(out.rounds) == 4
        assert out.rounds[0] == pytest.approx((20.0, 6.0))
        assert out.rounds[-1] == pytest.approx((12.5, 13.5))

    def test_deal_at_once_when_the_bid_meets_the_ask(self):
        out = negotiation.negotiate(10.0, 12.0, 14.0, 20.0, 4, 1.0, 1.0)
        assert out.signed and out.price == pytest.approx(13.0) and len(out.rounds) == 1

    def test_walk_away_when_ceiling_below_reservation(self):
        out = negotiation.negotiate(10.0, 20.0, 5.0, 9.0, 4, 1.0, 1.0)
        assert not out.signed
        assert math.isnan(out.price)
        assert "ceiling" in out.reason
        assert out.rounds == [(20.0, 5.0)]


# ============================================================================ valuation


class TestValuation:
    def test_constant_growth_is_the_gordon_formula(self):
        # growth at the terminal 3% and margin at its 20% target: revenue 100 grows to 103 next
        # year; FCF = 103 x 0.2 x (1 - 0.25) x (1 - 0.03 / 0.15) = 12.36; at 10%, 12.36 / 0.07
        got = valuation.enterprise_value(100.0, 0.03, 0.2, 0.10, 0.7, 0.03, 0.2, 0.15, 0.25)
        assert float(got) == pytest.approx(12.36 / 0.07)

    def test_two_years_by_hand(self):
        # fade 0: growth 50% in year 1 only, margin at its 10% target from year 1; roc 1, no tax,
        # terminal growth 0, rate 10%: year 1 FCF 150 x 0.1 x (1 - 0.5) = 7.5; year 2 onwards
        # 150 x 0.1 = 15 a year, a perpetuity from year 2 (the ten years then the terminal value)
        got = float(valuation.enterprise_value(100.0, 0.5, 0.1, 0.10, 0.0, 0.0, 0.1, 1.0, 0.0))
        assert got == pytest.approx(7.5 / 1.1 + 15.0 / 0.10 / 1.1)

    @given(st.floats(-0.5, 0.6), st.floats(0.0, 0.5), st.floats(0.0, 1.5), st.floats(0.05, 2.0))
    def test_a_higher_margin_never_lowers_the_value(self, margin, extra, growth, roc):
        # reinvestment scales with the target margin, not today's: a loss never turns the growth
        # charge into a credit (with the margin x (1 - g/roc) form, a loss-maker growing faster
        # than its return on capital was worth more the more it lost)
        lo, hi = (float(valuation.enterprise_value(100.0, growth, m, 0.12, 0.55, 0.03, 0.3, roc, 0.21))
                  for m in (margin, margin + extra))
        assert hi >= lo - 1e-9 * abs(lo)

    def test_a_loss_maker_by_hand(self):
        # fade 0, terminal growth 0: year 1 grows 50% with margin at the target 10% (m_1 = target
        # + (margin - target) x 0); the reinvestment 0.1 x 0.5 / 0.25 = 20% of revenue: FCF 150 x
        # (0.1 - 0.2) = -15; from year 2 no growth, FCF 150 x 0.1 = 15 a year, a perpetuity at 10%
        got = float(valuation.enterprise_value(100.0, 0.5, -0.3, 0.10, 0.0, 0.0, 0.1, 0.25, 0.0))
        assert got == pytest.approx(-15.0 / 1.1 + 15.0 / 0.10 / 1.1)

    def test_the_discount_rate_and_what_moves_it(self):
        # 4% + 2 x 5% = 14%; 5 turns of leverage: +2 x 1%; 2 years of IG backlog counts as 1: -2%
        assert valuation.discount_rate(0.04, 0.05, 2.0, 5.0, 0.01, 2.0, 0.02) == pytest.approx(0.14)
        assert valuation.discount_rate(0.04, 0.05, 2.0, INF, 0.01, 0.0, 0.02) == pytest.approx(0.24)
        # a higher base rate lowers the value of the same cash flows
        lo, hi = (valuation.enterprise_value(100.0, 0.4, 0.1, r, 0.6, 0.03, 0.25, 0.3, 0.21) for r in (0.12, 0.15))
        assert hi < lo

    def test_observed_growth_is_annualised_and_clipped(self):
        # 120 against 100 six months before: (1.2)^2 - 1 = 44% a year
        assert float(valuation.observed_growth(120.0, 100.0, 6)) == pytest.approx(0.44)
        # a collapse is clipped at -50%, a boom at +150%
        assert float(valuation.observed_growth(1.0, 100.0, 12)) == -0.5
        assert float(valuation.observed_growth(400.0, 100.0, 12)) == 1.5

    def test_expectations_adapt_a_share_of_the_gap_each_month(self):
        # expected 100% growth, observed 44%: at speed 0.2 investors move to 100 - 0.2 x 56 = 88.8%
        assert float(valuation.adapt(1.0, 0.44, 0.2)) == pytest.approx(0.888)
        # at speed 0 nothing is learned, at 1 the observation is taken whole
        assert float(valuation.adapt(1.0, 0.44, 0.0)) == 1.0
        assert float(valuation.adapt(1.0, 0.44, 1.0)) == pytest.approx(0.44)

    def test_equity_value(self):
        # (EV 500 - debt 300 + cash 20) x sentiment 1; floored at zero
        assert float(valuation.equity_value(500.0, 1.0, 20.0, 300.0)) == pytest.approx(220.0)
        assert float(valuation.equity_value(500.0, 0.5, 20.0, 3000.0)) == 0.0
        # sentiment moves the share price, not levered by the debt: half the mood, half the value
        assert float(valuation.equity_value(500.0, 0.5, 20.0, 300.0)) == pytest.approx(110.0)

    def test_sentiment(self):
        # 1 + 0.8 x 0.5 + 0.1 = 1.5
        assert valuation.next_sentiment(1.5, 0.8, 0.1) == pytest.approx(1.5)
        # no news: decays towards 1
        assert valuation.next_sentiment(0.5, 0.8, 0.0) == pytest.approx(0.6)
        assert valuation.next_sentiment(0.1, 0.8, -2.0) == pytest.approx(0.05)


def test_clearing_survives_extreme_logit_scores():
    # a buyer that likes offer 0 far more (scores 0 and -2,000: exp(-2,000) underflows to 0) still
    # buys from offer 1 once offer 0 is sold out: 10 of its 100 from offer 0, then 90 from offer 1
    served, left = clearing.clear(np.array([100.0]), np.array([[0, 1]]), np.array([[0.0, -2000.0]]),
                                  np.array([10.0, 500.0]))
    assert np.isfinite(served).all()
    np.testing.assert_allclose(served, [[10.0, 90.0]])
    np.testing.assert_allclose(left, [0.0, 410.0])


def test_annuity_at_a_rate_too_small_to_move_one():
    # (1 + 4.8e-147) == 1 in floating point: the payment is still principal / months, 1000 / 72
    assert pricing.annuity(1000.0, 4.8e-147, 72) == pytest.approx(1000.0 / 72)
    assert np.isfinite(pricing.annuity(np.array([5e4, 6e4]), 1e-300, 60.0)).all()
