"""The Textual app of ``gpumarket play``: watch, step and play the AI compute market.

The simulation runs in a daemon thread (``run_in_thread``: a worker that ``q`` need not wait for); when a step
finishes the app repaints and, while playing, schedules the next tick with ``set_timer``, so
ticks never overlap and the UI never waits on the model (the pattern of dolphie's refresh loop).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.timer import Timer

from market import runtime
from market.errors import UserError
from market.game import Decision, Game
from tui import views as V
from tui.commands import MarketCommands
from tui.messages import GameReplaced, MonthsAdvanced, ThreadDone
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
from tui.screens.market import SEAT_TABS, MarketScreen
from tui.session import Session


def save_folder() -> Path:
    """Where saved games go by default: the user's data folder (``$GPUMARKET_SAVES`` if set)."""
    env = os.environ.get("GPUMARKET_SAVES")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_data_path("gpumarket") / "saves"

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
        Binding("plus,equals_sign", "faster", "Faster", id="faster", key_display="+", tooltip="shorter pause",
                show=False),
        Binding("minus", "slower", "Slower", id="slower", key_display="-", tooltip="longer pause", show=False),
        Binding("j", "jump", "Jump", id="jump", tooltip="simulate several months at once"),
        Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="panels, glossary, keys"),
        Binding("q", "quit", "Quit", id="quit", tooltip="leave gpumarket at once"),
        Binding("1", "tab('dashboard')", "Dashboard", id="tab.dashboard", show=False),
        Binding("2", "tab('companies')", "Companies", id="tab.companies", show=False),
        Binding("3", "tab('contracts')", "Contracts", id="tab.contracts", show=False),
        Binding("4", "tab('news')", "News", id="tab.news", show=False),
        Binding("5", "tab('turn')", "Your turn", id="tab.turn", show=False),
        Binding("6", "tab('report')", "Report", id="tab.report", tooltip="what happened to your company"),
        Binding("7", "tab('obligations')", "Obligations: contracted GPUs vs GPUs and MW", id="tab.obligations",
                show=False),
        Binding("t", "share_measure", "Dashboard: share by revenue / GPU-hours", id="share_measure", show=False),
        Binding("p", "price_kind", "Dashboard: on-demand / reserved / spot prices", id="price_kind", show=False),
        Binding("left_square_bracket", "news_older", "News: older issue", id="news_older", key_display="[",
                show=False),
        Binding("right_square_bracket", "news_newer", "News: newer issue", id="news_newer", key_display="]",
                show=False),
        Binding("r", "restart", "Restart with another seed", id="restart", show=False),
        Binding("c", "choose_scenario", "New game: scenario, seed, company", id="choose_scenario", show=False),
        Binding("s", "save", "Save the game", id="save", show=False),
        Binding("l", "load", "Load a saved game", id="load", show=False),
        Binding("f", "fork", "Fork: compare two futures", id="fork", show=False),
        Binding("k", "scorecard", "Scorecard", id="scorecard", show=False),
        Binding("escape", "leave_input", "Leave a text box", id="leave_input", show=False),
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
        self.queued = 0  # months asked for (n, j) while a month was running: run in order when it ends
        self.busy_since = 0.0
        self.busy_what = ""
        self._threads: dict[str, threading.Thread] = {}
        self._busy_timer: Timer | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The seat's tabs (turn, report, obligations) are offered only when a company is played."""
        if action == "tab" and parameters and parameters[0] in SEAT_TABS and self.session.player is None:
            return False
        return True

    # ------------------------------------------------------------------ set-up
    def get_default_screen(self) -> MarketScreen:
        return MarketScreen()

    @property
    def market_screen(self) -> MarketScreen:
        return self.screen_stack[0]  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.title = f"gpumarket - {self.session.game.scenario.title}"

    def run_in_thread(self, kind: str, fn: Callable[[], object], token: object = None) -> None:
        """Run ``fn`` in a daemon thread; its result (or the exception it raised) comes back as a
        :class:`ThreadDone` message. Not a Textual thread worker: those run in asyncio's default
        executor, which the app waits for on exit, so ``q`` during a slow month (or a cold compile
        of the kernels, 40 s on a fresh machine) waited for it to end."""

        def run() -> None:
            try:
                result, error = fn(), None
            except BaseException as exc:  # noqa: BLE001 - handed to the app, which says what went wrong
                result, error = None, exc
            self.post_message(ThreadDone(kind, result, error, token))

        th = threading.Thread(target=run, name=f"gpumarket-{kind}", daemon=True)
        self._threads[kind] = th
        th.start()

    def thread_running(self, kind: str | None = None) -> bool:
        ths = [self._threads.get(kind)] if kind else list(self._threads.values())
        return any(th is not None and th.is_alive() for th in ths)

    def first_paint(self) -> None:
        """Called by the market screen once its views exist."""
        self.repaint()
        if self._autoplay:
            self.action_toggle_play()

    def repaint(self) -> None:
        """Status line and the visible view."""
        self.session.update_caches()
        self.update_status()
        self.market_screen.refresh_views()

    def update_status(self) -> None:
        from tui.widgets.status import StatusBar

        busy = None
        if self.busy:
            busy = (self.busy_what, time.monotonic() - self.busy_since, self.queued)
        self.market_screen.query_one(StatusBar).show(self.session, self.playing, SPEED_NAMES[self.speed], busy)

    # ------------------------------------------------------------------ stepping
    def action_next_month(self) -> None:
        """One month; when the player runs a company, the turn's decision is checked first and
        refused whole, with the reasons, if anything is wrong. Pressed while a month runs, it
        is queued: k presses advance k months, in order."""
        if self.session.finished:
            self._finished_notice()
            return
        if self.busy:
            self._queue(1)
            return
        self._step_one()

    def _step_one(self) -> None:
        """Start one month with the turn's decision (a player's company), or stop the queue if
        the turn is refused."""
        decision = None
        if self.session.player is not None:
            decision = self._read_turn()
            if decision is None:
                self.queued = 0
                self.update_status()
                return
        self._start_steps(1, decision)

    def _queue(self, months: int) -> None:
        left = self.session.game.scenario.months - (self.busy_to or self.session.model.month) - self.queued
        self.queued += max(0, min(months, left))
        self.update_status()

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
        m = self.session.model
        self.busy_to = m.month + months
        self.busy_since = time.monotonic()
        self.busy_what = (f"simulating {m.label(m.month)}" if months == 1
                          else f"simulating {m.label(m.month)} to {m.label(self.busy_to - 1)}")
        s = self.session
        generation = s.generation

        def work() -> int | UserError:
            """Simulate ``months`` months (the decision applies to the first); post progress."""
            done = 0
            for i in range(months):
                if self._quitting:
                    break
                with s.lock:
                    if s.generation != generation or s.finished:
                        break
                    try:
                        s.game.step(decision if i == 0 else None)
                    except UserError as exc:  # checked before, so only a race can bring us here
                        return exc
                done += 1
                self.post_message(MonthsAdvanced(s.model.month, self.busy_to or 0))
            return done

        self.run_in_thread("sim", work, token=generation)
        self.update_status()
        if self._busy_timer is None:
            self._busy_timer = self.set_interval(0.5, self.update_status, name="busy-clock")

    _quitting = False

    async def action_quit(self) -> None:
        """Leave at once, even mid-month: the month's thread is a daemon and is abandoned."""
        self._quitting = True
        self._pause()
        self.exit()

    def on_months_advanced(self, message: MonthsAdvanced) -> None:
        self.update_status()

    def on_thread_done(self, message: ThreadDone) -> None:
        kind = message.kind
        if kind == "sim" and message.token != self.session.generation:
            return  # a month of a game since replaced
        if kind == "sim":
            if self._thread_failed(message, "The month was not simulated"):
                self.busy = False
                self.busy_to = None
                self.queued = 0
                self._stop_busy_clock()
                self._pause()
                self.repaint()
            else:
                self._after_steps()
        elif kind == "load":
            self._after_load(message)
        elif kind == "fork":
            self._after_fork(message)
        elif kind == "shadow":
            self.market_screen.shadow_ready()

    def ensure_shadow(self) -> None:
        """Start (or carry on) the shadow run to the present month in a thread, unless it is
        there already or on its way: it costs a game's set-up and a few ms a month, so it is
        worked out only when the report is looked at."""
        s = self.session
        if s.player is None or self.thread_running("shadow"):
            return
        target = s.model.month
        if s.shadow is not None and s.shadow.model.month == target:
            return
        gen = s.generation
        base = s.game
        have = s.shadow if s.shadow is not None and s.shadow.model.month <= target else None

        def work() -> None:
            sh = have if have is not None else base.shadow()
            while sh.model.month < target and not self._quitting and s.generation == gen:
                sh.step()
            if s.generation == gen:
                s.shadow = sh

        self.run_in_thread("shadow", work)

    def _stop_busy_clock(self) -> None:
        if self._busy_timer is not None:
            self._busy_timer.stop()
            self._busy_timer = None

    def _after_steps(self) -> None:
        self.busy = False
        self.busy_to = None
        self._stop_busy_clock()
        self.repaint()
        if self.session.player is not None and not self.playing and not self.queued:
            self._month_toast()
        if self.session.finished:
            self.queued = 0
            self.playing = False
            self._cancel_timer()
            self.update_status()
            self._finished_notice()
        elif self.queued:
            # the next queued month: the player's turn is read from the form, now reset for it
            self.queued -= 1
            self.call_after_refresh(self._next_queued)
        elif self.playing:
            self._schedule_tick()

    def _month_toast(self) -> None:
        """A line on what the month did to the player's company, pointing to the report."""
        with self.session.lock:
            r = V.player_report(self.session.game)
        if not r:
            return
        from tui import format as F

        bits = [f"{len(r['won'])} contract{'s' if len(r['won']) != 1 else ''} won"]
        if r["lost"]:
            bits.append(f"{len(r['lost'])} lost or unanswered")
        if r["cancelled"]:
            bits.append(f"{len(r['cancelled'])} cancelled")
        if r["service"]["short"]:
            bits.append(f"short on {len(r['service']['short'])}")
        bits.append(f"net income {F.money(r['net_income'])}, share {F.pct(r['share'], 1)}")
        self.notify("; ".join(bits) + ". Press 6 for the report.", title=f"{r['company']}, {r['month']}", timeout=5)

    def _next_queued(self) -> None:
        if self.busy or self.session.finished:
            return
        self._step_one()

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
            decision = None
            if self.session.player is not None:  # playing a company: each month's turn is read as n reads it
                decision = self._read_turn()
                if decision is None:
                    self.playing = False
                    self.update_status()
                    return
            self._start_steps(1, decision)

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
            if not n:
                return
            if self.busy:
                self._queue(n)
            else:
                self._start_steps(min(n, left), None)

        if months is not None:
            go(months)
        else:
            self.push_screen(NumberScreen("Jump ahead: how many months?", min(12, left), 1, left), go)

    # ------------------------------------------------------------------ views
    def action_tab(self, tab: str) -> None:
        if tab in SEAT_TABS and self.session.player is None:
            self.notify("You are watching: pick a company to run with c (new game).")
            return
        if self.screen is not self.market_screen:
            return
        self.market_screen.show_tab(tab)

    def _view_action(self, tab: str, action: str) -> None:
        """A key of one view works whatever has focus: it shows that view and acts there."""
        if self.screen is not self.market_screen:
            return
        self.market_screen.show_tab(tab)
        getattr(self.market_screen.view(tab), action)()

    def action_share_measure(self) -> None:
        """Dashboard: market share by compute revenue or by GPU-hours sold."""
        self._view_action("dashboard", "action_toggle_measure")

    def action_price_kind(self) -> None:
        """Dashboard: on-demand, reserved or spot prices."""
        self._view_action("dashboard", "action_cycle_price")

    def action_news_older(self) -> None:
        self._view_action("news", "action_older")

    def action_news_newer(self) -> None:
        self._view_action("news", "action_newer")

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
        title = f"Scorecard after {done} month{'s' if done != 1 else ''} ({m.label(done - 1)})"
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
        self.busy = False  # a month still running for the old game stops at the generation check
        self.busy_to = None
        self.queued = 0
        self._stop_busy_clock()
        self._scorecard_shown = False
        self.session.replace(game)
        self.refresh_bindings()
        self.title = f"gpumarket - {game.scenario.title}"
        self.post_message(GameReplaced())

    async def on_game_replaced(self, message: GameReplaced) -> None:
        await self.market_screen.reset_for_new_game()
        self.repaint()

    # ------------------------------------------------------------------ save, load
    def _default_path(self) -> str:
        g = self.session.game
        who = f"-{g.player.replace(' ', '_')}" if g.player else ""
        return str(save_folder() / f"gpumarket-{g.scenario.name}-seed{g.seed}{who}-m{g.model.month}.json")

    def action_save(self, path: str | None = None) -> None:
        def go(p: str | None) -> None:
            if not p:
                return
            target = Path(p).expanduser()
            try:
                if target.parent == save_folder():
                    target.parent.mkdir(parents=True, exist_ok=True)
                with self.session.lock:
                    out = self.session.game.save(target)
            except (UserError, OSError) as exc:  # a read-only folder, a full disk: say so, play on
                msg = str(exc) if isinstance(exc, UserError) else f"{target}: {exc.strerror or exc}"
                self.last_error = msg
                self.notify(msg, title="Not saved", severity="error", timeout=8)
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
                self.run_in_thread("load", lambda: Game.load(Path(p).expanduser()))

        if path is not None:
            go(path)
        else:
            saves = [q for folder in (save_folder(), Path(".")) if folder.is_dir()
                     for q in folder.glob("gpumarket-*.json")]
            saves.sort(key=lambda q: q.stat().st_mtime)
            self.push_screen(PathScreen("Load a saved game from", str(saves[-1]) if saves else
                                        str(save_folder()) + os.sep), go)

    def _thread_failed(self, message: ThreadDone, title: str) -> bool:
        """Say what went wrong in a thread, if anything: the user's mistake (a UserError) or a
        bug (anything else)."""
        err = message.error
        if err is None and isinstance(message.result, UserError):
            err = message.result
        if err is None:
            return False
        msg = str(err) if isinstance(err, UserError) else f"internal error: {err!r}"
        self.last_error = msg
        self.notify(msg, title=title, severity="error", timeout=8)
        return True

    def _after_load(self, message: ThreadDone) -> None:
        if self._thread_failed(message, "Not loaded"):
            return
        game: Game = message.result  # type: ignore[assignment]
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

    def fork_futures(self, plan: ForkPlan, decision: Decision | None) -> None:
        """Two copies of the present run ``plan.months`` on, in a thread: A as is, B with the
        plan's events and the decision (the present game is not touched)."""

        def work() -> tuple[ForkPlan, Game, Game]:
            with self.session.lock:
                base = self.session.game
                a = base.fork()
                b = base.fork(plan.events or None)
            for i in range(plan.months):
                if a.finished or self._quitting:
                    break
                a.step(None)
                b.step(decision if i == 0 else None)
            return plan, a, b

        self.run_in_thread("fork", work)

    def _after_fork(self, message: ThreadDone) -> None:
        if self._thread_failed(message, "Fork failed"):
            return
        plan, a, b = message.result  # type: ignore[misc]
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

    async def wait_for_threads(self, timeout: float = 60.0) -> None:
        """Until no thread of the app is running and no queued month is left (for tests)."""
        import asyncio

        end = time.monotonic() + timeout
        while (self.thread_running() or self.busy or self.queued) and time.monotonic() < end:
            await asyncio.sleep(0.01)


