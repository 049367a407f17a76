"""The news: the month's events in plain words, like a business game's monthly newsletter."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView


class News(VerticalScroll, MarketView):
    """The newsletter of the latest month; ``[`` and ``]`` (app-wide keys) read earlier and
    later issues."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.issue: int | None = None  # None: follow the latest month

    def compose(self):
        yield Static(id="news-body")

    def action_older(self) -> None:
        n = len(self.app.session.model.recorder.model_rows)  # type: ignore[attr-defined]
        cur = self.issue if self.issue is not None else n - 1
        self.issue = max(0, cur - 1)
        self.show(self.app.session)  # type: ignore[attr-defined]

    def action_newer(self) -> None:
        n = len(self.app.session.model.recorder.model_rows)  # type: ignore[attr-defined]
        cur = self.issue if self.issue is not None else n - 1
        self.issue = None if cur + 1 >= n - 1 else cur + 1
        self.show(self.app.session)  # type: ignore[attr-defined]

    def show(self, session: Session) -> None:
        with session.lock:
            m = session.model
            n = len(m.recorder.model_rows)
            if n == 0:
                self.query_one("#news-body", Static).update(Text(
                    f"{session.game.scenario.title}\n\n{session.game.scenario.description or session.game.scenario.summary}"
                    "\n\nNo month simulated yet. Press n for the first month.", style=""))
                return
            month = min(self.issue, n - 1) if self.issue is not None else n - 1
            sections = V.newsletter(m, month)
            label = m.label(month)
        parts: list = [Text(f"THE COMPUTE MARKET MONTHLY - {label}", style="bold reverse"),
                       Text(f"issue {month + 1} of {n}  ([ older, ] newer)", style="dim")]
        for title, lines in sections:
            parts.append(Text(""))
            parts.append(Text(title.upper(), style="bold underline"))
            for line in lines:
                parts.append(Text("• " + F.clean_text(line)))
        self.query_one("#news-body", Static).update(Group(*parts))
