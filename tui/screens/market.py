"""The main screen: a status line, the views under tabs, and the footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from tui.widgets.base import MarketView
from tui.widgets.companies import Companies
from tui.widgets.contracts import Contracts
from tui.widgets.dashboard import Dashboard
from tui.widgets.news import News
from tui.widgets.report import Obligations, Report
from tui.widgets.status import StatusBar
from tui.widgets.turn import TurnPanel

TABS = ("dashboard", "companies", "contracts", "news", "turn", "report", "obligations")
SEAT_TABS = ("turn", "report", "obligations")


class MarketScreen(Screen):
    """Views repaint only while visible; a hidden one is marked stale and repaints when shown."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self) -> None:
        super().__init__(id="market")
        self.stale: set[str] = set(TABS)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with TabbedContent(id="tabs", initial="dashboard"):
            with TabPane("1 Dashboard", id="dashboard"):
                yield Dashboard(id="dashboard-view")
            with TabPane("2 Companies", id="companies"):
                yield Companies(id="companies-view")
            with TabPane("3 Contracts", id="contracts"):
                yield Contracts(id="contracts-view")
            with TabPane("4 News", id="news"):
                yield News(id="news-view")
            with TabPane("5 Turn", id="turn"):
                yield TurnPanel(id="turn-view")
            with TabPane("6 Report", id="report"):
                yield Report(id="report-view")
            with TabPane("7 Obligations", id="obligations"):
                yield Obligations(id="obligations-view")
        yield Footer()

    def on_mount(self) -> None:
        if self.app.session.player is None:  # type: ignore[attr-defined]
            for tab in SEAT_TABS:
                self.query_one(TabbedContent).hide_tab(tab)
        self.app.first_paint()  # type: ignore[attr-defined]

    def view(self, tab: str) -> MarketView:
        return self.query_one(f"#{tab}-view")  # type: ignore[return-value]

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def show_tab(self, tab: str) -> None:
        """Show a tab. Focus inside the old pane is dropped first: left there, the focused widget
        is hidden, Textual moves focus to the next widget of the same pane, and TabbedContent
        then switches back to that pane (so 2, Tab, Down, 3 stayed on Companies)."""
        tabs = self.query_one(TabbedContent)
        if tabs.active == tab:
            return
        f = self.focused
        if f is not None and f.id != "tabs" and any(a.id == tabs.active for a in f.ancestors):
            self.set_focus(None)
        tabs.active = tab
        view = self.view(tab)
        if isinstance(view, VerticalScroll):  # a page to read: arrows and PageDown scroll it at once
            self.call_after_refresh(view.focus)

    def refresh_views(self) -> None:
        """Repaint the visible view now and mark the others stale."""
        self.stale = set(TABS)
        self._paint(self.active_tab)

    def _paint(self, tab: str) -> None:
        if not tab:
            return
        self.stale.discard(tab)
        self.view(tab).show(self.app.session)  # type: ignore[attr-defined]

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id or ""
        if pane in self.stale:
            self._paint(pane)

    async def reset_for_new_game(self) -> None:
        """Another game: the turn form is rebuilt for its catalogue and the seat shown or hidden."""
        tabs = self.query_one(TabbedContent)
        companies = self.query_one(Companies)
        companies.reset()
        news = self.query_one(News)
        news.issue = None
        turn = self.query_one(TurnPanel)
        await turn.recompose()
        turn._filled_for = None
        turn._request_ids = []
        for tab in SEAT_TABS:
            if self.app.session.player is None:  # type: ignore[attr-defined]
                if tabs.active == tab:
                    tabs.active = "dashboard"
                tabs.hide_tab(tab)
            else:
                tabs.show_tab(tab)
        self.refresh_views()

    def shadow_ready(self) -> None:
        """The shadow run has caught up: the report shows it if it is on screen."""
        if self.active_tab == "report":
            self._paint("report")
        else:
            self.stale.add("report")