def main(args) -> int:
    """Entry point of ``gpumarket play`` (``args`` from ``market.cli``). Bad input raises
    :class:`market.errors.UserError`, which the CLI prints as one line."""
    t0 = time.perf_counter()
    if getattr(args, "load", None):
        game = Game.load(args.load, allow_large=getattr(args, "allow_large", False))
        wanted = getattr(args, "as_company", None)
        if wanted and (game.player is None or wanted.strip().casefold() != game.player.casefold()):
            raise UserError(f"--as {args.as_company}: the saved game is played as {game.player or 'nobody'}; "
                            "drop --as to resume it")
    else:
        game = Game.new(args.scenario, args.seed, tuple(getattr(args, "overrides", ()) or ()),
                        getattr(args, "as_company", None), allow_large=getattr(args, "allow_large", False))
    app = GpuMarketApp(game)
    app.started_at = t0  # type: ignore[attr-defined]
    runtime.settle()
    app.run()
    code = int(app.return_code or 0)
    if app.thread_running():
        # a month of this app was still running when the user quit: leave now rather than wait
        # for it; nothing is lost, since saves are written whole and only when asked for
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ns = argparse.Namespace(scenario="baseline-2026", seed=0, as_company=None, load=None, overrides=[])
    raise SystemExit(main(ns))
