"""baseline-2026 reproduces the public figures of DOMAIN.md within the bands of issue 3.

Each target is documented, with the model's value and the source, in docs/calibration.md.
The run is the documented one: seed 0, the scenario's defaults, January-March 2026 = months 0-2.
"""

from __future__ import annotations

import numpy as np
import pytest

from market.scenario import load_scenario
from market.simulate import simulate

NEOCLOUDS = ["CoreWeave", "Nebius", "Lambda", "Crusoe"]
HYPERSCALERS = ["AWS", "Azure", "Google Cloud"]  # Meta Compute opens in July 2026


@pytest.fixture(scope="module")
def run():
    return simulate(load_scenario("baseline-2026"), seed=0)


@pytest.fixture(scope="module")
def agents(run):
    return run.agents.to_pandas()


@pytest.fixture(scope="module")
def prices(run):
    return run.prices.to_pandas()


def cw(agents):
    return agents[agents.agent == "CoreWeave"].set_index("month")


def test_coreweave_q1_revenue_in_band(agents):
    # reported: $2.08B for Q1 2026; band $1.5-2.7B
    q1 = cw(agents).revenue.loc[0:2].sum()
    assert 1.5e9 <= q1 <= 2.7e9, q1


def test_coreweave_backlog_end_of_march_in_band(agents):
    # reported: $99.4B at the end of Q1 2026; band $70-130B
    backlog = cw(agents).backlog.loc[2]
    assert 70e9 <= backlog <= 130e9, backlog


def test_coreweave_two_largest_customers_hold_half_the_backlog(run):
    # reported: Meta and OpenAI close to two-thirds of backlog; at least half required.
    # March's backlog from the contracts: every contract signed by March (month 2) and not
    # ended by then, whatever became of it later, with the value left after three months billed.
    c = run.contracts.to_pandas()
    cw = c[(c.seller == "CoreWeave") & (c.signed_month <= 2) & (c.start_month + c.term_months > 2)]
    fee = cw.total_value / cw.term_months
    billed = np.clip(3 - cw.start_month, 0, cw.term_months)
    left = fee * (cw.term_months - billed)
    by_buyer = left.groupby(cw.buyer).sum().sort_values(ascending=False)
    # the same total as the agents table's backlog at the end of March
    assert by_buyer.sum() == pytest.approx(cw_backlog_march(run), rel=1e-9)
    assert by_buyer.iloc[:2].sum() / by_buyer.sum() >= 0.5, by_buyer


def cw_backlog_march(run) -> float:
    a = run.agents.to_pandas()
    return float(a[(a.agent == "CoreWeave") & (a.month == 2)].backlog.iloc[0])


def test_h100_prices_in_band_and_ordered(prices):
    q1 = prices[(prices.generation == "H100") & (prices.month <= 2)]
    neo = q1[q1.agent.isin(NEOCLOUDS)]
    hyp = q1[q1.agent.isin(HYPERSCALERS)]
    neo_mean = neo.groupby("month").on_demand.mean()
    # reported: CoreWeave $2.39, Lambda $2.49; band $2.00-3.00 at neoclouds
    assert ((neo_mean >= 2.0) & (neo_mean <= 3.0)).all(), neo_mean
    # reserved below on-demand, spot below reserved, at every provider and month
    assert (q1.reserved < q1.on_demand).all() and (q1.spot < q1.reserved).all()
    # hyperscalers 30-50% above the neocloud average
    ratio = hyp.groupby("month").on_demand.mean() / neo_mean
    assert ((ratio >= 1.3) & (ratio <= 1.5)).all(), ratio


def test_nvidia_gross_margin_in_band(run):
    # reported: 75% (fiscal 2025), about 71% (fiscal 2026); band 65-78%
    m = run.model.to_pandas()
    gm = m.nvidia_gross_margin.loc[0:2]
    assert ((gm >= 0.65) & (gm <= 0.78)).all(), gm


def test_coreweave_capex_per_revenue_2026(agents):
    # reported: about $2.60 of infrastructure spend per $1 of revenue in Q1 2026; band 1.5-4
    c = cw(agents).loc[0:11]
    ratio = c.capex.sum() / c.revenue.sum()
    assert 1.5 <= ratio <= 4.0, ratio


