"""SVG snapshots at fixed terminal sizes, timers paused (nothing plays). Regenerate with
``pytest tests/tui --snapshot-update`` after a deliberate change of the look."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.conftest import settle


def _months(n: int):
    async def run_before(pilot) -> None:
        await pilot.pause()
        pilot.app.action_jump(n)
        await settle(pilot)

    return run_before


def test_dashboard_after_six_months(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_months(6))


def test_dashboard_at_80x24(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_months(6))


def test_companies_coreweave(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_months(4), press=["2"])


def test_news(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_months(2), press=["4"])


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
