"""When a seller can have GPUs running: NVIDIA's queue, its ramp and the lead time
(``allocation.delivery_wait``, ``Exchange.gpus_ready``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.mechanisms import allocation
from market.model import MarketModel
from market.scenario import load_scenario
from market.simulate import simulate


def test_the_wait_is_the_first_month_the_cumulative_output_covers_the_queue():
    cum = np.array([100.0, 250.0, 450.0])  # 100, then 150, then 200 a month
    assert allocation.delivery_wait(np.array([0.0, 100.0, 101.0, 250.0, 450.0]), cum).tolist() == [1, 1, 2, 2, 3]
    # past the horizon at the last month's rate: 650 = 450 + one more month of 200; 651 needs two
    assert allocation.delivery_wait(np.array([650.0, 651.0]), cum).tolist() == [4, 5]
    # nothing made in the horizon: the horizon plus a year
    assert allocation.delivery_wait(5.0, np.zeros(3)).tolist() == 15


@given(st.lists(st.floats(0, 1e6), min_size=2, max_size=24), st.floats(0, 1e7), st.floats(0, 1e7))
def test_a_longer_queue_never_waits_less(monthly, a, b):
    cum = np.cumsum(monthly)
    lo, hi = sorted((a, b))
    assert allocation.delivery_wait(lo, cum) <= allocation.delivery_wait(hi, cum)


@pytest.fixture(scope="module")
def model():
    m = MarketModel(load_scenario("baseline-2026"), seed=0)
    m.step()
    return m


def test_before_a_launch_the_gpus_wait_behind_the_rest_of_the_worlds_orders_and_the_ramp(model):
    m = model
    cat, sp, t = m.cat, m.nvidia.spec, m.month
    g = next(g for g in range(cat.n) if cat.nvidia[g] and cat.launch[g] > t + 6 and m.nvidia.backlog[g] == 0)
    launch = int(cat.launch[g])
    ahead = sp.rest_of_world_share * sp.rest_of_world_backlog_months * cat.output_list(launch)[g]
    for gpus in (1_000.0, 200_000.0, 2_000_000.0):
        made, month = 0.0, t
        while made < ahead + gpus:  # month by month, as NVIDIA makes them
            month += 1
            made += cat.output_list(month)[g]
        assert int(m.exchange.gpus_ready(g, gpus, t)) == month + 1 + sp.lead_time_months
    # (the old rule promised any quantity at launch plus the lead time)
    assert int(m.exchange.gpus_ready(g, 200_000.0, t)) > launch + 1 + sp.lead_time_months


def test_a_start_counts_only_the_power_ready_by_the_gpus_arrival():
    """``Exchange.earliest_start``: MW under construction count if they are done by the month the
    GPUs arrive, not before; power that is not there by then means a new build."""
    m = MarketModel(load_scenario("baseline-2026"), seed=0)
    m.step()
    ex, cat, t = m.exchange, m.cat, m.month
    p = m.provider_by_name["Crusoe"]
    g, rows = cat.index["GB300"], np.array([p.row])
    gpus = np.array([50_000 / cat.power_kw[g]])  # 50 MW of GB300s
    arrive = int(ex.gpus_ready(g, gpus, t)[0])
    p.builds = []  # no builds, and nothing spare now
    p.powered_mw -= max(0.0, float(ex.spare_kw(rows, t, np.array([t]))[0])) / 1000.0
    p.builds = [(arrive + 2, 50.0)]  # a build done after the GPUs arrive does not count
    assert ex.earliest_start(rows, g, gpus, t)[0] == max(arrive, t + p.mw_lead)
    p.builds = [(arrive, 50.0)]  # done by then: it does
    assert ex.earliest_start(rows, g, gpus, t)[0] == arrive


def test_the_queue_counts_the_gpus_promised_beyond_a_sellers_fleet_of_that_generation_alone():
    """``Exchange.gpus_ready``: a contract that needs two months of NVIDIA's output of generation
    ``g`` more than the seller has, has coming or has ordered puts them in the queue, as as many
    more GPUs asked for would; one of another generation leaves ``g``'s date where it was."""
    from market.contracts import Contract

    m = MarketModel(load_scenario("baseline-2026"), seed=0)
    m.step()
    ex, cat, pb, t = m.exchange, m.cat, m.pbook, m.month
    g = next(g for g in range(cat.n) if cat.nvidia[g] and cat.launch[g] <= t and m.nvidia.backlog[g] > 0)
    h = next(h for h in range(cat.n) if h != g and cat.nvidia[h])
    window = ex._sched[:, :, t : t + 37].max(axis=2)
    p = next(p for p in m.providers if window[p.row, g] == 0 and window[p.row, h] == 0)
    fleet = {k: float(pb.installed[p.row, k] + pb.in_transit[p.row, k] + pb.on_order[p.row, k]) for k in (g, h)}
    asked, extra = 20_000.0, 2.0 * cat.output_list(t + 1)[g]
    before, more = int(ex.gpus_ready(g, asked, t)), int(ex.gpus_ready(g, asked + extra, t))
    assert more > before
    for k in (h, g):
        c = Contract(10**6 + k, "OpenAI", p.name, k, fleet[k] + extra, t, t, 12, 1.0, "training", 0.0, 1.0)
        ex._schedule(c, 1.0)
        assert int(ex.gpus_ready(g, asked, t)) == (before if k == h else more)


def late_cancellations(scn, seed: int = 0) -> tuple[float, float]:
    """The value of the contracts cancelled for late delivery (by `events.jsonl`'s news) and of
    all contracts, in a run."""
    res = simulate(scn, seed=seed)
    ids = {e["contract_id"] for e in res.events if e["kind"] == "cancelled" and "(late delivery)" in e["text"]}
    c = res.contracts.to_pandas()
    return float(c[c.contract_id.isin(ids)].total_value.sum()), float(c.total_value.sum())


def test_seniority_keeps_quoted_start_dates():
    """`nvidia.seniority_weight` (4 in `baseline-2026`): an order's allocation weight grows with
    the months it has waited, so the orders placed after a seller quoted a start date no longer
    take their share of every month's output from it. Over 60 months, seed 0: at 0 (pro rata)
    the buyers cancel 7.7% of the contract value for late delivery; at 4, under 2%."""
    scn = load_scenario("baseline-2026", {"market.months": 60})
    assert scn.nvidia.seniority_weight == 4
    late, total = late_cancellations(scn)
    late0, total0 = late_cancellations(load_scenario("baseline-2026", {"market.months": 60,
                                                                       "nvidia.seniority_weight": 0.0}))
    assert late0 > 0.05 * total0
    assert late < 0.02 * total and late < 0.25 * late0
