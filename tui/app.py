"""The Textual app of ``gpumarket play``: watch, step and play the AI compute market.

The simulation runs in a thread worker (``@work(thread=True, exclusive=True)``); when a step
finishes the app repaints and, while playing, schedules the next tick with ``set_timer``, so
ticks never overlap and the UI never waits on the model (the pattern of dolphie's refresh loop).
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from market import runtime
from market.errors import UserError
from market.game import Decision, Game
from tui import views as V
from tui.commands import MarketCommands
from tui.messages import GameReplaced, MonthsAdvanced
from tui.screens.dialogs import (
    CompareScreen,
    ForkPlan,
    ForkScreen,
    NewGame,
    NewGameScreen,
    NumberScreen,
    PathScreen,
    ScorecardScreen,
    fork_presets,
)
from tui.screens.help import HelpScreen
from tui.screens.market import MarketScreen
from tui.session import Session

#: pause between months while playing, slowest first (a zero-delay Textual timer never fires)
SPEEDS = (2.0, 1.0, 0.5, 0.25, 0.1, 0.02)
SPEED_NAMES = ("×¼", "×½", "×1", "×2", "×5", "max")


class GpuMarketApp(App):
    """The market on screen."""

    TITLE = "gpumarket"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {MarketCommands}
    BINDINGS = [
        Binding("n", "next_month", "Next month", id="next_month", tooltip="simulate one month (ends your turn)"),
        Binding("space", "toggle_play", "Play/pause", id="toggle_play", tooltip="run month after month"),
        Binding("plus,equals_sign", "faster", "Faster", id="faster", key_display="+"),
        Binding("minus", "slower", "Slower", id="slower", key_display="-"),
        Binding("j", "jump", "Jump ahead", id="jump", tooltip="simulate several months at once"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("1", "tab('dashboard')", "Dashboard", id="tab.dashboard", show=False),
        Binding("2", "tab('companies')", "Companies", id="tab.companies", show=False),
        Binding("3", "tab('contracts')", "Contracts", id="tab.contracts", show=False),
        Binding("4", "tab('news')", "News", id="tab.news", show=False),
        Binding("5", "tab('turn')", "Your turn", id="tab.turn", show=False),
        Binding("r", "restart", "Restart (seed)", id="restart", show=False, tooltip="restart with another seed"),
        Binding("c", "choose_scenario", "Choose scenario", id="choose_scenario", show=False),
        Binding("s", "save", "Save", id="save", show=False),
        Binding("l", "load", "Load", id="load", show=False),
        Binding("f", "fork", "Fork futures", id="fork", show=False),
        Binding("k", "scorecard", "Scorecard", id="scorecard", show=False),
        Binding("escape", "leave_input", "Leave box", id="leave_input", show=False),
    ]

    def __init__(self, game: Game, autoplay: bool = False) -> None:
        super().__init__()
        self.session = Session(game)
        self.playing = False
        self.speed = 2
        self.busy = False
        self.busy_to: int | None = None
        self._timer: Timer | None = None
        self._autoplay = autoplay
        self._scorecard_shown = False
        self.last_error: str | None = None  # the last refused decision or failed action, for tests and help

    # ------------------------------------------------------------------ set-up
    def get_default_screen(self) -> MarketScreen:
        return MarketScreen()

    @property
    def market_screen(self) -> MarketScreen:
        return self.screen_stack[0]  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.title = f"gpumarket - {self.session.game.scenario.title}"

    @work(thread=True, group="warm", exit_on_error=False)
    def _warm_up(self) -> None:
        """Load the engine's compiled kernels once the first screen is up, while it is read, so
        that the first month does not wait for them."""
        from market import compiled

        compiled.warm_up()

    def first_paint(self) -> None:
        """Called by the market screen once its views exist."""
        self.repaint()
        self.set_timer(1.0, self._warm_up)  # once the first screen is on the terminal
        if self._autoplay:
            self.action_toggle_play()

    def repaint(self) -> None:
        """Status line and the visible view."""
        self.session.update_caches()
        self.update_status()
        self.market_screen.refresh_views()

    def update_status(self) -> None:
        from tui.widgets.status import StatusBar

        self.market_screen.query_one(StatusBar).show(self.session, self.playing, SPEED_NAMES[self.speed],
                                                     self.busy_to if self.busy else None)

    # ------------------------------------------------------------------ stepping
    def action_next_month(self) -> None:
        """One month; when the player runs a company, the turn's decision is checked first and
        refused whole, with the reasons, if anything is wrong."""
        if self.busy:
            return
        if self.session.finished:
            self._finished_notice()
            return
        decision = None
        if self.session.player is not None:
            decision = self._read_turn()
            if decision is None:
                return
        self._start_steps(1, decision)

    def _read_turn(self) -> Decision | None:
        from tui.widgets.turn import TurnPanel

        turn = self.market_screen.query_one(TurnPanel)
        try:
            with self.session.lock:
                d = turn.read_decision(self.session)
                errors = self.session.game.decision_errors(d)
        except ValueError as exc:  # a box that is not a number; pydantic's errors are ValueErrors too
            errors = [str(exc).splitlines()[0]]
            d = None
        if errors:
            self.refuse(errors)
            return None
        turn.show_errors([])
        return d

    def refuse(self, errors: list[str]) -> None:
        from tui.widgets.turn import TurnPanel

        self.last_error = "; ".join(errors)
        self.market_screen.show_tab("turn")
        self.market_screen.query_one(TurnPanel).show_errors(errors)
        self.notify("\n".join(errors), title="Decision refused: nothing changed", severity="error", timeout=8)

    def _start_steps(self, months: int, decision: Decision | None) -> None:
        self.busy = True
        self.busy_to = self.session.model.month + months
        self._step_worker(months, decision, self.session.generation)
        if months > 1:
            self.update_status()

    @work(thread=True, exclusive=True, group="sim", exit_on_error=False)
    def _step_worker(self, months: int, decision: Decision | None, generation: int) -> int:
        """Simulate ``months`` months (the decision applies to the first); post progress."""
        s = self.session
        done = 0
        for i in range(months):
            with s.lock:
                if s.generation != generation or s.finished:
                    break
                try:
                    s.game.step(decision if i == 0 else None)
                except UserError as exc:  # checked before, so only a race can bring us here
                    return exc
            done += 1
            if months > 1:
                self.post_message(MonthsAdvanced(s.model.month, self.busy_to or 0))
        return done

    def on_months_advanced(self, message: MonthsAdvanced) -> None:
        self.update_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        w = event.worker
        if w.group == "sim":
            if event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
                if self._worker_failed(w, "The month was not simulated"):
                    self.busy = False
                    self.busy_to = None
                    self._pause()
                    self.repaint()
                else:
                    self._after_steps()
        elif w.group == "load" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._after_load(w)
        elif w.group == "fork" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._after_fork(w)

    def _after_steps(self) -> None:
        self.busy = False
        self.busy_to = None
        self.repaint()
        if self.session.finished:
            self.playing = False
            self._cancel_timer()
            self.update_status()
            self._finished_notice()
        elif self.playing:
            self._schedule_tick()

    def _finished_notice(self) -> None:
        if self.session.player is not None and not self._scorecard_shown:
            self._scorecard_shown = True
            self.action_scorecard()
        else:
            self.notify(f"The scenario ends after {self.session.game.scenario.months} months: k shows the scorecard, "
                        f"r restarts, c picks another scenario.", title="Finished")

    def _schedule_tick(self) -> None:
        self._cancel_timer()
        self._timer = self.set_timer(SPEEDS[self.speed], self._tick, name="play-tick")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        if self.playing and not self.busy and not self.session.finished:
            self._start_steps(1, None)

    def action_toggle_play(self) -> None:
        if self.playing:
            self.playing = False
            self._cancel_timer()
        else:
            if self.session.finished:
                self._finished_notice()
                return
            self.playing = True
            if not self.busy:
                self._tick()
        self.update_status()

    def action_faster(self) -> None:
        self.speed = min(len(SPEEDS) - 1, self.speed + 1)
        self.update_status()

    def action_slower(self) -> None:
        self.speed = max(0, self.speed - 1)
        self.update_status()

    def action_jump(self, months: int | None = None) -> None:
        left = self.session.game.scenario.months - self.session.model.month
        if left <= 0:
            self._finished_notice()
            return

        def go(n: int | None) -> None:
            if n and not self.busy:
                self._start_steps(min(n, left), None)

        if months is not None:
            go(months)
        else:
            self.push_screen(NumberScreen("Jump ahead: how many months?", min(12, left), 1, left), go)

    # ------------------------------------------------------------------ views
    def action_tab(self, tab: str) -> None:
        if tab == "turn" and self.session.player is None:
            self.notify("You are watching: pick a company to run with c (new game).")
            return
        self.market_screen.show_tab(tab)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_leave_input(self) -> None:
        self.screen.set_focus(None)

    def action_scorecard(self) -> None:
        with self.session.lock:
            rows = self.session.game.scorecard()
            m = self.session.model
            done = m.month
        if not rows:
            self.notify("No month simulated yet.")
            return
        title = f"Scorecard after {done} months ({m.label(done - 1)})"
        self.push_screen(ScorecardScreen(rows, title))

    # ------------------------------------------------------------------ new games
    def _pause(self) -> None:
        self.playing = False
        self._cancel_timer()

    def action_restart(self) -> None:
        g = self.session.game
        self._pause()
        self.push_screen(NewGameScreen(g.scenario.name, g.seed + 1, g.player, focus="seed"), self._new_game)

    def action_choose_scenario(self) -> None:
        g = self.session.game
        self._pause()
        self.push_screen(NewGameScreen(g.scenario.name, g.seed, g.player), self._new_game)

    def action_play_as(self, company: str | None) -> None:
        g = self.session.game
        self._pause()
        self._new_game(NewGame(g.source, g.seed, company))

    def _new_game(self, choice: NewGame | None) -> None:
        if choice is None:
            return
        try:
            game = Game.new(choice.scenario, choice.seed, (), choice.player)
        except UserError as exc:
            self.notify(str(exc), title="Cannot start", severity="error")
            return
        self.replace_game(game)
        who = f", running {choice.player}" if choice.player else ""
        self.notify(f"{game.scenario.title}, seed {choice.seed}{who}", title="New game")

    def replace_game(self, game: Game) -> None:
        self._pause()
        self.workers.cancel_group(self, "sim")
        self.busy = False
        self.busy_to = None
        self._scorecard_shown = False
        self.session.replace(game)
        self.title = f"gpumarket - {game.scenario.title}"
        self.post_message(GameReplaced())

    async def on_game_replaced(self, message: GameReplaced) -> None:
        await self.market_screen.reset_for_new_game()
        self.repaint()

    # ------------------------------------------------------------------ save, load
    def _default_path(self) -> str:
        g = self.session.game
        who = f"-{g.player.replace(' ', '_')}" if g.player else ""
        return f"gpumarket-{g.scenario.name}-seed{g.seed}{who}-m{g.model.month}.json"

    def action_save(self, path: str | None = None) -> None:
        def go(p: str | None) -> None:
            if not p:
                return
            try:
                with self.session.lock:
                    out = self.session.game.save(p)
            except UserError as exc:
                self.last_error = str(exc)
                self.notify(str(exc), title="Not saved", severity="error")
                return
            self.notify(f"saved to {out}", title="Saved")

        if path is not None:
            go(path)
        else:
            self.push_screen(PathScreen("Save the game to", self._default_path()), go)

    def action_load(self, path: str | None = None) -> None:
        def go(p: str | None) -> None:
            if p:
                self._pause()
                self._load_worker(p)

        if path is not None:
            go(path)
        else:
            saves = sorted(Path(".").glob("gpumarket-*.json"), key=lambda q: q.stat().st_mtime)
            self.push_screen(PathScreen("Load a saved game from", str(saves[-1]) if saves else ""), go)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self, path: str) -> Game | UserError:
        try:
            return Game.load(path)
        except UserError as exc:  # the user's mistake is a result, not a failure of the worker
            return exc

    def _worker_failed(self, w: Worker, title: str) -> bool:
        """Say what went wrong with a worker, if anything: its result is a UserError, or it
        raised (a bug)."""
        if w.state == WorkerState.ERROR:
            msg = f"internal error: {w.error!r}"
        elif isinstance(w.result, UserError):
            msg = str(w.result)
        else:
            return False
        self.last_error = msg
        self.notify(msg, title=title, severity="error", timeout=8)
        return True

    def _after_load(self, w: Worker) -> None:
        if self._worker_failed(w, "Not loaded"):
            return
        game: Game = w.result  # type: ignore[assignment]
        self.replace_game(game)
        self.notify(f"{game.scenario.name}, month {game.model.month}", title="Loaded")

    # ------------------------------------------------------------------ fork
    def action_fork(self) -> None:
        g = self.session.game
        left = g.scenario.months - g.model.month
        if left <= 0:
            self.notify("The scenario is over: nothing left to fork.")
            return
        self._pause()
        m = g.model
        presets = fork_presets(set(m.provider_by_name), {b.name for b in m.buyer_agents})
        self.push_screen(ForkScreen(presets, left, g.player is not None), self._fork_go)

    def _fork_go(self, plan: ForkPlan | None) -> None:
        if plan is None:
            return
        decision = None
        if plan.with_decision:
            decision = self._read_turn()
            if decision is None:
                return
        self.notify(f"running both futures {plan.months} months ahead...", title="Fork")
        self.fork_futures(plan, decision)

    @work(thread=True, exclusive=True, group="fork", exit_on_error=False)
    def fork_futures(self, plan: ForkPlan, decision: Decision | None) -> tuple[ForkPlan, Game, Game] | UserError:
        """Two copies of the present run ``plan.months`` on: A as is, B with the plan's events
        and the decision (the present game is not touched)."""
        try:
            with self.session.lock:
                base = self.session.game
                a = base.fork()
                b = base.fork(plan.events or None)
            for i in range(plan.months):
                if a.finished:
                    break
                a.step(None)
                b.step(decision if i == 0 else None)
        except UserError as exc:
            return exc
        return plan, a, b

    def _after_fork(self, w: Worker) -> None:
        if self._worker_failed(w, "Fork failed"):
            return
        plan, a, b = w.result  # type: ignore[misc]
        self.forks = (a, b)
        rows = V.compare_rows(a.model, b.model, a.player)
        what = plan.label + (" + my decision" if plan.with_decision and plan.events else "")
        if not plan.events:
            what = "my decision"
        title = f"Fork at {a.model.label(a.model.month - plan.months)}: {plan.months} months on. B: {what}"

        def adopt(which: str | None) -> None:
            if which in ("a", "b"):
                self.replace_game(a if which == "a" else b)
                self.notify(f"carrying on with future {which.upper()}", title="Fork")

        self.push_screen(CompareScreen(title, rows, a.model, b.model), adopt)


def main(args) -> int:
    """Entry point of ``gpumarket play`` (``args`` from ``market.cli``). Bad input raises
    :class:`market.errors.UserError`, which the CLI prints as one line."""
    t0 = time.perf_counter()
    if getattr(args, "load", None):
        game = Game.load(args.load)
        if getattr(args, "as_company", None) and args.as_company != game.player:
            raise UserError(f"--as {args.as_company}: the saved game is played as {game.player or 'nobody'}; "
                            "drop --as to resume it")
    else:
        game = Game.new(args.scenario, args.seed, tuple(getattr(args, "overrides", ()) or ()),
                        getattr(args, "as_company", None))
    app = GpuMarketApp(game)
    app.started_at = t0  # type: ignore[attr-defined]
    runtime.settle()
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ns = argparse.Namespace(scenario="baseline-2026", seed=0, as_company=None, load=None, overrides=[])
    raise SystemExit(main(ns))
