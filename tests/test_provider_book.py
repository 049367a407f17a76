"""Whole-market steps of the provider book in compiled passes, held to the numpy statements in
``MarketModel`` bit for bit: rivals' prices and utilisation."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("seed", range(3))
def test_rival_prices_and_utilisation_match_the_numpy_statements(make_model, seed):
    m = make_model(seed=seed)
    pb = m.pbook
    rng = np.random.default_rng(seed)
    for month in range(12):
        m.step()
        # perturb: missing prices, ties, a provider not trading, idle and unpowered fleets
        pb.od[rng.uniform(size=pb.od.shape) < 0.2] = np.nan
        pb.od[:, 0] = pb.od[0, 0]
        pb.running[rng.uniform(size=pb.running.shape) < 0.2] = 0.0
        m.providers[month % pb.n].active = month % 3 != 0
        before = pb.rival_min.copy()
        pb.rival_prices()
        got = pb.rival_min.copy()
        pb.rival_min[:] = before
        m._price_references()
        assert got.tobytes() == pb.rival_min.tobytes(), f"month {m.month}"

        before = pb.util_g.copy()
        util, market = pb.utilisation(m.hours)
        got = pb.util_g.copy()
        pb.util_g[:] = before
        m._utilisation()
        assert got.tobytes() == pb.util_g.tobytes()
        assert util.tolist() == [p.utilisation for p in m.providers] and market == m.utilisation
        m.providers[month % pb.n].active = True


def test_buyers_month_matches_the_numpy_statement(make_model):
    # two runs in step; in each month one takes the buyers' month compiled, the other the numpy
    # statement, with the same market price and training need: same figures and ledger, to the bit
    a, b = make_model(seed=4), make_model(seed=4)
    rng = np.random.default_rng(4)
    for month in range(10):
        a.step()
        b.step()
        t, price = a.month, float(rng.uniform(0.5, 6.0))
        training = rng.uniform(0, 1e6, a.buyers.n) * (rng.uniform(size=a.buyers.n) < 0.2)
        a.buyers.step_month(t, price, training)
        b.buyers.step_month_reference(t, price, training)
        for name in ("inference_eq", "demand_eq", "switching"):
            assert getattr(a.buyers, name).tobytes() == getattr(b.buyers, name).tobytes(), (month, name)
        assert a.ledger.balances.tobytes() == b.ledger.balances.tobytes()


@pytest.mark.parametrize("scenario, seed, keep", [("baseline-2026", 5, False), ("rates-up-300", 1, False),
                                                  ("baseline-2026", 5, True)])
def test_operating_costs_match_the_statement_with_each_providers_methods(make_model, scenario, seed, keep):
    # two runs in step; each month one pays its costs compiled (every provider's loans serviced in
    # one call, the postings too unless the ledger keeps them), the other by the numpy statement
    # and each provider's own loan service
    a, b = make_model(scenario=scenario, seed=seed, keep_ledger=keep), make_model(scenario=scenario, seed=seed)
    original = type(a.pbook).pay_operating
    type(a.pbook).pay_operating = lambda self, t: None  # both stop short of paying, then pay apart
    try:
        for month in range(30):
            a.step()
            b.step()
            if month == 12:  # one restructured, one with a penalty spread and an inactive one
                for m in (a, b):
                    m.providers[1].restructured_until = 20
                    m.providers[2].spread_extra = 0.02
                    m.providers[3].active = False
            original(a.pbook, a.month - 1)
            b.pbook.pay_operating_reference(b.month - 1)
            assert a.ledger.balances.tobytes() == b.ledger.balances.tobytes(), month
            for p, q in zip(a.providers, b.providers, strict=True):
                assert p.service_month == q.service_month and p.loans.n == q.loans.n
                assert p.loans.principal[: p.loans.n].tobytes() == q.loans.principal[: q.loans.n].tobytes()
    finally:
        type(a.pbook).pay_operating = original
    assert sum(p.loans.n for p in a.providers) > 20  # loans were serviced
