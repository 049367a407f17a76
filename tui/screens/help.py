"""Help on ``?``: what each panel shows, what each mechanism means, and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

PANELS = """\
# gpumarket: the AI compute market, month by month

One step is one month. NVIDIA ships GPUs to the clouds (neoclouds such as CoreWeave and
hyperscalers such as AWS), the clouds rent them to AI labs and enterprises, and money moves only
through a double-entry ledger.

## Panels

- **Dashboard [1]**: the month's headline figures (GPUs NVIDIA shipped, GPUs installed, the
  clouds' utilisation, the share of GPU-hours used for inference, the concentration of compute
  revenue as a Herfindahl-Hirschman index from 0 to 1, the average price paid per GPU-hour, the
  month's compute revenue and the contracted backlog). The left chart is each provider's share of
  the market, by compute revenue or (`t`) by GPU-hours sold; the right chart is the average
  posted price of each GPU generation, on-demand, reserved or spot (`p`), with this month's
  prices below.
- **Companies [2]**: pick a company on the left. A provider shows its balance sheet (cash, GPU
  fleet at book value, other assets, debt, other liabilities, book equity), its income
  statement for the month, the quarter to date and the year to date, its backlog with the top
  customers' shares, and sparklines of the main lines. **NVIDIA** shows its order book per
  generation and who got this month's output. **Labs** shows each lab's compute bill and its
  contracts.
- **Contracts [3]**: open capacity requests from buyers; the negotiations (offers, counters,
  signatures, walk-aways) newest first; every signed contract with its terms.
- **News [4]**: the month's newsletter in plain words; `[` and `]` page through earlier issues.
- **Turn [5]** (when you run a company): your decisions for the month; `n` or the button
  ends the turn.
- **Report [6]** (when you run a company): your month, as a business game's courier reports it:
  what you decided, what happened (deliveries, contracts won and lost and why, shortfalls and
  penalties, prices against rivals, utilisation), a cash-flow statement, covenant headroom, and
  your company against the AI's own plan for the same seat (a shadow run from the same start).
- **Obligations [7]** (when you run a company): month by month, the GPUs your contracts need
  against the GPUs you will hold and the MW they draw against the MW powered; shortfalls in red.

## Mechanisms

- **Allocation**: NVIDIA's output is below demand, so orders queue in its order book and each
  month's output is shared out by a policy (pro rata, or partners first); GPUs arrive after a
  lead time and are paid for when shipped. NVIDIA's price rises with its backlog.
- **Power**: GPUs only run where powered megawatts exist; building MW costs money now and takes
  months (each provider has its own lead time). Newest GPUs get power first.
- **Capacity contracts**: a lab asks for GPUs of a generation from a start month for a term; the
  eligible providers offer, the two sides counter in rounds, then sign or walk away. A signed
  contract is take-or-pay: billed monthly, part prepaid, late delivery costs penalties and lets
  the buyer cancel. Remaining contract value is the **backlog**.
- **On-demand and spot**: what contracts leave idle is sold each month at posted prices: buyers
  choose by price, trust and switching cost; spot is cheaper and interruptible.
- **Financing**: providers borrow against the market value of their GPUs and their contracts
  with investment-grade buyers. Covenants (leverage, debt-service cover) are tested every
  quarter: a breach brings restructuring, then fire sales and default.
- **Depreciation and obsolescence**: the book value of a fleet falls straight-line; its market
  value (the collateral) falls faster as newer generations ship.
- **Custom silicon**: hyperscalers' own chips are cheaper per inference token; buyers move to
  them when the price gap beats their switching cost.
- **Market value**: public companies are valued on revenue run-rate, growth, margin, leverage,
  backlog and sentiment.

## Playing a company

Start with `gpumarket play --as CoreWeave`, or pick a company with `c`. Each month set GPU
orders (units of a generation NVIDIA is shipping), MW to build, your on-demand, reserved and
spot prices (spot ≤ reserved ≤ on-demand), answers to the capacity requests you may serve (a
firm offer at a price, which the buyer signs if it is under its ceiling, or a decline), and
what to borrow or repay. A decision the game cannot take is refused whole, with the reason, and
nothing changes. At the end, or with `k`, the scorecard ranks you against the AI-run companies.

## Glossary

- **Backlog**: the contracted revenue not yet billed: what the signed contracts will still pay.
- **Take-or-pay**: a contract the buyer pays each month whether or not it uses the GPUs; the
  seller must deliver them, or pay penalties and risk the buyer cancelling.
- **Reserved**: the price per GPU-hour for capacity committed ahead (cheaper than on-demand,
  dearer than spot, which can be interrupted).
- **On-demand / spot**: capacity rented month to month at the posted price; spot is the
  cheapest and is interrupted when contracted or on-demand buyers need the GPUs.
- **Ceiling**: the most a buyer will pay per GPU-hour on a request; an offer above it is refused.
- **HHI** (Herfindahl-Hirschman index): the sum of the squared market shares, from near 0
  (many small sellers) to 1 (one seller); above 0.25 is usually called concentrated.
- **Covenant**: a promise to the lenders, tested each quarter: leverage (debt over annualised
  EBITDA) at most a limit, debt-service cover (EBITDA over interest and repayments) at least
  one. Headroom is the distance to the limit; a breach brings restructuring, then default.
- **EBITDA**: earnings before interest, tax, depreciation and amortisation: the cash the
  business makes before paying for its capital.
- **Utilisation**: the share of installed GPU-hours that were sold.
- **Return** (scorecard): the change in book equity since the start, over the opening equity.
- **Shadow run**: the same scenario and seed with the AI's own policy in your seat.

## Save, load and fork

`s` saves the game as JSON (the scenario, the seed and your decisions; loading replays them to
the identical state), by default in your data folder (`~/.local/share/gpumarket/saves` on Linux;
`GPUMARKET_SAVES` sets another); `l` loads one. `f` forks: two copies of the present run on for some
months, one of them with a scenario event (a rate rise, a power shortage...) or with your
current turn's decision, and their key figures are shown side by side; you may carry on with
either future.
"""


class HelpScreen(ModalScreen[None]):
    """What the panels show and the mechanisms mean, with every key binding."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close help", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Markdown(PANELS + "\n## Keys\n\n" + self._keys())

    def _keys(self) -> str:
        """Every binding of the app as a person types it ("+", "?", "[", not "plus,equals_sign")."""
        rows = ["| key | action |", "| --- | --- |"]
        seen = set()
        for b in self.app.BINDINGS:
            if not isinstance(b, Binding) or not b.description:
                continue
            keys = b.key_display or " / ".join(self.app.get_key_display(Binding(k.strip(), b.action))
                                               for k in b.key.split(","))
            if (keys, b.description) not in seen:
                seen.add((keys, b.description))
                rows.append(f"| `{keys}` | {b.description} |")
        rows += ["| `tab` / `shift+tab` | next / previous box or list |",
                 "| `ctrl+p` | command palette: every action by name |"]
        return "\n".join(rows)

    def action_close(self) -> None:
        self.dismiss(None)