def test_inference_share_rises(run):
    # inference grows with adoption while training comes in projects: the share of served hours
    # is higher in 2027 (months 12-23) than in the first half of 2026. (By 2028 the projects of
    # the next generations, 1.3-1.5x larger each, bring it back near its 2026 level: see
    # docs/calibration.md, target 7.)
    m = run.model.to_pandas()
    first, later = m.inference_share.iloc[:6].mean(), m.inference_share.iloc[12:24].mean()
    assert later > first + 0.03, (first, later)


def test_shares_are_shares_over_the_whole_run(run):
    # an identity, over all 36 months (resale layers must not count an hour twice)
    m = run.model.to_pandas()
    assert ((m.inference_share >= 0) & (m.inference_share <= 1)).all(), m.inference_share.max()
    assert (m.served_inference_gpu_hours <= m.served_gpu_hours * (1 + 1e-12)).all()
    assert (m.served_gpu_hours <= m.demand_gpu_hours * (1 + 1e-9)).all()



# ---------------------------------------------------------------- full costs (issue 14)
# DOMAIN.md, "Beyond Q1 2026": CoreWeave's Q1 2026 GAAP net loss $740M, net interest $536M, total
# debt approaching $25B; adjusted EBITDA about 62% (2025) to 72% (2027 consensus). The model's Q1
# revenue ($2.52B) sits at the top of its band, so its loss is smaller than the reported one at the
# reported cost shares (docs/calibration.md, "Full costs").


def test_coreweave_q1_net_loss_interest_and_debt_in_band(agents):
    q1 = cw(agents).loc[0:2]
    assert -1.0e9 <= q1.net_income.sum() <= -0.3e9, q1.net_income.sum()
    assert 0.45e9 <= q1.interest_expense.sum() <= 0.65e9, q1.interest_expense.sum()
    assert 22e9 <= q1.debt.loc[2] <= 27e9, q1.debt.loc[2]


def test_coreweave_q1_ebitda_margin_in_band(agents):
    q = cw(agents).loc[0:2].sum()
    # EBITDA before stock-based compensation (paid in shares), as lenders and analysts take it
    ebitda = q.revenue + q.other_income - q.cost_of_revenue - q.lease_expense - q.opex - q.compute_expense \
        - q.other_expense
    assert 0.45 <= ebitda / q.revenue <= 0.75, ebitda / q.revenue


def test_coreweave_january_value_near_the_public_range(agents):
    assert 20e9 <= cw(agents).market_value.loc[0] <= 35e9, cw(agents).market_value.loc[0]


def test_nvidia_operating_and_net_margin_in_band(agents):
    # FY2026: gross margin about 71%, operating expenses about 10% of revenue, tax about 16%
    nv = agents[agents.agent == "NVIDIA"].set_index("month").loc[0:11].sum()
    operating = (nv.revenue - nv.cost_of_revenue - nv.opex) / nv.revenue
    assert 0.55 <= operating <= 0.68, operating
    assert 0.45 <= nv.net_income / nv.revenue <= 0.58, nv.net_income / nv.revenue
    assert nv.income_tax > 0


# ---------------------------------------------------------------- values (issue 14)


def test_values_start_near_the_public_figures_and_stay_within_reason(agents):
    """NVIDIA about $4.5T in January 2026 (band $3-6T); CoreWeave no more than a few hundred
    billion dollars in the run (the issue measured $1.1-1.25T by 2030)."""
    nv = agents[agents.agent == "NVIDIA"].set_index("month").market_value
    assert 3e12 <= nv.loc[0] <= 6e12, nv.loc[0]
    assert cw(agents).market_value.max() <= 3e11, cw(agents).market_value.max()


@pytest.mark.parametrize("name", ["CoreWeave", "Nebius", "NVIDIA"])
def test_values_move_like_stocks_month_to_month(agents, name):
    """A volatile growth stock moves perhaps 10-20% in a month, rarely more than 50%: the median
    move at most 20%, and moves of more than half in at most one month in ten (the issue measured
    a standard deviation of 28% and a maximum of +115% for CoreWeave)."""
    v = agents[agents.agent == name].set_index("month").market_value
    prev = v.shift(1)
    moves = ((v - prev) / prev)[prev > 0].abs()
    assert moves.median() <= 0.20, moves.median()
    assert (moves > 0.5).mean() <= 0.10, moves[moves > 0.5]


