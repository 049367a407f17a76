"""Supply that follows the market: capacity plans from expected demand, backlog, the power
pipeline and funding (``market.mechanisms.capacity``, ``ProviderBook.plan_capacity``); GPUs without
power count as idle (``ProviderBook.utilisation``) and are reported (``gpus_unpowered``)."""

from __future__ import annotations

import numpy as np
import pytest

from market.mechanisms import capacity
from market.scenario import load_scenario

H = 730.0  # hours a month in the baseline

# ============================================================================ the rule on numbers

# two generations: 1 kW and $10 a GPU, 2 kW and $20 a GPU; growth is planned in the second
KW = np.array([1.0, 2.0])
CAPEX = np.array([10.0, 20.0])


def plan_of(shortfall, growth, budget, ready_mw, supply_kw, overbook=0.0, mw_wanted=0.0, mw_cost=100.0):
    n = len(growth)
    return capacity.plan(np.array(shortfall, dtype=float), np.array(growth, dtype=float), np.ones(n, dtype=np.int64),
                         CAPEX, KW, np.array(budget, dtype=float), np.array(ready_mw, dtype=float),
                         np.array(supply_kw, dtype=float), np.full(n, overbook), np.full(n, mw_wanted),
                         np.full(n, mw_cost))


def test_plan_with_room_orders_contracts_and_growth_and_builds_the_power_wanted():
    # room 1,000 - 500 = 500 kW; contracts 100 x 1 kW, $1,000; growth 50 x 2 kW, $1,000 (within the
    # 400 kW and $4,000 left); the $3,000 left pays the 10 MW wanted at $100 a MW
    p = plan_of([[100, 0]], [50], [5000], [1.0], [500], mw_wanted=10.0)
    assert p.orders.tolist() == [[100.0, 50.0]]
    assert p.mw.tolist() == [10.0]
    assert p.beyond_mw.tolist() == [0.0]


def test_plan_never_orders_past_the_power_ready_by_arrival():
    # room 600 - 400 = 200 kW: the contracts' 300 kW are scaled to 2/3 (200 GPUs), nothing is left
    # for growth, and the fleet coming then needs exactly the ready 600 kW
    p = plan_of([[300, 0]], [100], [1e6], [0.6], [400], mw_wanted=5.0)
    assert p.orders.tolist() == [[200.0, 0.0]]
    assert p.beyond_mw.tolist() == [0.0]
    assert p.mw.tolist() == [5.0]  # (the budget pays for the power wanted)
    # no room at all (the fleet coming already needs more than will be ready): no order
    p = plan_of([[300, 0]], [100], [1e6], [0.3], [400])
    assert p.orders.sum() == 0.0


def test_overbooking_orders_beyond_the_ready_power_and_says_how_much():
    # ready 400 kW, all taken; power_overbook 0.5 allows 200 kW more: 100 GPUs of 2 kW out of the
    # 150 wanted, all 0.2 MW of them beyond the ready power
    p = plan_of([[0, 0]], [150], [1e6], [0.4], [400], overbook=0.5)
    assert p.orders.tolist() == [[0.0, 100.0]]
    assert p.beyond_mw.tolist() == [pytest.approx(0.2)]


def test_plan_within_the_budget_contracts_first_then_growth_then_power():
    # contracts cost 100 x $10 + 50 x $20 = $2,000 against a $1,000 budget: half of each, nothing
    # left for growth or for the 3 MW wanted
    p = plan_of([[100, 50]], [40], [1000], [100.0], [0], mw_wanted=3.0)
    assert p.orders.tolist() == [[50.0, 25.0]]
    assert p.mw.tolist() == [0.0]
    # contracts $1,000, growth 40 x $20 = $800, $200 left: 2 of the 3 MW at $100
    p = plan_of([[100, 0]], [40], [2000], [100.0], [0], mw_wanted=3.0)
    assert p.orders.tolist() == [[100.0, 40.0]]
    assert p.mw.tolist() == [pytest.approx(2.0)]


def test_the_rule_is_one_row_per_provider():
    # the four cases above at once give the same rows
    p = plan_of([[100, 0], [300, 0], [0, 0], [100, 50]], [50, 100, 150, 40], [5000, 1e6, 1e6, 1000],
                [1.0, 0.6, 0.4, 100.0], [500, 400, 400, 0], overbook=0.0)
    assert p.orders.tolist() == [[100.0, 50.0], [200.0, 0.0], [0.0, 0.0], [50.0, 25.0]]


