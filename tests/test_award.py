"""Who gets a contract request: a buyer splits it over its offers (negotiation.award), can ask
named sellers alone, and weighs its strategic ties; contract news moves sentiment."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.contracts import Request
from market.mechanisms import negotiation, valuation
from market.model import MarketModel
from market.scenario import load_scenario


def test_award_splits_by_weight_and_gives_the_remainder_to_the_best():
    # weights 1 and exp(-10 x 0.1) = 0.3679: 100 x 1 / 1.3679 = 73.1 and 26.9; floors 73 and 26,
    # the one GPU left over goes to the best offer
    assert negotiation.award(np.array([1.0, 1.1]), np.array([100, 100]), 100, 10.0, 0.05, 10).tolist() == [74, 26]


def test_award_gives_what_a_capped_offer_cannot_take_to_the_rest():
    # the best can take only 50 of its 73.1: the 23.1 go to the second, which then has 50
    assert negotiation.award(np.array([1.0, 1.1]), np.array([50, 100]), 100, 10.0, 0.05, 10).tolist() == [50, 50]


def test_award_leaves_out_a_faint_offer_unless_the_rest_cannot_fill_the_request():
    # exp(-10 x 0.5) = 0.0067 of the total is under the 5% minimum: all to the best, if it can
    assert negotiation.award(np.array([1.0, 1.5]), np.array([100, 100]), 100, 10.0, 0.05, 10).tolist() == [100, 0]
    # the best has only 60: the other 40 go to the next best
    assert negotiation.award(np.array([1.0, 1.5]), np.array([60, 100]), 100, 10.0, 0.05, 10).tolist() == [60, 40]


def test_award_keeps_to_the_best_few_offers():
    # five equal offers, at most three sellers: 100 / 3 = 33.3 each, the remainder to the best
    assert negotiation.award(np.ones(5), np.full(5, 100), 100, 8.0, 0.05, 3).tolist() == [34, 33, 33, 0, 0]


def test_award_with_no_sensitivity_splits_evenly():
    assert negotiation.award(np.array([1.0, 2.0, 3.0]), np.array([90, 90, 90]), 90, 0.0, 0.05, 10).tolist() == [30, 30, 30]


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(st.floats(0.5, 10.0), min_size=1, max_size=7), data=st.data(),
       need=st.integers(0, 500_000), sensitivity=st.floats(0.0, 100.0), min_share=st.floats(0.0, 0.3),
       max_sellers=st.integers(1, 8))
def test_award_places_what_it_can_within_each_offer(scores, data, need, sensitivity, min_share, max_sellers):
    qty = np.array(data.draw(st.lists(st.integers(0, 200_000), min_size=len(scores), max_size=len(scores))))
    order = np.argsort(scores, kind="stable")  # (the exchange passes offers best first)
    score, qty = np.array(scores)[order], qty[order]
    out = negotiation.award(score, qty, need, sensitivity, min_share, max_sellers)
    assert out.dtype.kind == "i" and (out >= 0).all() and (out <= qty).all()
    assert out.sum() == min(need, qty.sum())


def model():
    return MarketModel(load_scenario("baseline-2026"), seed=0)


def request(m: MarketModel, buyer: str, sellers: tuple[str, ...] = ()) -> Request:
    return Request(0, buyer, m.cat.index["GB300"], 10_000, 3, 36, 10.0, "training", 0, 10_000, 1.0, 8.0, sellers)


def test_a_strategic_tie_takes_its_share_off_the_offer_in_the_buyers_choice_only():
    m = model()
    spec = m.agent_by_name["OpenAI"].spec
    assert spec.partners == {"Azure": 0.3, "Oracle": 0.3}
    rows = np.array([m.provider_by_name[n].row for n in ("Azure", "CoreWeave")])
    r = request(m, "OpenAI")
    score = m.exchange.offer_scores(r, rows, np.array([5.0, 5.0]), np.array([3, 3]))
    # ask x (1 - tie) - trust_price x trust_weight x trust: 5 x 0.7 - 0.5 x 0.3 x 0.9, 5 - 0.5 x 0.3 x 0.45
    assert score.tolist() == pytest.approx([3.5 - 0.135, 5.0 - 0.0675])


def test_a_directed_request_is_offered_on_by_its_sellers_alone():
    m = model()
    assert [p.name for p in m.exchange.eligible_sellers(request(m, "OpenAI", ("CoreWeave",)))] == ["CoreWeave"]
    assert len(m.exchange.eligible_sellers(request(m, "OpenAI"))) > 3
    m.run(4)  # Meta AI's VR200 deal of 2026-02 names CoreWeave: every share of it went there
    c = m.exchange.contracts
    deal = [x for x in c if x.buyer == "Meta AI" and m.cat.names[x.generation] == "VR200" and x.signed == 2]
    assert deal and {x.seller for x in deal} == {"CoreWeave"} and sum(x.gpus for x in deal) == 95_000


def test_a_request_naming_an_unknown_seller_is_refused(tmp_path):
    from market.errors import UserError

    f = tmp_path / "odd.toml"
    f.write_text('base = "baseline-2026"\nname = "odd"\n[[buyers]]\nname = "Jane Street"\nrequests = [\n'
                 '  { month = "2026-02", generation = "GB300", gpus = 10, start = "2026-06", term_months = 12, '
                 'sellers = ["Nobody"] },\n]\n')
    with pytest.raises(UserError, match="Nobody"):
        load_scenario(str(f))


def test_contract_news_is_its_value_over_the_market_value_capped():
    assert valuation.contract_news(10e9, 50e9, 0.2, 0.1) == pytest.approx(0.04)
    assert valuation.contract_news(10e9, 0.5e9, 0.2, 0.5) == pytest.approx(0.5)  # (at least $1B: 2.0, capped)
    assert valuation.contract_news(1e9, math.nan, 0.2, 0.1) == pytest.approx(0.02)  # ($10B before a value)


def test_a_lost_contract_is_bad_news_by_the_value_it_had_left():
    m = model()
    m.run(2)
    p = m.provider_by_name["CoreWeave"]
    c = max((x for x in m.exchange.by_seller["CoreWeave"] if x.status in ("pending", "active")),
            key=lambda x: x.remaining_value())
    left, shock = c.remaining_value(), p.shock
    mk = m.scn.market
    m.exchange.cancel(c, m.month, "a test", fee_share=0.3)
    assert p.shock == pytest.approx(shock - min(mk.contract_loss_cap, mk.contract_loss_news * left / p.market_value))
    assert p.shock < shock


def test_prices_are_posted_only_for_generations_a_provider_holds():
    m = model()
    m.run(2)
    # Lambda sells its whole fleet: the generations it has nothing of, coming or resold, lose
    # their prices on its book (so no rival reads a stale price) and are not posted
    lam = m.provider_by_name["Lambda"]
    priced = ~np.isnan(lam.od)
    m.distress.fire_sale(lam, m.month, share=1.0)
    gone = priced & (lam.in_transit <= 0) & (lam.resale <= 0)
    assert gone.any() and np.isnan(lam.od[gone]).all() and np.isnan(lam.res[gone]).all()
    m.step()
    pb = m.pbook
    held = pb.installed + pb.in_transit + pb.resale > 0
    posted = {(a, g) for t, a, g, *_ in m.recorder.price_rows if t == 2}
    names = [p.name for p in m.providers]
    expect = {(names[i], m.cat.names[g]) for i, g in zip(*np.nonzero(held & ~np.isnan(pb.od)), strict=True)
              if pb.live()[i]}
    assert posted == expect and posted
    assert not any(a == "Lambda" and m.cat.index[g] in np.flatnonzero(gone) for a, g in posted)
