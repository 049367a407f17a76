"""The plain-number forms of NVIDIA's month are the numpy statements, to the bit (from the
NVIDIA helper's branch)."""

from __future__ import annotations

import numpy as np
import pytest

from market.agents import nvidia
from market.mechanisms import allocation


def _same(a: float, b: float) -> bool:
    """Equal to the bit (NaN equal to NaN, 0.0 not equal to -0.0)."""
    return np.array(a, dtype=np.float64).tobytes() == np.array(b, dtype=np.float64).tobytes()


def _idle_value_reference(running, hours, sold, res, share):
    idle = np.maximum(0.0, running * hours - sold)
    price = np.nan_to_num(res * share)
    with np.errstate(over="ignore", invalid="ignore"):  # (the infinite prices' largest numbers)
        return float(np.sum(idle * price))


class TestIdleValue:
    def test_equals_the_numpy_statement(self):
        rng = np.random.default_rng(7)
        for G in (3, 8, 10):
            for _ in range(50):
                running = rng.integers(0, 50_000, G).astype(float)
                sold = running * 730.0 * rng.uniform(0.0, 1.3, G)
                res = rng.uniform(0.5, 4.0, G)
                res[rng.random(G) < 0.3] = np.nan
                got = nvidia._idle_value(running.tolist(), 730.0, sold.tolist(), res.tolist(), 0.6)
                assert _same(got, _idle_value_reference(running, 730.0, sold, res, 0.6))

    def test_nan_and_infinities(self):
        running = np.array([1.0, np.nan, 2.0, 3.0, 0.0, 5.0, 6.0, 7.0])
        sold = np.array([0.0, 0.0, 5000.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        for res in (np.array([np.inf, 1.0, 1.0, -np.inf, np.nan, 1.0, 1.0, 1.0]),
                    np.array([1.0, 1.0, 1.0, 1.0, np.nan, 1.0, np.inf, 1.0])):
            got = nvidia._idle_value(running.tolist(), 730.0, sold.tolist(), res.tolist(), 0.5)
            assert _same(got, _idle_value_reference(running, 730.0, sold, res, 0.5))

    def test_nothing_idle(self):
        z = np.zeros(8)
        assert _same(nvidia._idle_value(z.tolist(), 730.0, z.tolist(), [np.nan] * 8, 0.5),
                     _idle_value_reference(z, 730.0, z, np.full(8, np.nan), 0.5))


class TestPolicyWeight:
    partner = np.array([True, False, False, True])
    rival = np.array([False, True, False, True])

    @pytest.mark.parametrize("policy", ["pro_rata", "partner_priority", "no_rival_silicon"])
    @pytest.mark.parametrize("pw", [3.0, 2, 0.5])
    def test_equals_policy_weights(self, policy, pw):
        want = allocation.policy_weights(policy, self.partner, self.rival, pw).tolist()
        got = [allocation.policy_weight(policy, bool(p), bool(r), pw) for p, r in zip(self.partner, self.rival)]
        assert got == want
        assert all(type(x) is float for x in got)

    def test_unknown_policy(self):
        with pytest.raises(ValueError, match="allocation policy"):
            allocation.policy_weight("lottery", True, False, 3.0)


class TestNvidiaPrices:
    def test_equals_nvidia_price_per_generation(self):
        rng = np.random.default_rng(11)
        for _ in range(200):
            G = 9
            lp = rng.uniform(2e4, 6e4, G).tolist()
            backlog = (rng.uniform(0, 2e6, G) * (rng.random(G) < 0.8)).tolist()
            out = (rng.uniform(0, 4e5, G) * (rng.random(G) < 0.6)).tolist()
            nv = (rng.random(G) < 0.7).tolist()
            old = rng.uniform(1e4, 7e4, G).tolist()
            args = (3.0, 0.08, 0.7, 1.6)
            want = [allocation.nvidia_price(lp[g], backlog[g], out[g], *args) if nv[g] else old[g] for g in range(G)]
            assert allocation.nvidia_prices(lp, backlog, out, nv, old, *args) == want


class TestPolicyWeightsOfTheBook:
    def test_weights_follow_the_policy(self, make_model):
        """The weights NVIDIA keeps per buyer are policy_weights of the book, after a switch too."""
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
                assert got == allocation.policy_weights(policy, partner, rival, pw).tolist()
                seen += len(orders)
        assert seen > 0


class TestShipping:
    """``Nvidia._ship`` (deliveries, their financing and NVIDIA's cost of goods in one compiled
    call, handing the rare delivery that needs equity or cannot be paid to ``take_delivery``) and
    ``ProviderBook._build_all`` (MW builds and their financing, likewise) against their
    references (order by order, build by build, with each provider's own methods)."""

    @staticmethod
    def _run(monkeypatch, scenario, seed, months, reference, tight_cash):
        from market.agents.provider import Provider, ProviderBook
        from market.model import MarketModel
        from market.scenario import load_scenario

        if reference:
            monkeypatch.setattr(nvidia.Nvidia, "_ship", nvidia.Nvidia._ship_reference)
            monkeypatch.setattr(ProviderBook, "_build_all", ProviderBook._build_all_reference)
        overrides = {}
        if tight_cash:  # lenders advance little: deliveries borrow to their limit, then raise equity
            # or, for the odd providers, which may not, are cut
            for i in range(8):
                overrides[f"providers.{i}.finance.ltv"] = 0.05
                overrides[f"providers.{i}.finance.contract_ltv"] = 0.05
                overrides[f"providers.{i}.mw_build_cost"] = 4.0e7  # (power is dear: builds run short of cash too)
                if i % 2:
                    overrides[f"providers.{i}.finance.can_raise_equity"] = False
        m = MarketModel(load_scenario(scenario, overrides), seed=seed, keep_ledger=True)
        left = {"equity": 0, "cut": 0, "build": 0}
        raise_equity, take = Provider.raise_equity, Provider.take_delivery

        def counted_equity(self, amount):
            left["equity"] += 1
            return raise_equity(self, amount)

        def counted_take(self, t, g, units, unit_price, lead):
            got = take(self, t, g, units, unit_price, lead)
            left["cut"] += got < units
            return got

        build = Provider.build_mw

        def counted_build(self, t, mw):
            left["build"] += 1
            return build(self, t, mw)

        monkeypatch.setattr(Provider, "build_mw", counted_build)
        monkeypatch.setattr(Provider, "raise_equity", counted_equity)
        monkeypatch.setattr(Provider, "take_delivery", counted_take)
        for _ in range(months):
            m.step()
        monkeypatch.undo()
        # (as Python numbers, whose repr is exact)
        tables = (m.recorder.model_rows, [{k: np.asarray(v).tolist() for k, v in r.items()}
                                          for r in m.recorder.agent_months], m.events_log)
        loans = [(p.loans.n, p.loans.principal[: p.loans.n].tolist(), p.loans.spread[: p.loans.n].tolist())
                 for p in m.providers]
        postings = {k: v.tobytes() for k, v in m.ledger.postings().items()}
        return (m.ledger.balances.tobytes(), m.ledger.capex.tobytes(), postings, loans,
                [o for g in m.nvidia.book for o in [[x[0] and x[0].name, x[1]] for x in g]],
                m.nvidia.backlog.tobytes(), m.nvidia.shipped.tobytes(), repr(tables)), left

    @pytest.mark.parametrize("scenario,seed,tight", [("baseline-2026", 0, False), ("rates-up-300", 1, False),
                                                     ("baseline-2026", 2, True)])
    def test_matches_the_reference(self, monkeypatch, scenario, seed, tight):
        fast, left = self._run(monkeypatch, scenario, seed, 24, False, tight)
        ref, left_ref = self._run(monkeypatch, scenario, seed, 24, True, tight)
        assert fast == ref
        assert left["equity"] == left_ref["equity"] and left["cut"] == left_ref["cut"]
        # the reference builds every MW with build_mw; the compiled path only those it hands back
        assert left_ref["build"] > 50 and left["build"] < left_ref["build"]
        if tight:  # the deliveries and builds handed back to take_delivery and build_mw were exercised
            assert left["equity"] > 0 and left["cut"] > 0 and left["build"] > 0