def test_growth_gpus_by_hand():
    # 1,000 eq-hours sold, 10% a month for 2 months, at 50%: 1,000 x 1.21 / 0.5 = 2,420 eq-hours;
    # free: (10 - 4) GPUs x 1 eq x 10 hours = 60; (2,420 - 60) / (2 eq x 10 hours) = 118 GPUs
    got = capacity.growth_gpus(np.array([1000.0]), np.array([0.1]), np.array([2]), np.array([0.5]), np.array([1.0]),
                               np.array([[4.0, 0.0]]), np.array([[10.0, 0.0]]), np.array([1.0, 2.0]),
                               np.array([2.0]), 10.0)
    assert got.tolist() == [pytest.approx(118.0)]
    # more free capacity than the target: no growth
    got = capacity.growth_gpus(np.array([10.0]), np.array([0.1]), np.array([2]), np.array([0.5]), np.array([1.0]),
                               np.array([[4.0, 0.0]]), np.array([[10.0, 0.0]]), np.array([1.0, 2.0]),
                               np.array([2.0]), 10.0)
    assert got.tolist() == [0.0]


def test_growth_stops_where_the_capacity_without_a_contract_reaches_its_share():
    # as above, 118 GPUs wanted; the fleet coming is 10 GPUs x 1 eq x 10 hours = 100 eq-hours, of
    # which 60 free. At a short-term share of 0.5: G <= (0.5 x 100 - 60) / 0.5 < 0, no growth; at
    # 0.8: G <= (80 - 60) / 0.2 = 100 eq-hours = 5 GPUs of 2 eq (then 160 free of 200: 0.8)
    def growth(share):
        return capacity.growth_gpus(np.array([1000.0]), np.array([0.1]), np.array([2]), np.array([0.5]),
                                    np.array([share]), np.array([[4.0, 0.0]]), np.array([[10.0, 0.0]]),
                                    np.array([1.0, 2.0]), np.array([2.0]), 10.0).tolist()

    assert growth(0.5) == [0.0]
    assert growth(0.8) == [pytest.approx(5.0)]
    assert growth(0.999) == [pytest.approx(118.0)]  # (the room, 40 / 0.001 eq-hours, is more than wanted)


def test_mw_wanted_by_hand():
    # contracts then need 300 and 0; the fleet coming is 200 and 100: max -> 300 x 1 + 100 x 2 = 500 kW;
    # growth 50 x 2 kW = 100 kW; 0.6 MW x 1.5 buffer = 0.9 MW, less 0.3 powered and 0.2 building = 0.4
    got = capacity.mw_wanted(np.array([[300.0, 0.0]]), np.array([[200.0, 100.0]]), np.array([50.0]),
                             np.array([1]), KW, np.array([0.5]), np.array([0.3]), np.array([0.2]))
    assert got.tolist() == [pytest.approx(0.4)]
    # already building more than that: nothing
    got = capacity.mw_wanted(np.array([[300.0, 0.0]]), np.array([[200.0, 100.0]]), np.array([50.0]),
                             np.array([1]), KW, np.array([0.5]), np.array([0.3]), np.array([2.0]))
    assert got.tolist() == [0.0]


# ============================================================================ in the running model


def dark(m) -> dict[str, float]:
    return {p.name: float((p.installed - p.running).sum()) for p in m.providers}


def test_baseline_plans_leave_no_gpu_dark(make_model):
    # with power_overbook 0 everywhere no GPU or in-house chip is ordered past the power ready by
    # its arrival, so none goes dark: the reason is stated in the rule, and 36 months show it
    m = make_model()
    assert all(p.spec.capacity.power_overbook == 0.0 for p in m.providers)
    for _ in range(36):
        m.step()
        assert max(dark(m).values()) < 1e-6, (m.month, dark(m))
    assert not any(e["kind"] == "orders_beyond_power" for e in m.events_log)


