"""The dialogs: new game (scenario, seed, company), jump ahead, save/load path, fork, compare
futures and the scorecard. Each is a modal screen that dismisses with its result."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from market.scenario import Scenario, list_scenarios
from tui import format as F
from tui.widgets.base import month_ticks, plot_lines

WATCH = "__watch__"


class Dialog(ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def focus_prefilled(self, box: Input) -> None:
        """Focus a pre-filled box with its text selected, so that typing replaces it (typing
        "15" over "12" gives 15, not 1215)."""
        box.focus()
        self.call_after_refresh(box.select_all)


@dataclass
class NewGame:
    scenario: str
    seed: int
    player: str | None


class NewGameScreen(Dialog):
    """Pick a bundled scenario (with its description), a seed and, optionally, a company to run."""

    def __init__(self, scenario: str, seed: int, player: str | None, focus: str = "scenarios") -> None:
        super().__init__()
        self.scenarios: list[Scenario] = list_scenarios()
        self.initial = (scenario, seed, player)
        self.focus_on = focus

    def compose(self) -> ComposeResult:
        scenario, seed, player = self.initial
        with Vertical(classes="dialog", id="newgame"):
            yield Label("New game", classes="dialog-title")
            with Horizontal(id="newgame-body"):
                yield OptionList(*[Option(s.name, id=s.name) for s in self.scenarios], id="scenario-list")
                yield VerticalScroll(Static(id="scenario-about"), id="scenario-about-box")
            with Horizontal(classes="form-row", id="newgame-seed-row"):
                yield Label("Seed", classes="short-label")
                yield Input(str(seed), id="seed", classes="num", type="integer")
                yield Label("Run", classes="short-label")
                yield Select([("watch the market", WATCH)], id="seat", allow_blank=False, value=WATCH)
            with Horizontal(classes="buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        names = [s.name for s in self.scenarios]
        ol.highlighted = names.index(self.initial[0]) if self.initial[0] in names else 0
        self._describe(ol.highlighted or 0)
        if self.focus_on == "seed":
            self.focus_prefilled(self.query_one("#seed", Input))
        else:
            ol.focus()

    def _describe(self, i: int) -> None:
        if not self.scenarios:
            return
        s = self.scenarios[i]
        t = Text()
        t.append(s.title + "\n", style="bold")
        t.append(f"{s.months} months from {s.market.start}\n\n", style="dim")
        t.append(" ".join((s.description or s.summary).split()) + "\n")
        if s.question:
            t.append("\nQuestion: ", style="bold")
            t.append(" ".join(s.question.split()))
        self.query_one("#scenario-about", Static).update(t)
        seats = [("watch the market", WATCH)] + [(p.name, p.name) for p in s.providers if p.count == 1]
        sel = self.query_one("#seat", Select)
        sel.set_options(seats)
        want = self.initial[2] or WATCH
        sel.value = want if want in {v for _, v in seats} else WATCH

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._describe(event.option_index)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.dismiss(None)

    def _start(self) -> None:
        i = self.query_one(OptionList).highlighted or 0
        try:
            seed = int(self.query_one("#seed", Input).value or "0")
        except ValueError:
            self.notify("the seed must be a whole number", severity="error")
            return
        if seed < 0:
            self.notify("the seed must be 0 or more", severity="error")
            return
        seat = self.query_one("#seat", Select).value
        self.dismiss(NewGame(self.scenarios[i].name, seed, None if seat in (WATCH, Select.NULL) else str(seat)))


class NumberScreen(Dialog):
    """Ask for a whole number (months to jump ahead)."""

    def __init__(self, title: str, default: int, lo: int, hi: int) -> None:
        super().__init__()
        self.title_text, self.default, self.lo, self.hi = title, default, lo, hi

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(str(self.default), id="number", type="integer")
            yield Label(f"{self.lo} to {self.hi}; enter to go, escape to cancel", classes="dim")

    def on_mount(self) -> None:
        self.focus_prefilled(self.query_one("#number", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            v = int(event.value)
        except ValueError:
            self.notify("a whole number, please", severity="error")
            return
        if not self.lo <= v <= self.hi:
            self.notify(f"between {self.lo} and {self.hi}", severity="error")
            return
        self.dismiss(v)


class PathScreen(Dialog):
    """Ask for a file path (save or load)."""

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text, self.default = title, default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(self.default, id="path")
            yield Label("enter to confirm, escape to cancel", classes="dim")

    def on_mount(self) -> None:
        self.focus_prefilled(self.query_one("#path", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())


def fork_presets(company_names: set[str], buyer_names: set[str]) -> list[tuple[str, list[dict]]]:
    """Scenario events a fork can add from this month on (those naming agents only when the
    agents exist)."""
    out: list[tuple[str, list[dict]]] = [
        ("no event (only my decision differs)", []),
        ("interest rates +200 bp", [{"kind": "rate_change", "bps": 200}]),
        ("credit tightens: spreads +300 bp, loan-to-value -10 pts",
         [{"kind": "rate_change", "bps": 0, "spread_bps": 300, "ltv_cut": 0.1}]),
        ("component costs +25% for new clusters", [{"kind": "component_cost_rise", "pct": 0.25}]),
        ("frontier scaling plateaus", [{"kind": "scaling_plateau", "growth": 1.0}]),
        ("custom silicon 30% cheaper", [{"kind": "custom_silicon_cut", "pct": 0.3}]),
        ("power shortage: +6 months, +30% cost", [{"kind": "power_shortage", "extra_lead_months": 6,
                                                   "cost_pct": 0.3}]),
        ("NVIDIA supply +30%", [{"kind": "supply_growth", "pct": 0.3}]),
        ("NVIDIA allocates pro rata", [{"kind": "allocation_change", "policy": "pro_rata"}]),
    ]
    if "Meta Compute" in company_names and "Meta AI" in buyer_names:
        out.append(("Meta sells its spare capacity", [{"kind": "compute_business_launch", "provider": "Meta Compute",
                                                       "buyer": "Meta AI", "in_house_share": 0.3}]))
    if "OpenAI" in buyer_names:
        out.append(("OpenAI brings 30% of its work in-house", [{"kind": "customer_cancel", "buyer": "OpenAI",
                                                                "in_house_share": 0.3}]))
    return out


@dataclass
class ForkPlan:
    label: str
    events: list[dict]
    months: int
    with_decision: bool


class ForkScreen(Dialog):
    """Branch from this month: future B gets an event and/or this turn's decision."""

    def __init__(self, presets: list[tuple[str, list[dict]]], months_left: int, player: bool) -> None:
        super().__init__()
        self.presets = presets
        self.months_left = months_left
        self.player = player

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="fork"):
            yield Label("Fork: compare two futures from this month", classes="dialog-title")
            yield Label("Future A carries on as is. Future B gets:")
            yield Select([(label, i) for i, (label, _) in enumerate(self.presets)], id="preset",
                         value=1 if len(self.presets) > 1 else 0, allow_blank=False)
            if self.player:
                yield Checkbox("and my current turn's decision (A does nothing this month)", True, id="with-decision")
            with Horizontal(classes="form-row"):
                yield Label("Months ahead", classes="form-label")
                yield Input(str(min(12, self.months_left)), id="months", type="integer", classes="num")
            with Horizontal(classes="buttons"):
                yield Button("Run both", id="run", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._go()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self._go()
        else:
            self.dismiss(None)

    def _go(self) -> None:
        try:
            n = int(self.query_one("#months", Input).value)
        except ValueError:
            self.notify("months: a whole number, please", severity="error")
            return
        if not 1 <= n <= self.months_left:
            self.notify(f"months: between 1 and {self.months_left}", severity="error")
            return
        i = int(self.query_one("#preset", Select).value)  # type: ignore[arg-type]
        label, events = self.presets[i]
        with_decision = self.player and self.query_one("#with-decision", Checkbox).value
        if not events and not with_decision:
            self.notify("the two futures would be identical: choose an event or your decision", severity="warning")
            return
        self.dismiss(ForkPlan(label, events, n, with_decision))


class CompareScreen(Dialog):
    """Two futures side by side; ``a`` or ``b`` carries on with one, escape keeps the present.
    On a narrow screen the table alone (the chart would leave it no room)."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    BINDINGS = [
        Binding("a", "adopt('a')", "Carry on with A", id="compare.a"),
        Binding("b", "adopt('b')", "Carry on with B", id="compare.b"),
        Binding("escape", "cancel", "Back to the present", id="compare.cancel"),
    ]

    def __init__(self, title: str, rows: list[tuple[str, str, str]], a_model, b_model) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows
        self.a = a_model
        self.b = b_model

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="compare"):
            yield Label(self.title_text, classes="dialog-title")
            with Horizontal(id="compare-body"):
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
                yield PlotextPlot(id="compare-chart")
            yield Label("a: carry on with A · b: carry on with B · escape: back to the present", classes="dim")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("figure", "A: as is", "B: changed")
        for r in self.rows:
            t.add_row(*r)
        rows_a, rows_b = self.a.recorder.model_rows, self.b.recorder.model_rows
        xs_a = [float(r["month"]) for r in rows_a]
        xs_b = [float(r["month"]) for r in rows_b]
        months = [int(r["month"]) for r in rows_a]
        ticks = month_ticks([self.a.label(t) for t in months], months, 4)
        plot_lines(self.query_one(PlotextPlot), [
            ("A", xs_a, [r["avg_price_per_gpu_hour"] for r in rows_a]),
            ("B", xs_b, [r["avg_price_per_gpu_hour"] for r in rows_b]),
        ], "Average $/GPU-hour: A (orange), B (blue)", xticks=ticks)

    def action_adopt(self, which: str) -> None:
        self.dismiss(which)


class ScorecardScreen(Dialog):
    """Every provider ranked by market share, with value, return on opening equity and survival."""

    BINDINGS = [Binding("escape,k,q", "cancel", "Close", id="scorecard.close")]

    def __init__(self, rows: list[dict], title: str) -> None:
        super().__init__()
        self.rows = rows
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="scorecard"):
            yield Label(self.title_text, classes="dialog-title")
            yield DataTable(id="scorecard-table", cursor_type="row", zebra_stripes=True)
            yield Static("share: of this month's compute revenue · market value: public companies' modelled equity "
                         "value · return: the change in book equity since the start, over the opening equity "
                         "(not shown for a company that defaulted: its books were closed) · survived: has not "
                         "defaulted", classes="dim", id="scorecard-notes")
            yield Label("escape to close", classes="dim")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("", "company", "kind", "share", "market value", "book equity", "return on equity", "cash",
                      "survived")
        for r in self.rows:
            t.add_row("★" if r["player"] else "", Text(r["company"], style="bold" if r["player"] else ""), r["kind"],
                      F.pct(r["market_share"], 1), F.money(r["market_value"]), F.money(r["equity_book"]),
                      F.pct(r["return"], 1) if r["survived"] else "n/a", F.money(r["cash"]),
                      "yes" if r["survived"] else "no (defaulted)")
