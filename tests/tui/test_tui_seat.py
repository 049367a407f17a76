"""Pilot tests of issue 15: every key press counts, q quits at once, every key works whatever has
focus, the player's report and obligations, refusals that say why, saves that fail as a toast."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from textual.widgets import Input, OptionList, Select, Static

from market.game import Game
from tests.tui.conftest import settle
from tests.tui.test_tui_app import text_of
from tui.screens.dialogs import ForkScreen, NewGameScreen, NumberScreen, PathScreen, ScorecardScreen
from tui.screens.help import HelpScreen
from tui.widgets.status import StatusBar

SIZE = (120, 40)


def slow_steps(monkeypatch, seconds: float) -> None:
    """Every month takes at least ``seconds`` (as a cold first month does)."""
    real = Game.step

    def step(self, decision=None):
        time.sleep(seconds)
        return real(self, decision)

    monkeypatch.setattr(Game, "step", step)


async def test_n_pressed_three_times_during_a_slow_month_advances_three(make_app, monkeypatch):
    slow_steps(monkeypatch, 2.0)  # (long enough that a loaded machine presses the keys inside the month)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert app.busy
        await pilot.press("n", "n")
        await pilot.pause()
        status = text_of(app.screen.query_one(StatusBar))
        assert "◷ simulating 2026-01" in status and "2 more queued" in status  # the progress line
        await settle(pilot)
        assert app.session.model.month == 3 and app.queued == 0


async def test_queued_months_of_a_player_read_the_form_each_month(make_app, monkeypatch):
    slow_steps(monkeypatch, 0.2)
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await settle(pilot)
        assert app.session.model.month == 2
        assert app.session.game.decisions == [None, None]


async def test_q_quits_within_a_second_in_the_middle_of_a_month(make_app, monkeypatch):
    slow_steps(monkeypatch, 20.0)
    app = make_app()
    t0 = None
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert app.busy
        t0 = time.monotonic()
        await pilot.press("q")
    assert time.monotonic() - t0 < 1.0


async def test_t_and_p_work_from_the_keyboard_whatever_has_focus(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(pilot)
        dash = app.market_screen.view("dashboard")
        await pilot.press("2", "tab")  # focus in the companies list
        await pilot.pause()
        assert isinstance(app.focused, OptionList)
        await pilot.press("t")
        await pilot.pause()
        assert app.market_screen.active_tab == "dashboard" and dash.measure == "hours"
        assert "GPU-hours sold" in str(dash.query_one("#share-chart").plt._active.monitor.title)
        await pilot.press("p", "p")
        await pilot.pause()
        assert dash.price_kind == 2
        await pilot.press("t")
        assert dash.measure == "revenue"


async def test_square_brackets_page_the_news_from_the_keyboard(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(3)
        await settle(pilot)
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert app.market_screen.active_tab == "news"
        body = text_of(app.screen.query_one("#news-body", Static))
        assert "2026-02" in body and "issue 2 of 3" in body
        await pilot.press("left_square_bracket", "right_square_bracket", "right_square_bracket")
        await pilot.pause()
        assert "issue 3 of 3" in text_of(app.screen.query_one("#news-body", Static))


async def test_companies_tab_down_then_a_tab_key_switches(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "tab", "down", "3")
        await pilot.pause()
        assert app.market_screen.active_tab == "contracts"
        await pilot.press("2", "tab", "down", "4")
        await pilot.pause()
        assert app.market_screen.active_tab == "news"


@pytest.mark.parametrize("key, screen", [
    ("s", PathScreen), ("l", PathScreen), ("f", ForkScreen), ("c", NewGameScreen), ("r", NewGameScreen),
    ("j", NumberScreen), ("question_mark", HelpScreen),
])
async def test_each_dialog_key_opens_its_dialog(make_app, key, screen, monkeypatch, tmp_path):
    monkeypatch.setenv("GPUMARKET_SAVES", str(tmp_path))
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5", "tab")  # focus in the turn form's first box
        await pilot.press("escape")  # leaves the box
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, screen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, screen)


async def test_k_shows_the_scorecard_with_return_explained(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, ScorecardScreen)
        notes = text_of(app.screen.query_one("#scorecard-notes", Static))
        assert "return: the change in book equity since the start" in notes


@pytest.mark.parametrize("key, tab", [("1", "dashboard"), ("2", "companies"), ("3", "contracts"), ("4", "news"),
                                      ("5", "turn"), ("6", "report"), ("7", "obligations")])
async def test_number_keys_show_their_tabs(make_app, key, tab):
    app = make_app("Nebius")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3" if key != "3" else "1", key)
        await pilot.pause()
        assert app.market_screen.active_tab == tab


async def test_seat_tabs_are_hidden_when_watching(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.pause()
        assert app.market_screen.active_tab == "dashboard"


async def test_the_palette_has_every_key_action(make_app):
    from tui.commands import MarketCommands

    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE):
        names = [n for n, _, _ in MarketCommands(app.screen)._commands()]
        for wanted in ("Dashboard: share by revenue / GPU-hours", "Dashboard: next price kind", "News: older issue",
                       "News: newer issue", "Show your month's report", "Show obligations", "Faster", "Slower",
                       "Leave the text box", "Quit"):
            assert wanted in names
        cb = dict((n, c) for n, _, c in MarketCommands(app.screen)._commands())["Show obligations"]
        cb()
        assert app.market_screen.active_tab == "obligations"


async def test_help_shows_keys_as_typed_and_a_glossary(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        md = app.screen._keys()
        assert "plus,equals_sign" not in md and "question_mark" not in md
        assert "| `+` | Faster |" in md and "| `?` | Help |" in md and "| `[` | News: older issue |" in md
        from tui.screens.help import PANELS

        for term in ("Backlog", "Take-or-pay", "Reserved", "HHI", "Covenant"):
            assert f"**{term}" in PANELS


async def test_the_jump_dialog_replaces_its_prefill(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("5")
        assert app.screen.query_one("#number", Input).value == "5"
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.model.month == 5


async def test_saves_go_to_the_data_folder(make_app, monkeypatch, tmp_path):
    folder = tmp_path / "saves"
    monkeypatch.setenv("GPUMARKET_SAVES", str(folder))
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.query_one("#path", Input).value.startswith(str(folder))
        await pilot.press("enter")
        await pilot.pause()
        files = list(folder.glob("gpumarket-*.json"))
        assert len(files) == 1 and "CoreWeave-m1" in files[0].name
        assert not list(tmp_path.glob("gpumarket-*.json"))


async def test_a_save_where_no_folder_can_be_is_a_toast(make_app, tmp_path):
    # a path under a file: the file system refuses it whoever runs the tests (root too)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_save(str(blocker / "g.json"))
        await pilot.pause()
        assert app.last_error and "\n" not in app.last_error and "Traceback" not in app.last_error, app.last_error
        assert not (tmp_path / "g.json").exists()
        await pilot.press("n")
        await settle(pilot)
        assert app.session.model.month == 1


async def test_a_failing_save_is_a_toast_and_the_game_goes_on(make_app, tmp_path, monkeypatch):
    # whoever runs the tests (root included) meets an OSError from the file system the same way
    def fail(data, path):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("market.files.write_bytes", fail)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_save(str(tmp_path / "g.json"))
        await pilot.pause()
        assert "Read-only file system" in (app.last_error or "")
        assert any("Read-only" in str(n.message) for n in app._notifications)
        await pilot.press("n")
        await settle(pilot)
        assert app.session.model.month == 1


async def test_the_report_tells_the_player_what_happened(make_app):
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        app.screen.query_one("#order-4", Input).value = "1000"  # GB300
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        body = text_of(app.screen.query_one("#report-body", Static))
        for words in ("COREWEAVE: YOUR MONTH, 2026-01", "Ordered 1,000 GB300 GPUs from NVIDIA", "Cash flow",
                      "Cash from operations", "Covenants", "Leverage", "Prices against rivals", "utilisation"):
            assert words in body
        assert "the AI's plan" in body  # the shadow run, worked out when the report was opened
        assert app.session.shadow is not None and app.session.shadow.model.month == 1
        assert app.session.shadow.player is None


async def test_the_obligations_view_compares_contracts_with_gpus_and_mw(make_app):
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(3)
        await settle(pilot)
        await pilot.press("7")
        await pilot.pause()
        body = text_of(app.screen.query_one("#obligations-body", Static))
        assert "what your contracts need" in body and "MW powered" in body and "2026-04" in body


async def test_a_price_typed_without_choosing_is_an_offer(make_app):
    app = make_app("Nebius")
    async with app.run_test(size=SIZE) as pilot:
        g = app.session.game
        m = g.model
        buyer = m.agent_by_name["Mistral"]
        gen = m.cat.index["H200"]
        r = m.exchange.request(buyer, gen, 2000, max(4, g.nvidia_ready(gen, 2000)), 12, "inference")
        r.issued -= getattr(m.scn.negotiation, "bid_window", 0)  # negotiated this month, bid window or not
        await pilot.press("5")
        app.repaint()
        await settle(pilot)
        app.screen.query_one(f"#ansprice-{r.request_id}", Input).value = f"{0.9 * r.ceiling:.2f}"
        assert app.screen.query_one(f"#ans-{r.request_id}", Select).value == Select.NULL
        await pilot.press("n")
        await settle(pilot)
        assert g.decisions[0]["answers"] == {str(r.request_id): {"action": "offer",
                                                                 "price": pytest.approx(0.9 * r.ceiling, abs=0.01)}} \
            or g.decisions[0]["answers"] == {r.request_id: {"action": "offer",
                                                            "price": pytest.approx(0.9 * r.ceiling, abs=0.01)}}
        assert any(c.seller == "Nebius" and c.buyer == "Mistral" for c in m.exchange.contracts)


async def test_an_offer_without_the_gpus_is_refused_with_the_reason(make_app):
    """H100 shipments end after month 5: in month 6 an offer of more H100s than Nebius has free
    is refused with the reason, and nothing changes. (Nebius without its concentration limit,
    ``max_customer_share``, which would keep the offer within its free GPUs.)"""
    from market.game import Game
    from tui.app import GpuMarketApp

    app = GpuMarketApp(Game.new("baseline-2026", 0, ("providers.Nebius.max_customer_share=1",), "Nebius"))
    async with app.run_test(size=SIZE) as pilot:
        g = app.session.game
        m = app.session.model
        app.action_jump(6)
        await settle(pilot)
        h100 = m.cat.index["H100"]
        free = int(g.means(h100, m.month + 1, 12)["free"])
        r = m.exchange.request(m.agent_by_name["Mistral"], h100, 2 * free + 1000, m.month + 1, 12, "inference")
        await pilot.press("5")
        app.repaint()
        await settle(pilot)
        before = m.ledger.balances.copy()
        app.screen.query_one(f"#ansprice-{r.request_id}", Input).value = f"{0.9 * r.ceiling:.2f}"
        await pilot.press("n")
        await settle(pilot)
        assert m.month == 6 and np.array_equal(before, m.ledger.balances)
        errors = text_of(app.screen.query_one("#turn-errors", Static))
        assert "needs GPUs Nebius does not have" in errors and "NVIDIA does not sell H100 now" in errors


async def test_twelve_months_as_coreweave_answering_requests_through_the_form(make_app):
    """CoreWeave plays 12 months through the form, answering every request it may serve: an
    offer at 95% of the buyer's ceiling, with the missing GPUs ordered in the same turn when
    NVIDIA would not deliver them in time otherwise, for as many requests as the company can pay
    for together (each checked as the form will be, with ``decision_errors``); the rest are
    declined. With the engine's bid window (requests answered a month after they are issued) the
    12 months start at once; without it, requests reach a player's turn only when the AI rivals
    left them unfilled (the first for CoreWeave in month 16), so the 12 months start after a
    jump of 14."""
    from market.game import Decision
    from tui.format import display_name

    app = make_app("CoreWeave")
    signed: list = []
    async with app.run_test(size=SIZE) as pilot:
        g = app.session.game
        m = g.model
        first = 0 if getattr(m.scn.negotiation, "bid_window", 0) > 0 else 14
        if first:
            await pilot.press("j")
            await pilot.pause()
            await pilot.press(*str(first), "enter")
            await settle(pilot)
        assert m.month == first
        await pilot.press("5")
        await pilot.pause()
        answered = 0
        typed: set[float] = set()
        for _ in range(12):
            start = m.month
            await settle(pilot)
            rows = list(app.market_screen.query_one("TurnPanel")._request_ids)
            plan: dict = {"orders": {}, "answers": {}}
            for rid in rows:
                r = next(x for x in m.exchange.open_requests() if x.request_id == rid)
                gname = m.cat.names[r.generation]
                price = round(0.95 * r.ceiling, 2)
                short = max(0, g.offer_size(r) - int(g.means(r.generation, r.start, r.term)["free"]))
                ready = g.nvidia_ready(r.generation, short) if short else None
                orders = dict(plan["orders"])
                if short and not (ready is not None and ready <= r.start):
                    orders[gname] = orders.get(gname, 0) + short
                trial = {"orders": orders, "answers": {**plan["answers"], rid: {"action": "offer", "price": price}}}
                if not g.decision_errors(Decision.model_validate(trial)):
                    plan = trial
                    typed.add(price)
            for rid in rows:
                offer = plan["answers"].get(rid)
                app.screen.query_one(f"#ans-{rid}", Select).value = "offer" if offer else "decline"
                app.screen.query_one(f"#ansprice-{rid}", Input).value = f"{offer['price']:.2f}" if offer else ""
            for gname, n in plan["orders"].items():
                app.screen.query_one(f"#order-{m.cat.index[gname]}", Input).value = str(n)
            await pilot.press("n")
            await settle(pilot)
            assert m.month == start + 1, app.last_error
            assert g.decisions[-1] is None or len(g.decisions[-1]["answers"]) == len(rows)
            answered += len(rows)
        signed = [c for c in m.exchange.contracts if c.seller == "CoreWeave" and c.signed >= first]
        assert answered >= 2
        assert len(signed) >= 1
        assert all(round(float(c.price), 2) in typed for c in signed)  # at the prices typed in the form
        await pilot.press("6")
        await settle(pilot)
        if any(c.signed == m.month - 1 for c in signed):
            assert "Won: CoreWeave signs" in text_of(app.screen.query_one("#report-body", Static))
    print("signed by the player:", [(display_name(c.buyer), m.cat.names[c.generation], c.gpus, m.label(c.signed), m.label(c.start),
                                     round(float(c.price), 2)) for c in signed])


def test_the_contracts_table_and_news_hide_internal_suffixes(new_game):
    from tui import views as V
    from tui.format import clean_text, display_name

    g = new_game()
    for _ in range(3):
        g.step()
    names = [display_name(c["buyer"]) for c in V.contracts(g.model)]
    assert not any(n[-5:-4] == "-" and n[-4:].isdigit() for n in names)
    assert clean_text("Other frontier labs-0003 cancels its H100 contract with Lambda (late delivery); $0.00B fee") \
        == "Other frontier labs cancels its H100 contract with Lambda (late delivery); $0 fee"


def test_main_matches_the_company_of_a_saved_game_ignoring_case(tmp_path, monkeypatch):
    import argparse

    from market.errors import UserError
    from tui.app import GpuMarketApp, main

    g = Game.new("baseline-2026", 0, (), "Nebius")
    g.step()
    path = g.save(tmp_path / "g.json")
    ran = []
    monkeypatch.setattr(GpuMarketApp, "run", lambda self: ran.append(self.session.player))
    ns = argparse.Namespace(scenario="baseline-2026", seed=0, as_company="nebius", load=str(path), overrides=[])
    assert main(ns) == 0 and ran == ["Nebius"]
    ns.as_company = "Lambda"
    with pytest.raises(UserError, match="the saved game is played as Nebius"):
        main(ns)
    ns = argparse.Namespace(scenario="baseline-2026", seed=0, as_company="COREWEAVE", load=None, overrides=[])
    assert main(ns) == 0 and ran[-1] == "CoreWeave"


def test_serve_runs_play_with_this_interpreter_under_the_apps_title():
    import sys

    from tui.serve import command, title

    assert command(["rates-up-300", "--as", "Nebius"]) == f"{sys.executable} -m market play rates-up-300 --as Nebius"
    assert title(["baseline-2026", "--as", "CoreWeave"]) == "gpumarket - Baseline 2026: the market as reported"
    assert title(["no-such-scenario"]) == "gpumarket"


async def test_playing_a_company_reads_the_turn_and_a_toast_sums_up_the_month(make_app):
    from tui.app import SPEEDS

    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        # a month by key: its toast sums up what the month did and points to the report
        await pilot.press("n")
        await settle(pilot)
        assert any("Press 6 for the report" in str(n.message) for n in app._notifications), (
            [str(n.message) for n in app._notifications], app.last_error)
        await pilot.press("5")
        await pilot.pause()
        # the turn warns of the GB300 the contracts need from mid-2026 and the company lacks
        assert "Obligations: from 2026-06" in text_of(app.screen.query_one("#turn-status", Static))
        app.screen.query_one("#order-4", Input).value = "700"  # GB300
        # playing reads the turn each month as n does (how many months run before the pause lands
        # depends on the machine: the first played month is the one that took the order)
        app.speed = len(SPEEDS) - 1
        await pilot.press("space")
        for _ in range(200):
            await asyncio.sleep(0.02)
            if app.session.model.month >= 2:
                break
        await pilot.press("space")
        await settle(pilot)
        assert not app.playing
        assert app.session.game.decisions[1] == {"orders": {"GB300": 700}, "build_mw": 0.0, "prices": {},
                                                 "answers": {}, "borrow": 0.0, "repay": 0.0}


async def test_the_fork_comparison_reads_dates_on_its_x_axis(make_app):
    import re

    from textual_plotext import PlotextPlot

    from tui.screens.dialogs import CompareScreen, ForkPlan

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.action_jump(2)
        await settle(pilot)
        app.fork_futures(ForkPlan("interest rates +200 bp", [{"kind": "rate_change", "bps": 200}], 6, False), None)
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        labels = [x for x in app.screen.query_one(PlotextPlot).plt._active.monitor.xlabels if x]
        assert labels and all(re.fullmatch(r"\d{4}-\d{2}", x) for x in labels[0])
        await pilot.press("escape", "1")  # and the dashboard's share chart the same way
        await pilot.pause()
        dash = [x for x in app.screen.query_one("#share-chart").plt._active.monitor.xlabels if x]
        assert dash and all(re.fullmatch(r"\d{4}-\d{2}", x) for x in dash[0])


async def test_a_page_shown_by_its_key_scrolls_from_the_keyboard(make_app):
    app = make_app("CoreWeave")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        report = app.market_screen.view("report")
        assert app.focused is report and report.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert report.scroll_y > 0
        await pilot.press("3")  # and the tab keys still work from there
        await pilot.pause()
        assert app.market_screen.active_tab == "contracts"


async def test_every_request_row_is_on_screen_and_a_floor_makes_a_negotiated_offer(make_app):
    """The answers box grows with its rows (it once kept the one line of "No open request" and
    hid every request but a line of the first), and a floor typed beside a price is carried into
    the decision."""
    app = make_app("CoreWeave")
    async with app.run_test(size=SIZE) as pilot:
        g = app.session.game
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        rows = list(app.market_screen.query_one("TurnPanel")._request_ids)
        assert rows  # (month 1: the labs' requests of month 0 are open to answer)
        box = app.screen.query_one("#answers")
        assert box.region.height >= sum(w.region.height for w in box.children)
        rid = rows[0]
        r = next(x for x in g.model.exchange.open_requests() if x.request_id == rid)
        ceiling = r.ceiling  # (the buyer works its ceiling out again each month it negotiates)
        app.screen.query_one(f"#ansprice-{rid}", Input).value = f"{ceiling:.2f}"
        app.screen.query_one(f"#ansfloor-{rid}", Input).value = f"{0.5 * ceiling:.2f}"
        await pilot.press("n")
        await settle(pilot)
        answer = g.decisions[-1]["answers"][str(rid)] if str(rid) in g.decisions[-1]["answers"] else \
            g.decisions[-1]["answers"][rid]
        assert answer == {"action": "offer", "price": pytest.approx(ceiling, abs=0.01),
                          "floor": pytest.approx(0.5 * ceiling, abs=0.01)}
        mine = [o for o in g.model.exchange.offers_on(rid) if o["seller"] == "CoreWeave"]
        assert mine and not mine[0]["firm"]
