"""Every seller's backlog figures come from the contract columns in one compiled pass
(``Exchange._backlogs``); they must be exactly what the contracts themselves give
(``credit_backlog_reference``, ``backlog``) in every month, through cancellations, defaults and
reassignments."""

from __future__ import annotations

import pytest

from market.exchange import Exchange


@pytest.mark.parametrize("scenario, seed", [("baseline-2026", 0), ("openai-walks", 1), ("rates-up-300", 2),
                                            ("power-crunch", 0)])
def test_columns_give_the_contracts_figures(make_model, monkeypatch, scenario, seed):
    checked = {"credit": 0, "summary": 0}
    credit, summary = Exchange.credit_backlog, Exchange.backlog_summary

    def check_credit(self, seller):
        got = credit(self, seller)
        assert got == self.credit_backlog_reference(seller), (self.model.month, seller)
        checked["credit"] += got[1] > 0
        return got

    def check_summary(self, seller):
        got = summary(self, seller)
        total, top, ranked = self.backlog(seller)
        assert got == (total, top), (self.model.month, seller)
        checked["summary"] += len(ranked) > 1
        return got

    monkeypatch.setattr(Exchange, "credit_backlog", check_credit)
    monkeypatch.setattr(Exchange, "backlog_summary", check_summary)
    m = make_model(scenario=scenario, seed=seed)
    m.run(36)
    assert checked["credit"] > 100 and checked["summary"] > 100
    assert any(c.status in ("cancelled", "reassigned", "completed") for c in m.exchange.contracts)
