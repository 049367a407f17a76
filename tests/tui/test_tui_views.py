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
    lines = st["revenue"]["month"] - sum(st[k]["month"] for k in ("cost_of_revenue", "opex", "depreciation",
                                                                     "interest_expense"))
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
