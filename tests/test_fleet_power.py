"""Power goes to the GPUs this month's contracts need first, then to the rest of the fleet,
newest generation first (``Provider.power_fleet``)."""

from __future__ import annotations

import numpy as np
import pytest


def test_contracts_are_powered_first(make_model):
    # CoreWeave with power for exactly what its contracts need this month: those GPUs run, and the
    # rest of its fleet stays dark
    m = make_model(months=2)
    p = m.provider_by_name["CoreWeave"]
    need = np.minimum(m.exchange.committed_ahead(p.name, m.month, 0), p.installed)
    assert need.sum() > 0 and p.installed.sum() > need.sum() + 1000
    p.powered_mw = float(need @ m.cat.power_kw) / 1000.0
    p.power_fleet()
    np.testing.assert_allclose(p.running, need, rtol=1e-9, atol=1e-6)


def test_without_contracts_the_newest_generation_runs_first(make_model):
    # no contract needs power this month: the powered kW go to the newest generation first, and
    # only what is left to older ones (worked: kW = newest GPUs x their kW + half the next's)
    m = make_model(months=1)
    p = m.provider_by_name["Lambda"]
    m.exchange._sched[m.exchange._prow[p.name]] = 0.0  # (no contracted need)
    have = np.flatnonzero(p.installed > 0)
    newest_first = [g for g in m.cat.newest_first if g in have]
    assert len(newest_first) >= 2
    g1, g2 = newest_first[:2]
    kw = p.installed[g1] * m.cat.power_kw[g1] + 0.5 * p.installed[g2] * m.cat.power_kw[g2]
    p.powered_mw = kw / 1000.0
    p.power_fleet()
    assert p.running[g1] == p.installed[g1]
    assert p.running[g2] == pytest.approx(0.5 * p.installed[g2])
    assert p.running[[g for g in newest_first[2:]]].sum() == 0.0
