"""Fixtures of the UI tests: a clean environment for stable snapshots, games and apps."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from market.game import Game


@pytest.fixture(autouse=True)
def _stable_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR and TEXTUAL_THEME change what is drawn; a blinking cursor changes it over time."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    monkeypatch.setattr("textual.widgets._input.Input.cursor_blink", False)


@pytest.fixture
def new_game():
    def make(player: str | None = None, seed: int = 0) -> Game:
        return Game.new("baseline-2026", seed, (), player)

    return make


@pytest.fixture
def make_app(new_game):
    from tui.app import GpuMarketApp

    def make(player: str | None = None, seed: int = 0) -> GpuMarketApp:
        return GpuMarketApp(new_game(player, seed))

    return make


async def settle(pilot) -> None:
    """Wait for the stepping, loading and forking threads (and any queued month), then for the
    repaint."""
    await pilot.app.wait_for_threads()
    await pilot.pause()
    await pilot.app.wait_for_threads()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    # a chart's refresh() is scheduled, not immediate: let every scheduled repaint land
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """Run ``async def`` tests in a fresh event loop (the project has no asyncio plugin;
    Textual's pilot needs nothing more)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None
