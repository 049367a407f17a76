"""The compiled forms of two per-seller rules must give, to the bit, what the rules give one
seller at a time: ``ProviderBook.rates`` (every provider's borrowing rate, the spreads in one
call) against ``Provider.rate``, and ``Exchange._quotes`` (each quoting seller's start, reservation
price, ask and score for a request) against ``Exchange._quote_reference``."""

from __future__ import annotations

import numpy as np
import pytest

from market.exchange import Exchange
from market.ledger import Acct
from market.mechanisms import finance


@pytest.mark.parametrize("seed", range(3))
def test_rates_match_each_providers_own(make_model, seed):
    m = make_model(seed=seed)
    pb = m.pbook
    rng = np.random.default_rng(seed)
    rows = list(range(pb.n))
    levered = 0
    for _ in range(14):
        m.step()
        # perturb what the rule reads: debt from none to far above EBITDA, extra spreads
        for p in m.providers:
            p.spread_extra = float(rng.choice([0.0, 0.01, 0.035]))
            b = m.ledger.balances[p.eid]
            b[Acct.DEBT] *= float(rng.choice([0.0, 0.5, 1.0, 4.0, 30.0]))
        assert pb.rates(rows).tolist() == [p.rate() for p in m.providers], f"month {m.month}"
        levered += sum(p.leverage() > 3.0 for p in m.providers)
    assert levered > 5  # the leverage penalty was exercised


def test_spread_of_follows_python_min_and_max_at_the_edges():
    # finance.spread_of (the compiled kernels' spread) against finance.spread at finance.leverage
    # capped at 20, as Provider._spread takes them: no EBITDA yet (NaN) or no debt: leverage 0;
    # EBITDA not positive: capped at 20; a discount larger than the spread: floored at zero
    # (the investment-grade share is of the credit backlog: none when there is no backlog)
    cases = [(5.0, float("nan"), (0.0, 0.0), 0.0, 0.02), (0.0, 1.0, (0.0, 3.0), 0.0, 0.02),
             (5.0, -1.0, (0.0, 0.0), 20.0, 0.19), (5.0, 1.0, (1.0, 0.0), 5.0, 0.04), (5.0, 10.0, (4.0, 4.0), 0.5, 0.0)]
    for debt, ebitda, (ig, backlog), lev, approx in cases:
        ig_share = ig / backlog if backlog > 0 else 0.0
        disc = 0.05 if ig_share else 0.0
        got = finance.spread_of(debt, ebitda, ig, backlog, 0.02, disc, 0.01)
        expected = finance.spread(0.02, disc, ig_share, lev, 0.01)
        if ebitda == ebitda:
            assert min(finance.leverage(debt, ebitda), 20.0) == lev
        assert got == expected == pytest.approx(approx)


@pytest.mark.parametrize("scenario,seed", [("baseline-2026", 0), ("baseline-2026", 3), ("power-crunch", 2),
                                           ("rates-up-300", 1)])
def test_quotes_match_the_rule_seller_by_seller(make_model, monkeypatch, scenario, seed):
    seen = {"quotes": 0, "late": 0}
    compiled = Exchange._quotes

    def checked(self, r, quotes, t, tight):
        starts, reses, asks, scores = compiled(self, r, quotes, t, tight)
        for j, (p, qty) in enumerate(quotes):
            ref = self._quote_reference(r, p, qty, t, tight)
            assert (starts[j], reses[j], asks[j], scores[j]) == ref, (t, p.name, r.request_id)
            # the prices keep the reference's numpy type: a contract's fee keeps its price's type
            assert type(reses[j]) is type(ref[1])
            seen["quotes"] += 1
            seen["late"] += starts[j] > r.start
        return starts, reses, asks, scores

    monkeypatch.setattr(Exchange, "_quotes", checked)
    make_model(scenario=scenario, seed=seed, months=36)
    assert seen["quotes"] > 100
    assert seen["late"] > 10  # queues and power builds delayed some starts
