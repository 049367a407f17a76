"""The command palette (ctrl+p) offers every action of the app by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class MarketCommands(Provider):
    """Every action: stepping, views, new games, seats, save/load, fork, scorecard, help."""

    def _commands(self) -> list[tuple[str, str, object]]:
        app = self.app
        out: list[tuple[str, str, object]] = [
            ("Next month", "simulate one month (ends your turn)", app.action_next_month),
            ("Play / pause", "run month after month", app.action_toggle_play),
            ("Faster", "shorter pause between months", app.action_faster),
            ("Slower", "longer pause between months", app.action_slower),
            ("Jump ahead...", "simulate several months at once", app.action_jump),
            ("Jump ahead 6 months", "simulate six months", partial(app.action_jump, 6)),
            ("Jump ahead 12 months", "simulate a year", partial(app.action_jump, 12)),
            ("Restart with another seed", "same scenario, new random draws", app.action_restart),
            ("Choose scenario", "pick a bundled scenario, seed and company", app.action_choose_scenario),
            ("Save game", "write the game to a JSON file", app.action_save),
            ("Load game", "resume a saved game", app.action_load),
            ("Fork futures", "compare two futures from this month", app.action_fork),
            ("Scorecard", "every provider ranked", app.action_scorecard),
            ("Help", "what the panels and mechanisms mean", app.action_help),
            ("Show dashboard", "market share and prices", partial(app.action_tab, "dashboard")),
            ("Show companies", "accounts, NVIDIA, labs", partial(app.action_tab, "companies")),
            ("Show contracts", "requests, negotiations, contracts", partial(app.action_tab, "contracts")),
            ("Show news", "the monthly newsletter", partial(app.action_tab, "news")),
            ("Dashboard: share by revenue / GPU-hours", "switch the share chart's measure (t)",
             app.action_share_measure),
            ("Dashboard: next price kind", "on-demand, reserved or spot prices (p)", app.action_price_kind),
            ("News: older issue", "the newsletter of the month before ([)", app.action_news_older),
            ("News: newer issue", "the newsletter of the month after (])", app.action_news_newer),
            ("Leave the text box", "give the keys back to the app (escape)", app.action_leave_input),
            ("Quit", "leave gpumarket", app.exit),
        ]
        session = app.session
        if session.player is not None:
            out.append(("Show your turn", "your decisions for the month", partial(app.action_tab, "turn")))
            out.append(("Show your month's report", "what happened to your company, and the AI's plan (6)",
                        partial(app.action_tab, "report")))
            out.append(("Show obligations", "contracted GPUs by month against GPUs and MW (7)",
                        partial(app.action_tab, "obligations")))
            out.append(("Stop running a company", "restart the scenario, watching", partial(app.action_play_as, None)))
        for p in session.model.providers:
            if p.name != session.player:
                out.append((f"Run {p.name}", f"restart the scenario at month 0 in {p.name}'s seat",
                            partial(app.action_play_as, p.name)))
        return out

    async def discover(self) -> Hits:
        for name, help_text, cb in self._commands():
            yield DiscoveryHit(name, cb, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, cb in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)  # type: ignore[arg-type]
