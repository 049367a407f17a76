"""A hyperscaler's cloud is a segment of a larger company (``finance.parent_funded``): its parent
pays in what its spending needs, so it carries no segment debt and cannot breach or default."""

from __future__ import annotations

import pytest

from market.ledger import Acct
from market.model import MarketModel
from market.scenario import load_scenario


@pytest.fixture(scope="module")
def model():
    m = MarketModel(load_scenario("baseline-2026"), seed=0)
    m.step()
    return m


def _paid_in(m, p) -> float:
    return -float(m.ledger.balances[p.eid, Acct.PAID_IN])


def test_the_parent_pays_in_exactly_what_a_payment_needs_beyond_cash_and_buffer(model):
    m = model
    p = m.provider_by_name["Azure"]
    assert p.spec.finance.parent_funded
    cash, paid_in, debt = p.cash(), _paid_in(m, p), p.debt()
    amount = cash + 5e9  # more than it holds
    assert p.ensure_cash(amount) == amount
    # need = amount + buffer - cash: paid in as equity, no loan taken
    assert _paid_in(m, p) - paid_in == pytest.approx(amount + p._buffer - cash, rel=1e-12)
    assert p.debt() == debt == 0.0
    assert p.cash() == pytest.approx(amount + p._buffer, rel=1e-12)


def test_a_neocloud_borrows_instead(model):
    m = model
    p = m.provider_by_name["CoreWeave"]
    assert not p.spec.finance.parent_funded
    debt = p.debt()
    p.ensure_cash(p.cash() + 1e9)
    assert p.debt() > debt


@pytest.mark.parametrize("overrides", [[], ["market.base_rate=0.08"]])
def test_no_hyperscaler_borrows_breaches_or_defaults_over_five_years(overrides):
    m = MarketModel(load_scenario("baseline-2026", ["market.months=60", *overrides]), seed=0)
    hyp = [p for p in m.providers if p.kind == "hyperscaler"]
    for _ in range(60):
        m.step()
        assert all(p.debt() == 0.0 and not p.defaulted and p.cash() >= 0.0 for p in hyp)
    names = {p.name for p in hyp}
    distress = [e for e in m.events_log if e["kind"] in ("covenant_breach", "fire_sale", "default")
                and names & set(e["agents"])]
    assert distress == []
