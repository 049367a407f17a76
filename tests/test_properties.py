"""Accounting and market identities that must hold for every seed and every admissible scenario.

Hypothesis draws seeds and scenario parameters (as ``--set``-style overrides of baseline-2026)
and runs 6-12 months; every identity is checked for every agent and month. A second test draws
30 numeric fields and four shock events over wide ranges and runs 36 months, checking that every
figure is finite, the books balance, cash is conserved and stocks are not negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.ledger import Acct
from market.model import MarketModel
from market.scenario import bundled_paths, load_scenario

PROVIDER_KINDS = ("neocloud", "hyperscaler")
RTOL = 1e-9

SETTINGS = settings(max_examples=25, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def runs(draw):
    overrides = {
        "market.base_rate": draw(st.floats(0.0, 0.15)),
        "market.logit_beta": draw(st.floats(0.5, 20.0)),
        "negotiation.prepay_share": draw(st.floats(0.0, 1.0)),
        "nvidia.allocation": draw(st.sampled_from(["pro_rata", "partner_priority", "no_rival_silicon"])),
        "providers.CoreWeave.debt": draw(st.floats(0.0, 8e10)),
    }
    if draw(st.booleans()):
        # a tight covenant drives CoreWeave through restructuring, fire sale and default
        overrides["providers.CoreWeave.finance.max_leverage"] = draw(st.floats(0.01, 10.0))
    seed = draw(st.integers(0, 2**32 - 1))
    months = draw(st.integers(6, 12))
    return overrides, seed, months


def build(overrides: dict, seed: int, months: int, scenario: str = "baseline-2026", keep: bool = False):
    model = MarketModel(load_scenario(scenario, overrides), seed=seed, keep_ledger=keep)
    opening = model.ledger.balances.copy()  # after the opening books, before month 0
    for _ in range(months):
        model.step()
    return model, opening


def close(a, b, scale) -> np.ndarray:
    return np.abs(np.asarray(a, float) - np.asarray(b, float)) <= RTOL * np.maximum(scale, 1.0)


def assert_identities(model: MarketModel, opening: np.ndarray) -> None:
    a = pd.DataFrame(model.recorder.agent_table())
    n_months = model.month
    assert len(a) == n_months * model.n_agents

    # the balance sheet balances, row by row
    scale = a[["total_assets", "liabilities", "equity_book"]].abs().max(axis=1)
    ok = close(a.total_assets, a.liabilities + a.equity_book, scale)
    assert ok.all(), a.loc[~ok, ["month", "agent", "total_assets", "liabilities", "equity_book"]]

    # each entity's accounts sum to zero (double entry), and cash is conserved across all entities
    b = model.ledger.balances
    row_scale = np.abs(b).max(axis=1)
    assert close(b.sum(axis=1), 0.0, row_scale).all()
    cash_scale = np.abs(b[:, Acct.CASH]).sum()
    assert abs(b[:, Acct.CASH].sum() - opening[:, Acct.CASH].sum()) <= RTOL * cash_scale

    # net income is revenue and other income less every expense
    ni = (a.revenue + a.other_income - a.cost_of_revenue - a.depreciation - a.interest_expense - a.opex
          - a.compute_expense - a.other_expense - a.lease_expense - a.sbc_expense - a.income_tax)
    flow_scale = a[["revenue", "other_income", "cost_of_revenue", "depreciation", "interest_expense", "opex",
                    "compute_expense", "other_expense", "lease_expense", "sbc_expense",
                    "income_tax"]].abs().sum(axis=1)
    ok = close(a.net_income, ni, flow_scale)
    assert ok.all(), a.loc[~ok, ["month", "agent", "net_income"]]

    # market shares: providers' shares sum to one whenever there is compute revenue; others have none
    prov = a.kind.isin(PROVIDER_KINDS)
    assert (a.loc[~prov, "market_share"] == 0).all()
    assert a.market_share.between(0.0, 1.0 + 1e-12).all()
    for month, g in a[prov].groupby("month"):
        if g.revenue.sum() > 0:
            assert g.market_share.sum() == pytest.approx(1.0, abs=1e-9), month

    # backlog and concentration
    assert (a.backlog >= 0).all()
    assert a.top_customer_share.between(0.0, 1.0 + 1e-12).all()
    assert (a.loc[a.backlog == 0, "top_customer_share"] == 0).all()
    # utilisation, fleets and flags
    assert a.utilization.between(0.0, 1.0 + 1e-9).all(), a.loc[a.utilization > 1, ["month", "agent", "utilization"]]
    assert (a.gpus_installed >= 0).all()
    assert (a.capex >= 0).all()
    assert (a.loc[a.defaulted, "kind"].isin(PROVIDER_KINDS)).all()

    # every provider's loans add up to the debt on its books
    for p in model.providers:
        loans = p.loans.total()
        assert loans == pytest.approx(p.debt(), rel=1e-9, abs=1.0), p.name

    # unearned prepayments: the contracts' prepaid_left is on the buyer's PREPAID and the seller's
    # DEFERRED_REVENUE, whatever happened to the contracts (served, cancelled, reassigned)
    prepaid, deferred = np.zeros(len(model.ledger.names)), np.zeros(len(model.ledger.names))
    for c in model.exchange.contracts:
        prepaid[model.ledger.index[c.buyer]] += c.prepaid_left
        deferred[model.ledger.index[c.seller]] += c.prepaid_left
    assert np.allclose(b[:, Acct.PREPAID], prepaid, rtol=1e-9, atol=1.0)
    assert np.allclose(-b[:, Acct.DEFERRED_REVENUE], deferred, rtol=1e-9, atol=1.0)

    # the market row
    mt = pd.DataFrame(model.recorder.model_table())
    assert len(mt) == n_months
    assert (mt.served_gpu_hours <= mt.demand_gpu_hours * (1 + 1e-9) + 1e-6).all()
    assert mt.inference_share.between(0.0, 1.0 + 1e-12).all()
    assert mt.hhi_revenue.between(0.0, 1.0 + 1e-12).all()
    assert (mt.gpus_shipped >= 0).all()


@SETTINGS
@given(runs())
def test_identities_hold_for_any_parameters(params):
    overrides, seed, months = params
    model, opening = build(overrides, seed, months)
    assert_identities(model, opening)


@SETTINGS
@given(runs())
def test_cash_changes_are_the_kept_postings(params):
    """Each agent's month-on-month cash change is the net of its cash postings that month, and
    the kept postings replay to the final balances."""
    overrides, seed, months = params
    model, opening = build(overrides, seed, months, keep=True)
    L = model.ledger
    p = L.postings()
    n_ent = len(L.names)
    # replay every posting: the final balances
    replay = np.zeros_like(L.balances)
    np.add.at(replay, (p["entity"], p["debit"]), p["amount"])
    np.add.at(replay, (p["entity"], p["credit"]), -p["amount"])
    scale = np.abs(L.balances).max()
    assert np.allclose(replay, L.balances, rtol=0, atol=RTOL * scale)
    # cash postings per month and entity
    months_ = model.month
    net = np.zeros((months_ + 1, n_ent))  # row 0: the opening books (month -1)
    cash_in = p["debit"] == Acct.CASH
    cash_out = p["credit"] == Acct.CASH
    np.add.at(net, (p["month"][cash_in] + 1, p["entity"][cash_in]), p["amount"][cash_in])
    np.add.at(net, (p["month"][cash_out] + 1, p["entity"][cash_out]), -p["amount"][cash_out])
    assert np.allclose(net[0], opening[:, Acct.CASH], rtol=0, atol=RTOL * scale)
    a = pd.DataFrame(model.recorder.agent_table())
    n = model.n_agents
    cash = a.cash.to_numpy().reshape(months_, n)
    prev = np.vstack([opening[None, :n, Acct.CASH], cash[:-1]])
    change = cash - prev
    ok = np.abs(change - net[1:, :n]) <= RTOL * np.maximum(np.abs(cash).max(), 1.0)
    assert ok.all(), [(m, L.names[i]) for m, i in zip(*np.nonzero(~ok))][:5]


@pytest.mark.parametrize("name", sorted(bundled_paths()))
def test_identities_in_every_bundled_scenario_at_full_length(name):
    """The same identities on each bundled scenario, over its whole length (36 months each; scale
    takes about 3 s)."""
    months = load_scenario(name).months
    assert months >= 36
    model, opening = build({}, 0, months, scenario=name)
    assert model.month == months
    assert_identities(model, opening)


# ---------------------------------------------------------------------------- wide ranges, 36 months
# Issue 16: every numeric field that a user can set, drawn over a wide part of its stated range
# (rates, costs, counts, shocks), over 36 months. Every figure must be finite, the books must
# balance and stocks that cannot be negative must not be.

WIDE_MONTHS = 36
WIDE = settings(max_examples=30, deadline=None, database=None, print_blob=True, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def wide_runs(draw):
    f = lambda lo, hi: draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))  # noqa: E731
    overrides = {
        "market.base_rate": f(0.0, 0.5),
        "market.logit_beta": f(0.01, 100.0),
        "market.trust_scale": f(0.0, 10.0),
        "market.obsolescence": f(0.0, 1.0),
        "market.residual_value": f(0.0, 1.0),
        "market.idle_power_draw": f(0.0, 1.0),
        "market.delay_penalty": f(0.0, 1.0),
        "negotiation.prepay_share": f(0.0, 1.0),
        "negotiation.ask_markup": f(0.0, 10.0),
        "negotiation.min_margin": f(0.0, 5.0),
        "negotiation.penalty_rate": f(0.0, 5.0),
        "negotiation.termination_fee": f(0.0, 1.0),
        "nvidia.price_sensitivity": f(0.0, 1.0),
        "nvidia.opex_per_month": f(0.0, 1e11),
        "nvidia.cash": f(0.0, 1e12),
        "nvidia.allocation": draw(st.sampled_from(["pro_rata", "partner_priority", "no_rival_silicon"])),
        "providers.CoreWeave.cash": f(0.0, 1e11),
        "providers.CoreWeave.debt": f(0.0, 1e11),
        "providers.CoreWeave.finance.spread": f(0.0, 0.5),
        "providers.CoreWeave.finance.max_leverage": f(0.01, 100.0),
        "providers.CoreWeave.pricing.markup": f(0.0, 10.0),
        "providers.Nebius.pricing.strategy": draw(st.sampled_from(["cost_plus", "undercut", "utilisation", "sticky"])),
        "providers.Nebius.opex_per_gpu_hour": f(0.0, 10.0),
        "providers.Lambda.power_price_kwh": f(0.0, 1.0),
        "providers.Lambda.depreciation_years": f(0.5, 20.0),
        "providers.Crusoe.mw_build_cost": f(0.0, 1e8),
        "buyers.OpenAI.cash": f(0.0, 1e11),
        "buyers.OpenAI.inference_growth": f(-0.2, 0.2),
        "buyers.OpenAI.price_elasticity": f(0.0, 5.0),
        "buyers.Fortune 500.count": draw(st.integers(1, 200)),
    }
    events = [
        # within what a scenario may say: the base rate and every spread stay >= 0 (CoreWeave's may be 0)
        # (and the opening debt's rates: Nebius's 7.5% is the lowest)
        {"kind": "rate_change", "month": "2026-04", "bps": f(-1e4 * min(overrides["market.base_rate"], 0.075), 2000.0),
         "spread_bps": f(0.0, 1000.0)},
        {"kind": "supply_growth", "month": "2026-06", "pct": f(-0.9, 3.0)},
        {"kind": "component_cost_rise", "month": "2026-08", "pct": f(-0.5, 3.0)},
        {"kind": "power_shortage", "month": "2026-10", "extra_lead_months": draw(st.integers(0, 36)),
         "cost_pct": f(0.0, 3.0)},
    ]
    overrides["events"] = [e for e in events if draw(st.booleans())]
    return overrides, draw(st.integers(0, 2**63 - 1))


@WIDE
@given(wide_runs())
def test_wide_ranges_over_36_months_stay_finite_balanced_and_non_negative(params):
    overrides, seed = params
    model, opening = build(overrides, seed, WIDE_MONTHS)
    a = pd.DataFrame(model.recorder.agent_table())
    numbers = a.select_dtypes("number").drop(columns=["market_value"])
    bad = ~np.isfinite(numbers.to_numpy())
    assert not bad.any(), numbers.columns[bad.any(axis=0)].tolist()
    mv = a.market_value.to_numpy(dtype=float)
    assert not np.isinf(mv).any()
    mt = pd.DataFrame(model.recorder.model_table()).select_dtypes("number")
    assert np.isfinite(mt.to_numpy()).all(), mt.columns[~np.isfinite(mt.to_numpy()).all(axis=0)].tolist()
    prices = pd.DataFrame(model.recorder.price_table())
    assert np.isfinite(prices[["on_demand", "reserved", "spot"]].to_numpy()).all()
    scale = a[["total_assets", "liabilities", "equity_book"]].abs().max(axis=1)
    ok = close(a.total_assets, a.liabilities + a.equity_book, scale)
    assert ok.all(), a.loc[~ok, ["month", "agent", "total_assets", "liabilities", "equity_book"]]
    b = model.ledger.balances
    assert abs(b[:, Acct.CASH].sum() - opening[:, Acct.CASH].sum()) <= RTOL * np.abs(b[:, Acct.CASH]).sum()
    # stocks that cannot be negative never are, rounding included
    for col in ("powered_mw", "debt", "gpus_installed", "fleet_book"):
        assert (a[col] >= 0).all(), a.loc[a[col] < 0, ["month", "agent", col]]