def test_overbooking_makes_dark_gpus_that_show_in_the_outputs(make_model, agents_frame):
    # a CoreWeave that plans for fast short-term growth (5% a month: the baseline's is 3%, with no
    # limit on its capacity without a contract: the baseline's is a fifth) and lets its growth
    # orders run 30% beyond the power ready for them
    m = make_model({"providers.CoreWeave.capacity.power_overbook": 0.3,
                    "providers.CoreWeave.capacity.growth_target": 0.05,
                    "providers.CoreWeave.capacity.short_term_share": 1.0}, months=24)
    a = agents_frame(m)
    cw = a[a.agent == "CoreWeave"].set_index("month")
    # the choice is visible: news each month the orders went beyond the ready power, and dark GPUs
    beyond = [e for e in m.events_log if e["kind"] == "orders_beyond_power"]
    assert beyond and all(e["agents"] == ["CoreWeave"] and e["mw"] >= 1.0 for e in beyond)
    assert cw.gpus_unpowered.max() > 1000
    assert ((a.gpus_unpowered >= 0) & (a.gpus_unpowered <= a.gpus_installed)).all()
    # the column is installed less running (the last month, against the model's state)
    p = m.provider_by_name["CoreWeave"]
    assert cw.gpus_unpowered.iloc[-1] == pytest.approx(float((p.installed - p.running).sum()))
    # dark GPUs count as idle: utilisation is GPU-hours sold over every installed GPU's hours
    # (CoreWeave resells nothing), so it is below 1 by at least the dark share in a dark month
    assert cw.utilization.to_numpy() == pytest.approx((cw.gpu_hours_sold / (cw.gpus_installed * H)).to_numpy())
    t = int(cw.gpus_unpowered.idxmax())
    assert cw.utilization.loc[t] <= 1.0 - cw.gpus_unpowered.loc[t] / cw.gpus_installed.loc[t] + 1e-9
    # the market's row adds every provider's dark GPUs
    model = m.recorder.model_table()
    by_month = a.groupby("month").gpus_unpowered.sum()
    assert model["gpus_unpowered"] == pytest.approx(by_month.tolist())


def test_dark_gpus_still_depreciate(make_model, agents_frame):
    # Crusoe without power: its 35,000 GPUs are all dark, they earn nothing and use no power, but
    # each cohort books the same depreciation as in the baseline month where they run (depreciation
    # does not read power): cost / (6 x 12) a month on each cohort not yet written off
    off = make_model({"providers.Crusoe.powered_mw": 0.0, "providers.Crusoe.mw_pipeline": []})
    p = off.provider_by_name["Crusoe"]
    opening = p.c_acc.copy()
    cost = p.c_units * p.c_cost
    off.step()
    on = make_model(months=1)
    r_off = agents_frame(off).query("agent == 'Crusoe'").iloc[0]
    assert r_off.gpus_unpowered == 35000 and r_off.utilization == 0.0 and r_off.revenue == 0.0
    assert agents_frame(on).query("agent == 'Crusoe'").iloc[0].gpus_unpowered == 0
    expected = np.minimum(cost / 72.0, cost - opening)
    assert p.c_acc - opening == pytest.approx(expected) and expected.sum() > 0
    assert p.c_acc == pytest.approx(on.provider_by_name["Crusoe"].c_acc)
    assert r_off.depreciation >= expected.sum()  # (plus its data centres')


def test_without_power_ready_a_provider_orders_nothing_for_growth(make_model):
    # Lambda's power ready by arrival is what its fleet already needs: its plan orders no growth
    # and builds power instead (the lead time of power is the lead time of growth)
    m = make_model(months=1)
    p = m.provider_by_name["Lambda"]
    kw = float((p.installed + p.in_transit + p.on_order) @ m.cat.power_kw)
    p.powered_mw, p.builds = kw / 1000.0, []
    m.exchange._sched[m.exchange._prow[p.name]] = 0.0  # (no contracted need)
    p.st_sold_eq_prev = 1e9  # (demand it would grow into)
    building = p.building_mw()
    m.step()
    assert p.orders_this_month.sum() == 0
    assert p.building_mw() > building


def test_power_overbook_is_validated():
    from market.errors import UserError

    with pytest.raises(UserError, match="power_overbook"):
        load_scenario("baseline-2026", {"providers.CoreWeave.capacity.power_overbook": -0.1})
