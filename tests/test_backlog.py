"""Every seller's backlog figures (``Exchange.credit_backlogs`` and ``top_customer_shares``, from the contract columns) must
add up to what its live contracts say, contract by contract, in every month, through
cancellations, defaults and reassignments (the identity: backlog = sum over live contracts of
fee x months left; the investment-grade part counts only investment-grade buyers)."""

from __future__ import annotations

import pytest


def _from_contracts(ex, seller: str) -> tuple[float, float, float]:
    ig = total = 0.0
    by_buyer: dict[str, float] = {}
    for c in ex.contracts:
        if c.seller != seller or c.status not in ("pending", "active"):
            continue
        v = c.fee * (c.term - c.months_billed)
        total += v
        ig += v if c.buyer in ex.ig else 0.0
        by_buyer[c.buyer] = by_buyer.get(c.buyer, 0.0) + v
    top = max(by_buyer.values()) / total if total > 0 else 0.0
    return ig, total, top


@pytest.mark.parametrize("scenario, seed", [("baseline-2026", 0), ("openai-walks", 1), ("power-crunch", 0)])
def test_backlog_is_the_sum_of_live_contracts(make_model, scenario, seed):
    m = make_model(scenario=scenario, seed=seed)
    checked = 0
    for _ in range(36):
        m.step()
        ex = m.exchange
        for p in m.providers:
            ig, total, top = _from_contracts(ex, p.name)
            got_ig, got_total = ex.credit_backlog(p.name)
            assert got_total == pytest.approx(total, rel=1e-12, abs=1e-3), (m.month, p.name)
            assert got_ig == pytest.approx(ig, rel=1e-12, abs=1e-3), (m.month, p.name)
            b_total, b_top, ranked = ex.backlog(p.name)
            assert b_total == pytest.approx(total, rel=1e-12, abs=1e-3)
            assert b_top == pytest.approx(top, rel=1e-12)
            assert ex.top_customer_shares()[p.row] == pytest.approx(top, rel=1e-12)
            checked += total > 0
    assert checked > 100
    assert any(c.status in ("cancelled", "reassigned", "completed") for c in m.exchange.contracts)
