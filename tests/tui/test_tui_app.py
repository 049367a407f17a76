"""Pilot tests: keys pressed in the running app, asserted on the model and on the screen."""

from __future__ import annotations

import argparse
import asyncio
import io

import numpy as np
import pytest
from textual.widgets import DataTable, Input, Static

from market.errors import UserError
from market.game import Game
from tests.tui.conftest import settle
from tui.app import SPEEDS, GpuMarketApp, main
from tui.screens.dialogs import CompareScreen, ForkPlan, NewGame, ScorecardScreen
from tui.screens.help import HelpScreen
from tui.widgets.status import StatusBar

SIZE = (120, 40)


def text_of(widget: Static) -> str:
    """The plain text a Static shows, whatever renderable it holds."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    content = widget.content
    console.print(content.markup if hasattr(content, "markup") and not hasattr(content, "__rich_console__")
                  else content)
    return console.export_text()


async def test_n_advances_one_month_and_repaints(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.session.model.month == 0
        assert "No month simulated yet" in text_of(app.screen.query_one("#headline", Static))
        await pilot.press("n")
        await settle(pilot)
        assert app.session.model.month == 1
        assert "month 1/36" in text_of(app.screen.query_one(StatusBar))
        assert "GPUs shipped" in text_of(app.screen.query_one("#headline", Static))


async def test_space_plays_and_pauses(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.speed = len(SPEEDS) - 1  # no delay between months
        await pilot.press("space")
        assert app.playing
        for _ in range(50):  # let a few months go by
            await asyncio.sleep(0.05)
            if app.session.model.month >= 3:
                break
        await pilot.press("space")
        assert not app.playing
        await settle(pilot)
        assert app._timer is None
        played = app.session.model.month
        assert played >= 2
        await asyncio.sleep(0.2)
        await pilot.pause()
        assert app.session.model.month == played  # paused means paused
        assert "paused" in text_of(app.screen.query_one(StatusBar))


async def test_speed_keys(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        s = app.speed
        await pilot.press("plus")
        assert app.speed == s + 1
        await pilot.press("minus", "minus")
        assert app.speed == s - 1


async def test_jump_ahead(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        await pilot.pause()
        box = app.screen.query_one("#number", Input)
        box.value = "6"
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.model.month == 6
        assert "month 6/36" in text_of(app.screen.query_one(StatusBar))


async def test_tabs_show_companies_contracts_and_news(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(3)
        await settle(pilot)
        await pilot.press("2")
        await pilot.pause()
        body = text_of(app.screen.query_one("#company-body", Static))
        assert "Balance sheet" in body and "Backlog" in body and "CoreWeave" in body
        await pilot.press("3")
        await pilot.pause()
        signed = app.screen.query_one("#signed-table", DataTable)
        assert signed.row_count == len(app.session.model.exchange.contracts) > 0
        await pilot.press("4")
        await pilot.pause()
        news = text_of(app.screen.query_one("#news-body", Static))
        assert "THE COMPUTE MARKET MONTHLY - 2026-03" in news and "NVIDIA shipped" in news


async def test_company_list_shows_nvidia_and_labs(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(2)
        await settle(pilot)
        await pilot.press("2")
        await pilot.pause()
        from textual.widgets import OptionList

        from tui.widgets.companies import LABS, NVIDIA, Companies

        ol = app.screen.query_one(OptionList)
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        ol.highlighted = ids.index(NVIDIA)
        await pilot.pause()
        assert "Order book" in text_of(app.screen.query_one("#company-body", Static))
        ol.highlighted = ids.index(LABS)
        await pilot.pause()
        assert app.screen.query_one(Companies).selected == LABS
        assert "OpenAI" in text_of(app.screen.query_one("#company-body", Static))


async def test_a_players_order_reaches_nvidia(make_app, new_game):
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert app.screen.query_one("#tabs").active == "turn"
        app.screen.query_one("#order-4", Input).value = "1000"  # GB300
        await pilot.press("n")
        await settle(pilot)
        game = app.session.game
        assert game.model.month == 1
        assert game.decisions[0]["orders"] == {"GB300": 1000}
        # the same month without the order
        other = new_game("CoreWeave")
        other.step()
        p, q = game.company, other.company
        g = game.model.cat.index["GB300"]
        assert (p.on_order[g] + p.in_transit[g]) - (q.on_order[g] + q.in_transit[g]) == pytest.approx(1000)
        # the form is reset for the next month
        assert app.screen.query_one("#order-4", Input).value == ""


async def test_an_invalid_decision_is_refused_and_changes_nothing(make_app):
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(pilot)
        m = app.session.model
        before = m.ledger.balances.copy()
        app.screen.query_one("#borrow", Input).value = "9999B"
        await pilot.press("n")
        await settle(pilot)
        assert m.month == 1
        assert np.array_equal(before, m.ledger.balances)
        assert "lenders allow" in (app.last_error or "")
        assert "lenders allow" in text_of(app.screen.query_one("#turn-errors", Static))
        # a box that is not a number is refused too
        app.screen.query_one("#borrow", Input).value = "lots"
        await pilot.press("n")
        await settle(pilot)
        assert m.month == 1 and "not a number" in (app.last_error or "")
        # prices out of order
        app.screen.query_one("#borrow", Input).value = ""
        app.screen.query_one("#spot-0", Input).value = "99"
        await pilot.press("n")
        await settle(pilot)
        assert m.month == 1 and "spot <= reserved" in (app.last_error or "")
        assert np.array_equal(before, m.ledger.balances)


async def test_save_and_load_round_trip(make_app, tmp_path):
    app = make_app("Nebius")
    path = tmp_path / "game.json"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        app.screen.query_one("#order-4", Input).value = "500"
        app.screen.query_one("#build-mw", Input).value = "20"
        await pilot.press("n")
        await settle(pilot)
        app.action_jump(2)
        await settle(pilot)
        saved = app.session.model.ledger.balances.copy()
        month = app.session.model.month
        app.action_save(str(path))
        assert path.exists()
        app.action_jump(2)  # move on, then come back by loading
        await settle(pilot)
        assert app.session.model.month == month + 2
        app.action_load(str(path))
        await settle(pilot)
        m = app.session.model
        assert m.month == month and app.session.player == "Nebius"
        assert np.array_equal(saved, m.ledger.balances)
        assert app.session.game.decisions[0]["orders"] == {"GB300": 500}
        assert "month 3/36" in text_of(app.screen.query_one(StatusBar))


async def test_loading_a_bad_file_says_why(make_app, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_load(str(bad))
        await settle(pilot)
        assert "not valid JSON" in (app.last_error or "")
        assert app.session.model.month == 0


async def test_fork_compares_two_futures_and_adopts_one(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(2)
        await settle(pilot)
        base = app.session.model.ledger.balances.copy()
        plan = ForkPlan("interest rates +200 bp", [{"kind": "rate_change", "bps": 200}], 4, False)
        app.fork_futures(plan, None)
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        a, b = app.forks
        assert a.model.month == b.model.month == 6
        assert a.model.base_rate + 0.02 == pytest.approx(b.model.base_rate)
        assert np.array_equal(base, app.session.model.ledger.balances)  # the present is untouched
        assert app.screen.query_one(DataTable).row_count > 5
        await pilot.press("b")
        await settle(pilot)
        assert app.session.game is b and app.session.model.month == 6
        assert any(e["kind"] == "event:rate_change" for e in app.session.model.events_log)


def test_fork_replays_to_identical_state(new_game):
    g = new_game("Lambda")
    g.step({"orders": {"GB300": 200}, "build_mw": 5})
    g.step()
    f = g.fork()
    assert f.model.month == 2
    assert np.array_equal(f.model.ledger.balances, g.model.ledger.balances)
    g.step()
    f.step()
    assert np.array_equal(f.model.ledger.balances, g.model.ledger.balances)


async def test_help_opens_and_closes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_new_game_with_a_seat_shows_the_turn(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(pilot)
        app._new_game(NewGame("baseline-2026", 5, "Crusoe"))
        await settle(pilot)
        assert app.session.model.month == 0 and app.session.game.seed == 5 and app.session.player == "Crusoe"
        await pilot.press("5")
        await pilot.pause()
        assert app.screen.query_one("#tabs").active == "turn"
        assert "Crusoe - decisions for 2026-01" in text_of(app.screen.query_one("#turn-status", Static))


async def test_new_game_dialog_restarts_with_another_seed(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert app.screen.query_one("#seed", Input).value == "1"
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.game.seed == 1


async def test_scorecard_at_the_end(make_app):
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(36)
        await settle(pilot)
        assert app.session.finished
        assert isinstance(app.screen, ScorecardScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == len(app.session.model.providers)
        await pilot.press("escape")
        await pilot.press("n")  # nothing left to simulate
        await settle(pilot)
        assert app.session.model.month == 36


async def test_command_palette_offers_every_action(make_app):
    from tui.commands import MarketCommands

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        provider = MarketCommands(app.screen)
        names = [name for name, _, _ in provider._commands()]
        for wanted in ("Next month", "Play / pause", "Save game", "Load game", "Fork futures", "Run CoreWeave",
                       "Choose scenario", "Restart with another seed", "Scorecard", "Help"):
            assert wanted in names
        cb = dict((n, c) for n, _, c in provider._commands())["Jump ahead 6 months"]
        cb()
        await settle(pilot)
        assert app.session.model.month == 6


def test_main_refuses_an_unknown_company():
    ns = argparse.Namespace(scenario="baseline-2026", seed=0, as_company="Nope", load=None, overrides=[])
    with pytest.raises(UserError, match="not a provider"):
        main(ns)


def test_main_refuses_a_bad_save_file(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"format": "something else"}')
    ns = argparse.Namespace(scenario="baseline-2026", seed=0, as_company=None, load=str(p), overrides=[])
    with pytest.raises(UserError, match="not a gpumarket save file"):
        main(ns)


def test_app_holds_the_game_it_was_given():
    g = Game.new("baseline-2026", 3)
    app = GpuMarketApp(g)
    assert app.session.game is g and not app.playing


async def test_enter_in_a_turn_box_ends_the_turn(make_app):
    # typing an order and pressing Enter in the box submits the turn: the month advances and the
    # order reaches NVIDIA's book
    from textual.widgets import Input

    from tests.tui.conftest import settle

    app = make_app("CoreWeave")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        cat = app.session.model.cat
        g = cat.index["GB300"]
        box = app.screen.query_one(f"#order-{g}", Input)
        box.focus()
        box.value = "4000"
        await pilot.press("enter")
        await settle(pilot)
        p = app.session.model.provider_by_name["CoreWeave"]
        assert app.session.model.month == 1
        assert p.on_order[g] + p.in_transit[g] == 4000