def test_a_realistic_minority_of_negotiations_fail(run):
    """Walk-aways per negotiation (one per offer) between 5% and 30% (docs/calibration.md,
    "Deals that can fail"): most capacity deals close, but buyers do walk to their outside options
    (spot, building, waiting for the next generation) and sellers below their cost-based floors.
    (The band was 10-30% while a request went to its best two or three offers; a buyer now splits
    it over five or six, so there are twice as many negotiations per request.) Requests that lapse
    stay rarer still (at most 15% of requests)."""
    kinds = [e["kind"] for e in run.events]
    offers, walks = kinds.count("offer"), kinds.count("walk_away")
    assert offers > 0 and 0.05 <= walks / offers <= 0.30, (walks, offers)
    assert kinds.count("request_lapsed") <= 0.15 * kinds.count("request")


# ---------------------------------------------------------------- five years (issue 13)


@pytest.fixture(scope="module")
def five_year_run():
    return simulate(load_scenario("baseline-2026", {"market.months": 60}), seed=0)


@pytest.fixture(scope="module")
def five_years(five_year_run):
    return five_year_run.prices.to_pandas()


def test_coreweave_revenue_stays_near_the_analysts_cases(five_year_run):
    """DOMAIN.md: CoreWeave's 2026 exit revenue run rate guided at $18B or more; 2027 revenue, the
    consensus $18.1B (bull case $20-25B); 2030, the bull case $25-30B ("$50B+ if the growth
    trajectory holds"). Bands: the exit run rate (December x 12) $14-22B; 2027 $15-26B (the
    consensus to the top of the bull case); 2030 $20-45B (no more than one and a half times the
    bull case). Oracle, OpenAI's largest compute partner by commitment, takes the share of the
    labs' growth that the reports give it (docs/calibration.md, "CoreWeave's revenue")."""
    a = cw(five_year_run.agents.to_pandas())
    exit_rate = 12 * a.revenue.loc[11]
    by_year = a.revenue.groupby(a.index // 12).sum()
    assert 14e9 <= exit_rate <= 22e9, exit_rate
    assert 15e9 <= by_year.loc[1] <= 26e9, by_year.loc[1]
    assert 20e9 <= by_year.loc[4] <= 45e9, by_year.loc[4]


def test_hyperscalers_keep_their_premium_for_the_same_generation_through_the_run(five_years):
    """DOMAIN.md: neoclouds 30-50% below hyperscalers for GPU-heavy work. Each year, for every
    generation both sell, hyperscalers' mean on-demand price over the neoclouds' mean; averaged
    over the generations, within 1.2-1.6 (the reported 1.3-1.5, widened by 0.1 each side for the
    generation mix: a hyperscaler's list follows the cheapest rival slowly, so it lags each launch
    and each price fall), and never below 1.1 for any one generation-year."""
    p = five_years
    p = p.assign(year=p.month // 12)
    neo = p[p.agent.isin(NEOCLOUDS)].groupby(["year", "generation"]).on_demand.mean()
    hyp = p[p.agent.isin(HYPERSCALERS)].groupby(["year", "generation"]).on_demand.mean()
    ratio = (hyp / neo).dropna()
    by_year = ratio.groupby(level="year").mean()
    assert list(by_year.index) == [0, 1, 2, 3, 4]
    assert ((by_year >= 1.2) & (by_year <= 1.6)).all(), by_year
    assert ratio.min() >= 1.1, ratio.sort_values().head()



def test_nvidia_revenue_on_a_path_analysts_recognise(five_year_run):
    """DOMAIN.md: NVIDIA's revenue was $130.5B in fiscal 2025 and about $216B in fiscal 2026 (to
    January 2026), +66%. Calendar 2026 is at least fiscal 2026's figure and at most that again
    grown by fiscal 2026's rate ($216-359B); each later year grows, by no more than that fastest
    reported year (+66%). (The issue measured $667B in 2030 with demand compounding unchecked.)"""
    a = five_year_run.agents.to_pandas()
    nv = a[a.agent == "NVIDIA"]
    by_year = nv.groupby(nv.month // 12).revenue.sum()
    assert list(by_year.index) == [0, 1, 2, 3, 4]
    assert 216e9 <= by_year.loc[0] <= 216e9 * (216 / 130.5), by_year.loc[0]
    growth = by_year.pct_change().iloc[1:]
    assert ((growth > 0) & (growth <= 216 / 130.5 - 1)).all(), growth
