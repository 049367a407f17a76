"""The UI's pure parts: formatting, parsing typed numbers, downsampling and the figures the
views read from a model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tui import format as F
from tui import views as V


def test_money_picks_a_unit():
    assert F.money(1.234e9) == "$1.23B"
    assert F.money(-45.6e6, 1) == "-$45.6M"
    assert F.money(float("nan")) == "-"
    assert F.money(999) == "$999"


@pytest.mark.parametrize("text, value", [("", 0.0), ("1.5B", 1.5e9), ("$250M", 2.5e8), ("2,000", 2000.0),
                                         ("40k", 4e4), (" 3 ", 3.0)])
def test_parse_number(text, value):
    assert F.parse_number(text) == value


@pytest.mark.parametrize("text", ["abc", "1.2.3", "inf", "B"])
def test_parse_number_refuses(text):
    with pytest.raises(ValueError):
        F.parse_number(text)


def test_downsample_keeps_the_last_point_and_the_width():
    xs = list(range(1000))
    x, y = F.downsample(xs, [v * 2 for v in xs], 80)
    assert len(x) <= 80 and x[-1] == 999 and y[-1] == 1998
    assert F.downsample([1, 2], [3, 4], 80) == ([1, 2], [3, 4])


@pytest.fixture(scope="module")
def model14():
    from market.game import Game

    g = Game.new("baseline-2026", 0)
    for _ in range(14):
        g.step()
    return g.model


def test_income_statement_periods_sum_the_months(model14):
    m = model14
    e = m.provider_by_name["CoreWeave"].eid
    st = V.income_statement(m, e)
    am = m.recorder.agent_months
    # month 13 is 2027-02: the quarter and the year to date are 2027-01 and 2027-02
    assert V.period_months(m, "quarter") == [12, 13] and V.period_months(m, "year") == [12, 13]
    assert st["revenue"]["month"] == pytest.approx(am[13]["revenue"][e])
    assert st["revenue"]["quarter"] == pytest.approx(am[12]["revenue"][e] + am[13]["revenue"][e])
    assert st["net_income"]["year"] == pytest.approx(am[12]["net_income"][e] + am[13]["net_income"][e])
    lines = st["revenue"]["month"] - sum(st[k]["month"] for k in V.NAMED_LINES)
    assert set(V.NAMED_LINES) == {"cost_of_revenue", "lease_expense", "opex", "sbc_expense", "depreciation",
                                  "interest_expense", "income_tax"}
    assert lines + st["other"]["month"] == pytest.approx(st["net_income"]["month"])


def test_balance_sheet_balances(model14):
    m = model14
    bs = dict(V.balance_sheet(m, m.provider_by_name["Nebius"].eid))
    assets = bs["Cash"] + bs["GPU fleet (book)"] + bs["Other assets"]
    assert assets == pytest.approx(bs["Total assets"])
    assert bs["Debt"] + bs["Other liabilities"] + bs["Equity (book)"] == pytest.approx(bs["Total assets"])


def test_share_series_sum_to_one(model14):
    for measure in ("revenue", "hours"):
        months, shares = V.share_series(model14, measure)
        assert len(months) == 14
        total = np.sum([ys for ys in shares.values()], axis=0)
        assert np.allclose(total, 1.0)


def test_price_book_means_over_providers(model14):
    m = model14
    pb = V.PriceBook()
    pb.update(m)
    rows = [r for r in m.recorder.price_rows if r[0] == 13 and r[2] == "H100"]
    xs, ys = pb.series("H100", 0)
    assert xs[-1] == 13 and ys[-1] == pytest.approx(sum(r[3] for r in rows) / len(rows))
    pb.update(m)  # nothing new: nothing counted twice
    assert pb.series("H100", 0)[1][-1] == pytest.approx(ys[-1])


def test_newsletter_has_the_market_and_the_deals(model14):
    m = model14
    month = next(e["month"] for e in m.events_log if e["kind"] == "signed")
    sections = dict(V.newsletter(m, month))
    assert "The market" in sections and any("NVIDIA shipped" in s for s in sections["The market"])
    signed = [e["text"] for e in m.events_log if e["kind"] == "signed" and e["month"] == month]
    assert set(signed) <= set(sections["Deals"])


def test_compare_rows_differ_when_futures_differ(model14):
    from market.game import Game

    g = Game.new("baseline-2026", 0)
    g.step()
    b = g.fork([{"kind": "rate_change", "bps": 300}])
    for _ in range(6):
        g.step()
        b.step()
    rows = V.compare_rows(g.model, b.model)
    assert rows[0][0] == "Compute revenue / month"
    assert any(a != bb for _, a, bb in rows)
    assert not math.isnan(g.model.base_rate)


def test_money_has_one_format_on_screen():
    from tui import format as F

    assert [F.money(x) for x in (1.234e9, 456e6, 45.6e6, 0.0, None)] == ["$1.23B", "$456M", "$45.6M", "$0", "-"]
    assert F.money(58e15) == "$58,000T"  # not "$58000000.00B"
    assert F.clean_text("lenders write off $-0.00B; raises $1234.50B") == "lenders write off $0; raises $1.23T"


def test_display_names_drop_internal_suffixes():
    from tui.format import display_name

    assert display_name("Other frontier labs-0003") == "Other frontier labs"
    assert display_name("AI start-ups") == "AI start-ups" and display_name("GB300") == "GB300"


def test_cash_flow_adds_up_to_the_change_in_cash():
    from market.game import Game

    g = Game.new("baseline-2026", 0, (), "CoreWeave")
    g.step({"orders": {"GB300": 2000}, "build_mw": 20, "borrow": 1e9})
    g.step()
    e = g.company.eid
    cf = V.cash_flow(g.model, e, g.opening)
    am = g.model.recorder.agent_months
    for period, start in (("month", am[0]["cash"][e]), ("year", g.opening["cash"][e])):
        assert cf["change"][period] == pytest.approx(float(am[-1]["cash"][e] - start), rel=1e-9, abs=1.0)
        assert cf["operating"][period] + cf["investing"][period] + cf["financing"][period] == pytest.approx(
            cf["change"][period], abs=1.0)
        assert cf["net_income"][period] + cf["depreciation"][period] + cf["sbc"][period] + \
            cf["working_capital"][period] == pytest.approx(cf["operating"][period], abs=1.0)
    assert cf["borrowing"]["year"] > 0  # the billion borrowed in the first month (less repayments)
    # stock compensation is paid in new shares: added back in operations, and no equity raised for
    # cash (CoreWeave borrows, it sells no shares in these two months)
    assert cf["sbc"]["year"] == pytest.approx(float(sum(r["sbc_expense"][e] for r in am)), rel=1e-9)
    assert cf["sbc"]["year"] > 0 and cf["equity"]["year"] == pytest.approx(0.0, abs=1.0)


def test_the_report_and_obligations_read_the_players_month():
    from market.game import Game

    g = Game.new("baseline-2026", 0, (), "CoreWeave")
    g.step({"orders": {"GB300": 2000}})
    shadow = g.shadow()
    shadow.step()
    r = V.player_report(g, shadow)
    assert r["month"] == "2026-01" and r["decided"] == ["Ordered 2,000 GB300 GPUs from NVIDIA."]
    assert r["covenants"]["max_leverage"] > 0 and r["covenants"]["next_test"] == "2026-03"
    assert dict((k, (a, b)) for k, a, b in r["shadow"])["Contracts signed so far"]
    rows = V.obligations(g, 6)
    assert [x["month"] for x in rows] == ["2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
    p = g.company
    assert rows[0]["contracted"] == pytest.approx(float(g.model.exchange.committed_ahead(p.name, 1, 0).sum()))
    assert rows[-1]["held"] >= rows[0]["held"] >= float(p.installed.sum())


def test_every_provider_and_generation_gets_its_own_colour():
    from market.game import Game
    from tui.widgets.base import PALETTE, colour

    m = Game.new("baseline-2026", 0).model
    assert len({colour(i) for i in range(len(m.providers))}) == len(m.providers)
    assert len({colour(i) for i in range(m.cat.n)}) == m.cat.n
    # Okabe-Ito: none of the pairs the issue saw collide (two reds, two pinks) can occur
    assert len(set(PALETTE)) == len(PALETTE)


@pytest.mark.parametrize("width, rows_of_statements", [(160, 1), (94, 2), (60, 3)])
def test_company_statements_fit_their_pane_whole(new_game, width, rows_of_statements):
    """The Companies pane lays out the three statements for its width (at 120 columns the pane
    is 94 wide): side by side, two above one, or one under another; never a label or a figure
    cut short with an ellipsis or wrapped onto a second line."""
    from rich.console import Console

    from tui.session import Session
    from tui.widgets.companies import provider_panel

    game = new_game()
    game.model.step()
    game.model.step()
    console = Console(width=width, record=True)
    console.print(provider_panel(Session(game), "CoreWeave", width=width))
    lines = console.export_text().splitlines()
    assert not any("…" in line for line in lines)
    for label in [*V.INCOME_LABELS.values(), *V.CASH_FLOW_LABELS.values(), "Other liabilities"]:
        assert any(label in line for line in lines), label
    titles = [i for i, line in enumerate(lines) if "Balance sheet" in line or "Income statement" in line
              or "Cash flow" in line]
    # each row of statements has one title line holding its tables' titles
    assert len(titles) == rows_of_statements
