"""A played game (market/game.py): decisions, refusals that change nothing, save/load, fork."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from market.errors import UserError
from market.game import Decision, Game


@pytest.fixture
def game() -> Game:
    return Game.new("baseline-2026", 0, (), "Nebius")


def books(g: Game) -> np.ndarray:
    return g.model.ledger.balances.copy()


def test_an_order_reaches_nvidia(game):
    g = game.model.cat.index["GB300"]
    p = game.company
    game.step({"orders": {"GB300": 3000}})
    # every unit is either still on order or already shipped (in transit): none lost, none extra
    assert p.on_order[g] + p.in_transit[g] == 3000
    assert p.orders_this_month[g] == 3000


@pytest.mark.parametrize("decision, words", [
    ({"prices": {"H100": {"on_demand": -1.0, "reserved": 1.0, "spot": 0.5}}}, "above zero"),
    ({"prices": {"H100": {"on_demand": 2.0, "reserved": 1.0, "spot": 1.5}}}, "spot <= reserved <= on-demand"),
    ({"orders": {"H999": 10}}, "unknown generation"),
    ({"orders": {"TPU-v7": 10}}, "not sold by NVIDIA"),
    ({"repay": 1e12}, "more than the debt"),
    ({"borrow": 1e13}, "more than the lenders allow"),
    ({"answers": {999: {"action": "offer", "price": 3.0}}}, "request 999 is not open"),
    ({"build_mw": -5}, "zero or more MW"),
])
def test_a_bad_decision_is_refused_and_changes_nothing(game, decision, words):
    before = books(game)
    month = game.model.month
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)")):
        game.step(decision)
    assert game.model.month == month
    assert np.array_equal(books(game), before)
    assert game.decisions == []


def test_orders_beyond_the_budget_are_cut_to_it_as_the_ais_are(game):
    """The AI's budget rule (``ProviderBook.plan_capacity``): cash above the buffer plus what the
    lenders would still advance. Ten million GB300s are cut to it when the plan is made, and the
    news says so."""
    m = game.model
    p = game.company
    g = m.cat.index["GB300"]
    seen = {}
    plan = m.pbook.plan_capacity

    def spy(t, nv_price, order):  # (the budget as the plan sees it)
        seen["budget"] = max(0.0, p.cash() - p.cash_buffer()) + p.borrowing_capacity()
        seen["unit"] = m.cat.unit_capex(nv_price)[g]
        plan(t, nv_price, order)

    m.pbook.plan_capacity = spy
    game.step({"orders": {"GB300": 10_000_000}})
    ev = [e for e in m.events_log if e["kind"] == "orders_cut" and e["agents"] == ["Nebius"]]
    assert len(ev) == 1 and "cut to what it can pay for" in ev[0]["text"]
    # floor(10M x budget / cost): within one GPU's price below the budget
    ordered, unit, budget = p.orders_this_month[g], seen["unit"], seen["budget"]
    assert budget - unit < ordered * unit <= budget


def test_a_malformed_decision_names_the_field(game):
    with pytest.raises(UserError, match="decision: orders"):
        game.step({"orders": {"GB300": "many"}})


def test_save_and_load_give_the_identical_state(game, tmp_path):
    game.step({"orders": {"GB300": 2000}, "build_mw": 20})
    game.step()
    game.step({"prices": {"H100": {"on_demand": 2.2, "reserved": 1.8, "spot": 1.0}}})
    path = game.save(tmp_path / "g.json")
    doc = orjson.loads(path.read_bytes())
    assert doc["format"] == "gpumarket-save" and doc["version"] == 1 and doc["month"] == 3
    loaded = Game.load(path)
    assert loaded.model.month == 3 and loaded.player == "Nebius"
    assert np.array_equal(books(loaded), books(game))
    assert loaded.model.recorder.model_rows == game.model.recorder.model_rows
    # and the two futures stay identical
    game.step()
    loaded.step()
    assert np.array_equal(books(loaded), books(game))


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.update(version=99), "save version 99"),
    (lambda d: d.update(format="other"), "not a gpumarket save file"),
    (lambda d: d.pop("seed"), "seed: required field is missing"),
    (lambda d: d["decisions"].append(None), "one entry per month"),
    (lambda d: d["scenario"]["market"].update(base_rate=-1), "market.base_rate"),
])
def test_a_bad_save_file_is_refused_by_name(game, tmp_path, mutate, words):
    game.step()
    doc = orjson.loads(game.to_json())
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(UserError, match=words):
        Game.load(path)


def test_a_save_file_that_is_not_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        Game.load(path)


def test_a_fork_shares_the_past_and_diverges_with_its_event(game):
    game.step({"orders": {"GB300": 1000}})
    game.step()
    fork = game.fork([{"kind": "rate_change", "bps": 300}])
    assert fork.model.month == game.model.month
    assert np.array_equal(books(fork), books(game))
    rate = game.model.base_rate
    fork.step()
    game.step()
    # the event applies from the month of the fork: 300 bp on the base rate
    assert fork.model.base_rate == pytest.approx(rate + 0.03)
    assert game.model.base_rate == pytest.approx(rate)
    # more interest on floating debt (Nebius's converts are fixed: CoreWeave's term loans float)
    cw = game.model.provider_by_name["CoreWeave"].eid
    assert fork.model.ledger.balances[cw, 13] > game.model.ledger.balances[cw, 13]


def test_the_player_answers_a_request_and_signs(game):
    m = game.model
    buyer = m.agent_by_name["Mistral"]
    g = m.cat.index["H200"]
    # a start NVIDIA can ship the GPUs for (Nebius's H200s are all contracted)
    r = m.exchange.request(buyer, g, 2000, max(4, game.nvidia_ready(g, 2000)), 12, "inference")
    r.issued -= getattr(m.scn.negotiation, "bid_window", 0)  # negotiated this month, bid window or not
    price = 0.9 * r.ceiling
    game.step(Decision(answers={r.request_id: {"action": "offer", "price": price}}))
    signed = [c for c in m.exchange.contracts if c.seller == "Nebius" and c.buyer == "Mistral" and c.signed == 0]
    assert len(signed) == 1
    assert signed[0].price == pytest.approx(price)
    # the AI did not answer for the player
    assert all(c.seller != "Nebius" or c.price == pytest.approx(price) for c in m.exchange.contracts if c.signed == 0)


def test_the_scorecard_ranks_every_provider_and_flags_the_player(game):
    for _ in range(3):
        game.step()
    rows = game.scorecard()
    assert {r["company"] for r in rows} == set(game.model.provider_by_name)
    assert [r["company"] for r in rows if r["player"]] == ["Nebius"]
    assert sum(r["market_share"] for r in rows) == pytest.approx(1.0)
    shares = [r["market_share"] for r in rows]
    assert shares == sorted(shares, reverse=True)


def test_a_player_company_must_exist():
    with pytest.raises(UserError, match="--as Nobody: not a provider"):
        Game.new("baseline-2026", 0, (), "Nobody")


def test_the_game_ends_with_the_scenario():
    g = Game.new("baseline-2026", 0, ["market.months=2"])
    g.step()
    g.step()
    assert g.finished
    with pytest.raises(UserError, match="ends after 2 months"):
        g.step()


def test_the_company_is_matched_ignoring_case():
    g = Game.new("baseline-2026", 0, (), "  coreweave ")
    assert g.player == "CoreWeave" and g.company.player


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.update(player=["CoreWeave"]), "player: expected a company's name or null"),
    (lambda d: d.update(player={"name": "CoreWeave"}), "player: expected a company's name or null"),
    (lambda d: d.update(seed=True), "seed: expected a whole number"),
    (lambda d: d.update(seed=2**70), "seed: expected a whole number"),
    (lambda d: d.update(month=True), "month: expected a whole number"),
])
def test_a_tampered_save_file_is_refused(game, tmp_path, mutate, words):
    game.step()
    doc = orjson.loads(game.to_json())
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_bytes(_dumps(doc))
    with pytest.raises(UserError, match=words) as exc:
        Game.load(path)
    assert str(path) in str(exc.value)


def _dumps(doc) -> bytes:
    import json

    return json.dumps(doc).encode()


def test_an_unknown_player_in_a_save_names_the_file_not_the_flag(game, tmp_path):
    game.step()
    doc = orjson.loads(game.to_json())
    doc["player"] = "Nobody Inc"
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(UserError) as exc:
        Game.load(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: player: Nobody Inc: not a provider") and "--as" not in msg


def test_money_has_one_format():
    from market.game import money

    assert [money(x) for x in (1.234e9, 456e6, 45.6e6, 78_900, 120, 0, -2.5e9, 5.8e16, 999.7e6)] == [
        "$1.23B", "$456M", "$45.6M", "$78.9k", "$120", "$0", "-$2.50B", "$58,000T", "$1.00B"]


def test_an_offer_needs_gpus_the_company_has_or_can_order():
    """The rule every seller follows: an offer needs free GPUs or GPUs NVIDIA sells, and starts
    when they can be running (``Exchange.earliest_start``); a generation NVIDIA no longer sells,
    with none free, is refused and nothing changes. (Nebius without its concentration limit,
    ``max_customer_share``, which would keep the offer within its free GPUs.)"""
    game = Game.new("baseline-2026", 0, ("providers.Nebius.max_customer_share=1",), "Nebius")
    m = game.model
    buyer = m.agent_by_name["Mistral"]
    vr = m.cat.index["VR200"]
    # VR200 ships from month 9: 59k of them offered for month 2 start no earlier than they can arrive
    r = m.exchange.request(buyer, vr, 59_000, 2, 12, "training")
    assert game.decision_errors(Decision(answers={r.request_id: {"action": "offer", "price": 0.9 * r.ceiling}})) == []
    assert game.offer_start(r) >= m.cat.launch[vr] + m.nvidia.spec.lead_time_months + 1 > r.start
    # H100 shipments end after month 5: in month 6 Nebius can offer only its free H100s
    h100 = m.cat.index["H100"]
    for _ in range(6):
        game.step()
    free = int(game.means(h100, m.month + 1, 12)["free"])
    r2 = m.exchange.request(buyer, h100, 2 * free + 1000, m.month + 1, 12, "inference")
    assert game.offer_size(r2) > free
    before = books(game)
    with pytest.raises(UserError, match=r"needs GPUs Nebius does not have: .* NVIDIA does not sell H100 now"):
        game.step({"answers": {r2.request_id: {"action": "offer", "price": 0.9 * r2.ceiling}}})
    assert np.array_equal(books(game), before) and game.model.month == 6


def test_an_offer_above_the_ceiling_is_refused_with_the_reason(game):
    m = game.model
    buyer = m.agent_by_name["Mistral"]
    r = m.exchange.request(buyer, m.cat.index["H200"], 100, 6, 12, "inference")
    errs = game.decision_errors(Decision(answers={r.request_id: {"action": "offer", "price": r.ceiling * 1.5}}))
    assert any("above Mistral's ceiling" in e for e in errs)


def test_the_shadow_game_starts_where_the_game_did(game):
    game.step({"orders": {"GB300": 1000}})
    s = game.shadow()
    assert s.player is None and s.model.month == 0 and s.seed == game.seed
    assert np.array_equal(s.opening["cash"], game.opening["cash"])


def test_the_requests_a_player_could_answer_are_kept_per_month(game):
    m = game.model
    r = m.exchange.request(m.agent_by_name["Mistral"], m.cat.index["H200"], 100, 6, 12, "inference")
    game.step()
    game.step()
    assert len(game.turn_requests) == 2
    assert (r.request_id, "Mistral", m.cat.index["H200"], 100) in game.turn_requests[0]
    watched = Game.new("baseline-2026", 0, ())
    watched.step()
    assert watched.turn_requests == []


def test_the_size_limits_are_lifted_for_a_game_only_when_asked():
    # 610 months is past the 600 a scenario may run without --allow-large: refused naming the
    # flag, accepted with it, and a fork of the accepted game keeps the lifted limits
    from market.errors import UserError

    with pytest.raises(UserError, match="allow-large"):
        Game.new("baseline-2026", 0, ["market.months=610"])
    g = Game.new("baseline-2026", 0, ["market.months=610"], allow_large=True)
    assert g.scenario.months == 610 and g.fork().scenario.months == 610
