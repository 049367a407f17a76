"""Buyers with finite money: funding rounds, default on contracts, the capped termination fee
and credit by health (docs/model.md, "Buyers with finite money"). Expected figures by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mini_scenario import MINI

from market.ledger import Acct
from market.mechanisms import funding
from market.model import MarketModel
from market.scenario import load_scenario

HOURS = 730.0  # the default hours per month
BILL = 1000 * HOURS * 2.0  # the mini lab's contract: 1000 GPUs at $2 an hour, a month


def mini(tmp_path, cash: float, extra: str = ""):
    text = MINI.replace('name = "Lab"\nkind = "lab"\ncash = 1e9', f'name = "Lab"\nkind = "lab"\ncash = {cash!r}' + extra)
    assert text != MINI
    path = tmp_path / "mini.toml"
    path.write_text(text)
    return MarketModel(load_scenario(str(path)), seed=0)


# ---------------------------------------------------------------------------- the rules by hand


def test_runway_is_cash_over_burn_and_infinite_without_burn():
    assert funding.runway(np.array([90.0, 10.0]), np.array([10.0, 0.0])).tolist() == [9.0, np.inf]


def test_a_round_is_raised_short_of_runway_and_sized_by_appetite_burn_and_score():
    # cash 50, burn 10: runway 5 < 9, raises; appetite 20 > burn; growth 0.5, weight 1: score 1.5
    need, ok, size = funding.funding_round(np.array([50.0, 500.0, 50.0, 50.0]), np.array([10.0, 10.0, 10.0, 30.0]),
                                           np.array([20.0, 20.0, 20.0, 20.0]), np.array([1.0, 1.0, 0.2, 1.0]),
                                           np.array([0.5, 0.5, 0.5, 0.0]), 9.0, 18.0, 1.0, 0.5)
    assert need.tolist() == [True, False, True, True]  # 500 / 10 = 50 months: no round
    assert ok.tolist() == [True, False, False, True]  # sentiment 0.2 x 1.5 = 0.3 < 0.5: it fails
    assert size[0] == pytest.approx(18 * 20 * 1.5)
    assert size[3] == pytest.approx(18 * 30 * 1.0)  # its burn, 30, is more than its appetite
    assert size[1] == size[2] == 0.0


def test_no_investors_no_round():
    need, ok, size = funding.funding_round(np.array([1.0]), np.array([10.0]), np.array([0.0]), np.array([1.0]),
                                           np.array([0.0]), 9.0, 18.0, 1.0, 0.5)
    assert not need[0] and not ok[0] and size[0] == 0


def test_credit_health_is_runway_over_its_threshold_and_nothing_after_a_failed_round():
    h = funding.credit_health(np.array([45.0, 900.0, 900.0, 5.0]), np.array([10.0, 10.0, 10.0, 0.0]), 9.0,
                              np.array([False, False, True, False]))
    assert h.tolist() == pytest.approx([0.5, 1.0, 0.0, 1.0])


def test_the_termination_fee_is_paid_from_prepayment_then_cash_as_far_as_it_goes():
    assert funding.capped_fee(100.0, 30.0, 50.0) == pytest.approx((30.0, 50.0, 20.0))
    assert funding.capped_fee(100.0, 0.0, 500.0) == pytest.approx((0.0, 100.0, 0.0))
    assert funding.capped_fee(100.0, 0.0, -5.0) == pytest.approx((0.0, 0.0, 100.0))


# ---------------------------------------------------------------------------- in a model


def test_a_capped_fee_pays_the_buyers_cash_and_names_the_loss(tmp_path):
    m = mini(tmp_path, 1e9)
    ex = m.exchange
    (c,) = ex.by_buyer["Lab"]
    lab = m.agent_by_name["Lab"]
    cash = 1e6
    m.ledger.balances[lab.eid, Acct.CASH] = cash  # (the test sets the buyer's cash below the fee)
    fee = 0.3 * c.remaining_value()
    assert fee > cash
    seller = m.provider_by_name["Cloudy"]
    before = m.ledger.cash(seller.eid)
    ex.default_buyer("Lab", 0, "test")
    assert m.ledger.cash(lab.eid) == pytest.approx(0.0)
    assert m.ledger.cash(seller.eid) - before == pytest.approx(cash)
    assert ex.unpaid_fees == pytest.approx(fee - cash)
    (e,) = [e for e in m.events_log if e["kind"] == "buyer_default"]
    assert e["fee_owed"] == pytest.approx(fee) and e["fee_paid"] == pytest.approx(cash)
    assert c.status == "defaulted"


def test_a_buyer_that_cannot_pay_its_bill_defaults_and_the_sellers_revenue_stops(tmp_path):
    m = mini(tmp_path, 0.5 * BILL)  # half a month's bill, no investors, no revenue
    seller = m.provider_by_name["Cloudy"].eid
    m.step()
    (c,) = m.exchange.by_buyer["Lab"]
    assert c.status == "defaulted"
    assert m.ledger.cash(m.agent_by_name["Lab"].eid) == pytest.approx(0.0, abs=1e-6)
    rev0 = m.ledger.balances[seller, Acct.REVENUE]
    assert -rev0 == pytest.approx(0.5 * BILL)  # it got what the buyer could pay, no more
    assert m.buyers.rescued == 0.0
    m.step()
    assert m.ledger.balances[seller, Acct.REVENUE] == pytest.approx(rev0)  # nothing billed after the default
    assert abs(m.ledger.balances.sum(axis=1)).max() < 1e-3  # each entity: debits = credits
    assert any(e["kind"] == "buyer_default" and e["month"] == 0 for e in m.events_log)


def test_a_lab_short_of_runway_raises_a_round(tmp_path):
    m = mini(tmp_path, 3 * BILL, "\nfunding_per_month = 1e7")
    m.run(3)
    rounds = [e for e in m.events_log if e["kind"] == "funding_round"]
    assert rounds and rounds[0]["amount"] >= 18 * 1e7  # 18 months of appetite, score at least 1
    assert m.exchange.by_buyer["Lab"][0].status == "active"


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(cash=st.floats(0.0, 5 * BILL), appetite=st.sampled_from([0.0, 1e6, 1e7]), months=st.integers(1, 3))
def test_buyer_cash_never_falls_below_zero_and_no_rescue(tmp_path_factory, cash, appetite, months):
    m = mini(tmp_path_factory.mktemp("c"), cash, f"\nfunding_per_month = {appetite!r}")
    for _ in range(months):
        m.step()
        assert (m.ledger.balances[m.buyers.eids, Acct.CASH] >= -1e-6).all()
    assert m.buyers.rescued == 0.0


def test_baseline_never_needs_the_last_resort():
    m = MarketModel(load_scenario("baseline-2026"), seed=0)
    m.run(12)
    assert m.buyers.rescued == 0.0
    assert not m.buyers.defaulted.any()
