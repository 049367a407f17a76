"""NVIDIA's month: the value of a backstopped provider's idle hours, and the weights of its
order book under each allocation policy."""

from __future__ import annotations

import numpy as np

from market.agents import nvidia


class TestIdleValue:
    def test_by_hand(self):
        # two generations: 10 GPUs running 730 h with 5,000 h sold leaves 2,300 idle hours at
        # 0.5 x $2 = $1; the second has no reserved price (NaN), so its idle hours count nothing
        running, sold = np.array([10.0, 4.0]), np.array([5000.0, 0.0])
        res = np.array([2.0, np.nan])
        assert nvidia._idle_value(running, 730.0, sold, res, 0.5) == 2300.0

    def test_oversold_hours_are_not_negative_idle(self):
        assert nvidia._idle_value(np.array([1.0]), 730.0, np.array([900.0]), np.array([3.0]), 0.5) == 0.0


class TestPolicyWeightsOfTheBook:
    def test_weights_follow_the_policy(self, make_model):
        """The weights NVIDIA keeps per buyer follow the policy of the moment, after a switch too:
        under partner_priority its partners weigh partner_weight and the rest 1; under
        no_rival_silicon the buyers building no rival silicon weigh partner_weight; pro rata, 1."""
        m = make_model(months=4)
        nv = m.nvidia
        pw = nv.spec.partner_weight
        seen = 0
        for policy in ("pro_rata", "partner_priority", "no_rival_silicon", "partner_priority"):
            nv.policy = policy
            for orders in nv.book:
                if not orders:
                    continue
                weights = nv._policy_weights()
                got = [weights[o[0]] if o[0] in weights else nv._policy_weight(o[0]) for o in orders]
                partner = np.array([o[0] is not None and o[0].name in nv.partners for o in orders])
                rival = np.array([o[0] is None or o[0].spec.rival_silicon for o in orders])
                expected = {"pro_rata": np.ones(len(orders)), "partner_priority": np.where(partner, pw, 1.0),
                            "no_rival_silicon": np.where(rival, 1.0, pw)}[policy]
                assert got == expected.tolist()
                seen += len(orders)
        assert seen > 0


