"""What a sweep's runs record: the same figures as a full run, less the top customers' shares."""

from __future__ import annotations

from market.scenario import load_scenario
from market.simulate import simulate
from market.sweep.outcomes import extract


def test_a_run_without_top_customers_has_the_same_tables_and_outcomes_less_that_column():
    scn = load_scenario("baseline-2026")
    full = simulate(scn, 4, months=14)
    lean = simulate(scn, 4, months=14, top_customers=False)
    assert lean.model.equals(full.model)
    assert "top_customer_share" not in lean.agents.column_names
    assert lean.agents.equals(full.agents.drop_columns(["top_customer_share"]))
    assert extract(lean.model, lean.agents) == extract(full.model, full.agents)
    assert lean.prices.equals(full.prices) and lean.contracts.equals(full.contracts)
    assert lean.events == full.events
    for name, row in full.summary["agents"].items():
        assert lean.summary["agents"][name] == {k: v for k, v in row.items() if k != "top_customer_share"}
