"""Contracts and negotiations: open capacity requests, this month's offers and counters, and
signed take-or-pay contracts with their terms."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from tui import format as F
from tui import views as V
from tui.session import Session
from tui.widgets.base import MarketView

KIND_WORDS = {"request": "request", "offer": "offer", "counter": "counter", "signed": "SIGNED",
              "walk_away": "walk away", "decline": "decline", "request_lapsed": "lapsed"}


class Contracts(Vertical, MarketView):
    """Three tables under their own tabs."""

    def compose(self) -> ComposeResult:
        yield Static(id="contracts-summary")
        with TabbedContent(id="contract-tabs"):
            with TabPane("Open requests", id="tab-requests"):
                yield DataTable(id="requests-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Negotiations", id="tab-negotiations"):
                yield DataTable(id="negotiations-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Signed", id="tab-signed"):
                yield DataTable(id="signed-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#requests-table", DataTable).add_columns(
            "id", "buyer", "GPU", "GPUs", "left", "from", "months", "ceiling $/h", "purpose", "issued")
        self.query_one("#negotiations-table", DataTable).add_columns("month", "step", "what happened")
        self.query_one("#signed-table", DataTable).add_columns(
            "id", "buyer", "seller", "GPU", "GPUs", "$/h", "signed", "from", "months", "value", "remaining", "status")

    def show(self, session: Session) -> None:
        with session.lock:
            m = session.model
            reqs = V.open_requests(m)
            last = len(m.recorder.model_rows) - 1
            negs = V.negotiations(m, None, limit=300)
            signed = V.contracts(m)
        live = [c for c in signed if c["status"] in ("pending", "active")]
        self.query_one("#contracts-summary", Static).update(
            f"{len(reqs)} open requests · {sum(1 for n in negs if n['month'] == last and n['kind'] == 'signed')} "
            f"signed this month · {len(live)} live contracts, {F.money(sum(c['remaining'] for c in live))} to bill")
        t = self.query_one("#requests-table", DataTable)
        t.clear()
        for r in reqs:
            t.add_row(str(r["id"]), F.display_name(r["buyer"]), r["generation"], F.count(r["gpus"]), F.count(r["remaining"]),
                      r["start"], str(r["term"]), F.price(r["ceiling"]), r["purpose"], r["issued"])
        t = self.query_one("#negotiations-table", DataTable)
        t.clear()
        for e in reversed(negs):
            t.add_row(m.label(e["month"]), KIND_WORDS.get(e["kind"], e["kind"]), F.clean_text(e["text"]))
        t = self.query_one("#signed-table", DataTable)
        t.clear()
        for c in signed[:400]:
            t.add_row(str(c["id"]), F.display_name(c["buyer"]), c["seller"], c["generation"], F.count(c["gpus"]), F.price(c["price"]),
                      c["signed"], c["start"], str(c["term"]), F.money(c["value"]), F.money(c["remaining"]),
                      c["status"])
