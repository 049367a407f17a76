"""Every seller's backlog figures come from the contract columns in one compiled pass
(``Exchange._backlog_arrays``); they must be exactly what the contracts themselves give
(``credit_backlog_reference``, ``backlog``) in every month, through cancellations, defaults and
reassignments."""

from __future__ import annotations

import pytest

from market.exchange import Exchange


@pytest.mark.parametrize("scenario, seed", [("baseline-2026", 0), ("openai-walks", 1), ("rates-up-300", 2),
                                            ("power-crunch", 0)])
def test_columns_give_the_contracts_figures(make_model, monkeypatch, scenario, seed):
    checked = {"credit": 0, "summary": 0}
    credit, arrays = Exchange.credit_backlog, Exchange._backlog_arrays

    def check_credit(self, seller):
        got = credit(self, seller)
        assert got == self.credit_backlog_reference(seller), (self.model.month, seller)
        checked["credit"] += got[1] > 0
        return got

    def check_arrays(self):
        out = arrays(self)
        for name, i in self._prow.items():
            total, top, ranked = self.backlog(name)
            assert (out[0, i], out[1, i]) == self.credit_backlog_reference(name), (self.model.month, name)
            assert (out[2, i], out[3, i]) == (total, top), (self.model.month, name)
            checked["summary"] += len(ranked) > 1 and out[0, i] > 0
            # and each seller's cached figures (the one-seller path), where they are kept
            hit = self._backlog_cache.get(name)
            if hit is not None:
                assert hit == self.credit_backlog_reference(name), (self.model.month, name)
                checked["credit"] += hit[1] > 0
        return out

    monkeypatch.setattr(Exchange, "credit_backlog", check_credit)
    monkeypatch.setattr(Exchange, "_backlog_arrays", check_arrays)
    m = make_model(scenario=scenario, seed=seed)
    m.run(36)
    assert checked["summary"] > 100 and checked["credit"] > 100
    assert any(c.status in ("cancelled", "reassigned", "completed") for c in m.exchange.contracts)
