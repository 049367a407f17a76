"""The player's company lives in the same market as the AI's: a whole scenario played as
CoreWeave with the AI's own policy supplying the decisions gives the AI's CoreWeave.

The AI's decisions are read from a shadow run stepped a month ahead: the GPUs its CoreWeave
ordered and the MW it built in the month, the prices it set, and its offer on every request it
quoted (its ask as the price, its reservation price as the floor). Given through
``Game.step`` as the player's decisions, checked by ``decision_errors`` like any other, they
apply where the AI's are made, so the two runs must sign the same contracts and keep the same
books."""

from __future__ import annotations

import numpy as np
import pytest

from market.game import Decision, Game

SEAT = "CoreWeave"


def ai_decision(shadow: Game, builds_before: list) -> Decision:
    """What the AI-run ``SEAT`` decided in the month the shadow has just stepped."""
    m = shadow.model
    p = m.provider_by_name[SEAT]
    cat = m.cat
    t = m.month - 1
    orders = {cat.names[g]: int(n) for g, n in enumerate(p.orders_this_month) if n > 0}
    assert all(float(n) == int(n) for n in p.orders_this_month)  # (the AI orders whole GPUs)
    mw = sum(b[1] for b in p.builds if not any(b is x for x in builds_before))  # (started this month)
    prices = {cat.names[g]: {"on_demand": float(p.od[g]), "reserved": float(p.res[g]), "spot": float(p.spot[g])}
              for g in range(cat.n) if p.od[g] == p.od[g]}
    answers = {}
    for rid, offers in m.exchange.quoted.items():
        for o in offers:
            if o["month"] == t and o["seller"] == SEAT:
                answers[rid] = {"action": "offer", "price": o["ask"], "floor": o["reservation"]}
    return Decision.model_validate({"orders": orders, "build_mw": mw, "prices": prices, "answers": answers})


def contracts(g: Game) -> list[tuple]:
    return [(c.contract_id, c.buyer, c.seller, int(c.generation), int(c.gpus), int(c.signed), int(c.start),
             int(c.term), float(c.price)) for c in g.model.exchange.contracts]


def test_the_ai_policy_through_the_players_seat_does_what_the_ai_does():
    shadow = Game.new("baseline-2026", 0)
    game = Game.new("baseline-2026", 0, player=SEAT)
    answered = 0
    while not game.finished:
        builds = list(shadow.model.provider_by_name[SEAT].builds)  # (kept alive: compared by identity)
        shadow.step()
        d = ai_decision(shadow, builds)
        assert game.decision_errors(d) == [], (shadow.model.month - 1, game.decision_errors(d))
        game.step(d)
        answered += len(d.answers)
    ours, theirs = contracts(game), contracts(shadow)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a[:8] == b[:8]
        assert a[8] == pytest.approx(b[8], rel=1e-9)
    won = [c for c in ours if c[2] == SEAT and c[5] >= 0]  # (signed in the run, by the player's answers)
    assert answered >= 10 and len(won) >= 10, (answered, len(won))
    np.testing.assert_allclose(game.model.ledger.balances, shadow.model.ledger.balances, rtol=1e-9, atol=1e-3)
    p, q = game.company, shadow.model.provider_by_name[SEAT]
    assert p.installed.sum() == q.installed.sum() and p.market_value == pytest.approx(q.market_value, rel=1e-9)


def test_a_firm_answer_signs_at_its_price(game_and_request):
    """A firm offer (no floor) at or below the buyer's opening bid (its ceiling less
    ``bid_discount``) signs at its own price in the opening round."""
    game, r = game_and_request
    neg = game.model.scn.negotiation
    price = 0.8 * r.ceiling * (1.0 - neg.bid_discount)
    game.step()  # (a request is negotiated a month after it is issued: answered in that turn)
    game.step({"answers": {r.request_id: {"action": "offer", "price": price}}})
    mine = [o for o in game.model.exchange.offers_on(r.request_id) if o["seller"] == game.player]
    assert mine and mine[0]["firm"] and mine[0]["signed"] and mine[0]["price"] == pytest.approx(price)
    signed = [c for c in game.model.exchange.contracts if c.seller == game.player and c.buyer == r.buyer]
    assert signed and float(signed[-1].price) == pytest.approx(price)


def test_a_negotiated_answer_concedes_from_its_price_towards_its_floor(game_and_request):
    """An offer with a floor is negotiated by the AI's rule: opening above the buyer's ceiling
    (which a firm offer may not), it concedes and signs between the floor and the ceiling, below
    its opening price, after more than the opening round."""
    game, r = game_and_request
    m = game.model
    for p in m.providers:  # (the buyer deals with the player's company alone, as if it had excluded the rest)
        if p.name != game.player:
            m.exchange.exclusions[(r.buyer, p.name)] = 10**6
    neg = m.scn.negotiation
    ask, floor = 1.5 * r.ceiling, 0.5 * r.ceiling * (1.0 - neg.bid_discount)
    game.step()
    game.step({"answers": {r.request_id: {"action": "offer", "price": ask, "floor": floor}}})
    mine = m.exchange.offers_on(r.request_id)
    assert [o["seller"] for o in mine] == [game.player] and not mine[0]["firm"] and mine[0]["signed"], mine
    assert floor <= mine[0]["price"] <= r.ceiling < ask and mine[0]["rounds"] > 1


def test_an_answer_with_its_floor_above_its_price_is_refused(game_and_request):
    game, r = game_and_request
    errs = game.decision_errors(Decision(answers={r.request_id: {"action": "offer", "price": 2.0, "floor": 2.5}}))
    assert any("the floor must be above zero and at most the price" in e for e in errs)


@pytest.fixture
def game_and_request():
    game = Game.new("baseline-2026", 0, player=SEAT)
    m = game.model
    r = m.exchange.request(m.agent_by_name["Mistral"], m.cat.index["GB300"], 800, 6, 12, "inference")
    return game, r
