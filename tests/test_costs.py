"""Full costs, taxes, capital return and debt tranches (issue 14): each rule against numbers
worked by hand, and the run's books against stated identities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.ledger import Acct
from market.mechanisms import finance
from market.model import MarketModel
from market.scenario import load_scenario


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline-2026")


# ---------------------------------------------------------------- income tax


def test_income_tax_uses_the_losses_carried_forward_first():
    # profit 100 with 40 of losses: 60 taxed at 21% = 12.6, no losses left; a loss of 50 adds to
    # the losses; profit 30 against 100 of losses: none taxed, 70 left
    tax, left = finance.income_tax(np.array([100.0, -50.0, 30.0]), np.array([40.0, 0.0, 100.0]),
                                   np.array([0.21, 0.21, 0.21]))
    assert tax == pytest.approx([12.6, 0.0, 0.0])
    assert left == pytest.approx([0.0, 50.0, 70.0])


def test_taxes_over_a_run_are_the_rate_times_the_profit_beyond_the_losses(baseline):
    """Summing the rule over the months: tax paid = rate x (pre-tax profit - opening losses +
    losses left), for NVIDIA and every provider (each month's taxed profit is its gain less the
    losses used, and the losses used are the opening losses plus the new ones less what is left)."""
    m = MarketModel(baseline, seed=0)
    opening = m.tax_losses.copy()
    m.run(24)
    am = m.recorder.agent_months
    for eid in [m.nvidia.eid] + [p.eid for p in m.providers]:
        tax = sum(float(r["income_tax"][eid]) for r in am)
        pre_tax = sum(float(r["net_income"][eid] + r["income_tax"][eid]) for r in am)
        expected = m.tax_rate[eid] * (pre_tax - opening[eid] + m.tax_losses[eid])
        assert tax == pytest.approx(expected, rel=1e-9, abs=1.0), m.ledger.names[eid]
    assert sum(float(r["income_tax"][m.nvidia.eid]) for r in am) > 0
    cw = m.provider_by_name["CoreWeave"]
    assert opening[cw.eid] == pytest.approx(3.0e9)  # (its losses carried forward at the start)


# ---------------------------------------------------------------- provider costs


def test_leases_sga_and_stock_compensation_in_the_first_month(baseline):
    """CoreWeave, month 0: 620 MW powered x 1,000 kW x $250 = $155M of leases, whatever is sold;
    SG&A $120M + 4% of the month's revenue; stock-based compensation 7% of it, in new shares
    (paid-in capital, no cash)."""
    m = MarketModel(baseline, seed=0)
    cw = m.provider_by_name["CoreWeave"]
    m.step()
    r = m.recorder.agent_months[0]
    e = cw.eid
    revenue = float(r["revenue"][e])
    assert float(r["lease_expense"][e]) == pytest.approx(620 * 1000 * 250.0)
    assert float(r["sbc_expense"][e]) == pytest.approx(0.07 * revenue)
    assert float(r["opex"][e]) == pytest.approx(1.2e8 + 0.04 * revenue)


def test_a_lease_is_owed_when_the_gpus_sit_idle(baseline):
    """With no demand at all, a neocloud sells nothing and still owes its leases in full."""
    scn = baseline.model_copy(deep=True)
    for b in scn.buyers:
        b.inference_demand = 0.0
        b.training = None
        b.requests = []
        b.contracts = []
        b.reserve_share = 0.0
    m = MarketModel(scn, seed=0)
    lam = m.provider_by_name["Lambda"]
    m.step()
    r = m.recorder.agent_months[0]
    assert float(r["revenue"][lam.eid]) == 0.0
    assert float(r["lease_expense"][lam.eid]) == pytest.approx(lam.powered_mw * 1000 * lam.spec.lease_per_kw_month)
    assert float(r["lease_expense"][lam.eid]) > 0


def test_stock_compensation_moves_no_cash(baseline):
    """Doubling sbc_share changes net income by the extra compensation and cash by nothing (in
    the first month, before the lower income can change any decision)."""
    runs = []
    for share in (0.07, 0.14):
        scn = baseline.model_copy(deep=True)
        next(p for p in scn.providers if p.name == "CoreWeave").sbc_share = share
        m = MarketModel(scn, seed=0)
        m.step()
        runs.append((m, m.provider_by_name["CoreWeave"].eid))
    (a, e), (b, _) = runs
    ra, rb = a.recorder.agent_months[0], b.recorder.agent_months[0]
    assert float(rb["sbc_expense"][e]) == pytest.approx(2 * float(ra["sbc_expense"][e]))
    assert float(ra["net_income"][e] - rb["net_income"][e]) == pytest.approx(float(ra["sbc_expense"][e]))
    assert float(rb["cash"][e]) == float(ra["cash"][e])


# ---------------------------------------------------------------- NVIDIA


def test_nvidia_returns_half_its_net_income_while_cash_is_above_its_floor(baseline):
    m = MarketModel(baseline, seed=0)
    nv = m.nvidia
    for _ in range(3):
        before = m.ledger.balances[nv.eid, Acct.PAID_IN]
        m.step()
        returned = m.ledger.balances[nv.eid, Acct.PAID_IN] - before  # (a debit: paid-in capital falls)
        ni = float(m.recorder.agent_months[-1]["net_income"][nv.eid])
        assert ni > 0 and m.ledger.balances[nv.eid, Acct.CASH] > nv.spec.min_cash
        assert returned == pytest.approx(0.5 * ni)


def test_nvidia_pays_research_on_its_revenue(baseline):
    m = MarketModel(baseline, seed=0)
    m.step()
    r = m.recorder.agent_months[0]
    e = m.nvidia.eid
    assert float(r["opex"][e]) == pytest.approx(5.0e8 + 0.07 * float(r["revenue"][e]))


# ---------------------------------------------------------------- debt tranches


def test_a_fixed_coupon_keeps_its_rate_and_a_floating_loan_reprices():
    loans = finance.Loans()
    loans.add(1200.0, 0.05, 12)  # floating, amortising: 100 a month
    loans.add(600.0, 0.0, 0, coupon=0.09, due=5)  # a bullet note at 9%
    assert loans.rates(0.04, 0.0) == pytest.approx([0.09, 0.09])
    assert loans.rates(0.07, 0.01) == pytest.approx([0.13, 0.09])  # +300 bp base, +100 bp spread
    # month 0 at a 7% base: 1200 x 13%/12 = 13 and 600 x 9%/12 = 4.5 of interest; 100 of principal
    interest, principal = loans.service(0, 0.07, 0.01, 1.0)
    assert interest == pytest.approx(1200 * 0.13 / 12 + 600 * 0.09 / 12)
    assert principal == pytest.approx(100.0)
    # the bullet is due in month 5: all of it is principal that month
    for t in range(1, 5):
        loans.service(t, 0.07, 0.0, 1.0)
    assert loans.maturing(5) == pytest.approx(600.0)
    _, principal = loans.service(5, 0.07, 0.0, 1.0)
    assert principal == pytest.approx(100.0 + 600.0) and loans.total() == pytest.approx(1200 - 600)


def test_a_bullet_refinanced_at_maturity_pays_the_new_rate():
    loans = finance.Loans()
    loans.add(600.0, 0.0, 0, coupon=0.0175, due=3)  # a convert at 1.75%
    loans.refinance(3, 400.0, 0.06, 48)  # lenders roll 400 of it at today's 6% spread
    assert loans.total() == pytest.approx(600.0)  # (nothing repaid yet: 200 is still due)
    assert loans.maturing(3) == pytest.approx(200.0)
    assert loans.rates(0.05, 0.0) == pytest.approx([0.0175, 0.11])
    _, principal = loans.service(3, 0.05, 0.0, 1.0)
    assert principal == pytest.approx(200.0 + 400.0 / 48)


def test_nebius_converts_falling_due_are_refinanced_in_the_run(baseline):
    """Nebius's $4B of converts, moved to fall due in month 2: lenders roll what they would
    advance again at its spread of the day, the rest is repaid, and the event says so."""
    m = MarketModel(baseline, seed=0)
    neb = m.provider_by_name["Nebius"]
    neb.loans.due[:] = np.where(np.isnan(neb.loans.coupon), neb.loans.due, 2)
    m.step()
    m.step()
    m.step()
    ev = [e for e in m.events_log if e["kind"] == "refinancing" and e["agents"] == ["Nebius"]]
    assert len(ev) == 1 and ev[0]["month"] == 2
    assert np.isnan(neb.loans.coupon).all()  # no fixed coupon is left: what was rolled floats
    assert "refinances $" in ev[0]["text"] and not any(math.isclose(r, 0.025) for r in neb.loans.rates(m.base_rate, 0.0))


# ---------------------------------------------------------------- the data centre in full cost


def test_site_cost_is_the_lease_plus_the_build_cost_recovered_over_the_infrastructure_life(baseline):
    """Lambda: $220 a kW a month of colocation, plus $12M a MW ($12,000 a kW) recovered over 20
    years (240 months) at its borrowing rate r: 12,000 x i / (1 - (1 + i)^-240), i = r / 12. A
    hyperscaler leases nothing: its site cost is the annuity alone."""
    m = MarketModel(baseline, seed=0)
    m.step()
    pb = m.pbook
    for name, lease, per_kw in (("Lambda", 220.0, 12_000.0), ("AWS", 0.0, 13_000.0)):
        row = m.provider_by_name[name].row
        assert m.provider_by_name[name].spec.lease_per_kw_month == lease
        assert m.provider_by_name[name].spec.mw_build_cost == per_kw * 1000
        r = float(pb.rates()[row])
        i = r / 12.0
        by_hand = lease + per_kw * i / (1.0 - (1.0 + i) ** -240)
        got = float(pb.site_per_kw_month(np.array([row]), np.array([r]))[0])
        assert got == pytest.approx(by_hand, rel=1e-12)


def test_the_site_is_in_list_prices_not_in_the_contract_walk_away_price(baseline):
    """Doubling Lambda's colocation fee raises its cost-plus B200 list price (its newest, so no
    newer generation caps it) by 1 + markup, times 1 + its scarcity markup, times the extra fee
    per GPU-hour (1.55 x 1.04 x 1.6 kW x $220 / 730 h = $0.78), and leaves the reservation price it
    quotes contracts at the same: the site is owed whether or not a deal signs. (Its lenders'
    leverage penalty is set to 0 in both runs, so that the dearer books do not move its rate and
    with it the capital part of its cost.)"""
    cheap = baseline.model_copy(deep=True)
    next(p for p in cheap.providers if p.name == "Lambda").finance.leverage_penalty = 0.0
    dear = cheap.model_copy(deep=True)
    lam_spec = next(p for p in dear.providers if p.name == "Lambda")
    lam_spec.lease_per_kw_month *= 2
    runs = [MarketModel(s, seed=0) for s in (cheap, dear)]
    rows = [m.provider_by_name["Lambda"].row for m in runs]
    g = runs[0].cat.index["B200"]
    res = [float(m.exchange.reservation_price(np.array([row]), g, 24)[0]) for m, row in zip(runs, rows, strict=True)]
    assert res[0] == pytest.approx(res[1], rel=1e-12)
    # month 1 is the first that the strategy sets (month 0 posts the scenario's initial prices)
    for m in runs:
        m.step()
        m.step()
    scarcity = [float(m.pbook.scarcity[row, g]) for m, row in zip(runs, rows, strict=True)]
    assert scarcity[0] == pytest.approx(scarcity[1], rel=1e-9)  # (the same full market in both)
    od = [float(m.pbook.od[row, g]) for m, row in zip(runs, rows, strict=True)]
    extra = (1 + lam_spec.pricing.markup) * (1 + scarcity[0]) * float(runs[0].cat.power_kw[g]) * 220.0 / runs[0].hours
    assert od[1] - od[0] == pytest.approx(extra, rel=1e-9)


def test_building_in_house_counts_a_site(baseline):
    """Meta AI's ceiling for GB300s to train on, set by building in-house (cheaper than spot or
    waiting), is (in-house cost) x (1 + its ceiling markup of 0.35): a $95-a-kW site adds 1.35 x
    the GPU's kW x 95 / 730 h ($0.35 at GB300's 2.0 kW)."""
    free = baseline.model_copy(deep=True)
    free.negotiation.build_site_per_kw_month = 0.0
    ceilings = []
    for s in (baseline, free):
        m = MarketModel(s, seed=0)
        g = m.cat.index["GB300"]
        ceilings.append(m.exchange.buyer_ceiling("Meta AI", g, "training", 0))
    assert [c[1] for c in ceilings] == ["in-house", "in-house"]
    kw = float(m.cat.power_kw[g])
    assert ceilings[0][0] - ceilings[1][0] == pytest.approx(1.35 * kw * 95 / 730, rel=1e-9)
