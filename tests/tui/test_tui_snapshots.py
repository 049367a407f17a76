"""SVG snapshots at fixed terminal sizes, timers paused (nothing plays). Regenerate with
``pytest tests/tui --snapshot-update`` after a deliberate change of the look."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.conftest import settle


def stepped_app(new_game, months: int, player: str | None = None):
    """An app on a game already stepped ``months`` months outside the UI: the snapshot then
    depends on the look alone, not on when a worker thread's last repaint lands (stepping
    through the worker is what the Pilot tests check). With a player, its last month orders
    GPUs, and the shadow run is worked out here too, for the same reason."""
    from tui.app import GpuMarketApp

    game = new_game(player)
    for i in range(months):
        game.step({"orders": {"GB300": 5000}, "build_mw": 10} if player and i == months - 1 else None)
    app = GpuMarketApp(game)
    if player:
        shadow = game.shadow()
        for _ in range(months):
            shadow.step()
        app.session.shadow = shadow
    return app


async def _settled(pilot) -> None:
    await settle(pilot)


def test_dashboard_at_month_zero(snap_compare, make_app):
    # what a class sees first: the scenario, its description and its question
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_settled)


def test_dashboard_after_six_months(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 6), terminal_size=(120, 40), run_before=_settled)


def test_dashboard_at_80x24(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 6), terminal_size=(80, 24), run_before=_settled)


def test_companies_coreweave(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 4), terminal_size=(120, 40), run_before=_settled, press=["2"])


def test_news(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 2), terminal_size=(120, 40), run_before=_settled, press=["4"])


def test_turn_with_a_refused_decision(snap_compare, make_app):
    async def run_before(pilot) -> None:
        await pilot.press("5")
        await pilot.pause()
        pilot.app.screen.query_one("#borrow", Input).value = "9999B"
        pilot.app.action_next_month()
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app("CoreWeave"), terminal_size=(120, 40), run_before=run_before)


def test_dashboard_of_a_player_at_80x24(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 6, "CoreWeave"), terminal_size=(80, 24), run_before=_settled)


def test_first_turn_guide_at_80x24(snap_compare, make_app):
    assert snap_compare(make_app("CoreWeave"), terminal_size=(80, 24), run_before=_settled)


def test_report_at_120x40(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 3, "CoreWeave"), terminal_size=(120, 40), run_before=_settled,
                        press=["6"])


def test_report_at_80x24(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 3, "CoreWeave"), terminal_size=(80, 24), run_before=_settled,
                        press=["6"])


def test_obligations_at_120x40(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 3, "CoreWeave"), terminal_size=(120, 40), run_before=_settled,
                        press=["7"])


def test_obligations_at_80x24(snap_compare, new_game):
    assert snap_compare(stepped_app(new_game, 3, "CoreWeave"), terminal_size=(80, 24), run_before=_settled,
                        press=["7"])
