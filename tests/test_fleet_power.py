"""``ProviderBook.power`` (every fleet in one compiled call) must give exactly the running GPUs
and cash buffers that ``Provider._power_fleet`` (one provider, the rule as Python) gives."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("seed", range(3))
def test_matches_one_provider_at_a_time(make_model, seed):
    m = make_model(seed=seed)
    pb = m.pbook
    rng = np.random.default_rng(seed)
    tight = 0
    for _ in range(12):
        m.step()
        t = m.month
        # perturb what the rule reads: power from scarce to ample, and fleets
        for p in m.providers:
            p.powered_mw *= rng.uniform(0.3, 1.5)
        pb.installed[:] = np.where(rng.uniform(size=pb.installed.shape) < 0.2, 0.0, pb.installed)
        pb.power(t)
        batch = pb.running.copy(), [p.cash_buffer() for p in m.providers]
        pb.running[:] = -1.0
        for p in m.providers:
            p._power_fleet()
        assert batch[0].tobytes() == pb.running.tobytes(), f"month {t}"
        assert batch[1] == [p.cash_buffer() for p in m.providers]
        tight += int((pb.running.sum(axis=1) < pb.installed.sum(axis=1) - 1).sum())
    assert tight > 5  # power ran short for some fleets: the newest-first rule was exercised


def test_contracts_are_powered_first(make_model):
    # CoreWeave with power for exactly what its contracts need this month: those GPUs run, and the
    # rest of its fleet stays dark
    m = make_model(months=2)
    p = m.provider_by_name["CoreWeave"]
    need = np.minimum(m.exchange.committed_ahead(p.name, m.month, 0), p.installed)
    assert need.sum() > 0 and p.installed.sum() > need.sum() + 1000
    p.powered_mw = float(need @ m.cat.power_kw) / 1000.0
    m.pbook.power(m.month)
    np.testing.assert_allclose(p.running, need, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_fleet_values_match_each_providers_own(make_model, seed):
    # ``ProviderBook.fleet_values`` (every fleet's market value in one compiled pass) must give, to
    # the bit, what ``Provider.fleet_market_value`` works out for itself from its aggregates, also
    # when cohorts have aged past the economic life and after a fire sale changed the cohorts
    m = make_model(seed=seed)
    pb = m.pbook
    rng = np.random.default_rng(seed)
    checked = 0
    for month in range(18):
        m.step()
        t = m.month
        if month % 6 == 5:  # a fleet loses some cohorts, as in a sale
            p = m.providers[int(rng.integers(len(m.providers)))]
            p.keep_cohorts(rng.uniform(size=p._nc) < 0.7)
        pb.fleet_values(t)
        batch = [p.fleet_market_value() for p in m.providers]
        for p in m.providers:
            p._mv_key = None
        own = [p.fleet_market_value() for p in m.providers]
        assert batch == own, f"month {t}"
        checked += sum(v > 0 for v in own)
    assert checked > 100  # real fleets were valued, not empty ones
