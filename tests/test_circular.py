"""Circular financing (docs/model.md, "Circular financing"): NVIDIA's investments in providers,
the stakes marked to market outside taxed profit, and backstops, on both sets of books."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from market.agents.nvidia import Nvidia
from market.errors import UserError
from market.ledger import MEMO_CODE, Acct
from market.mechanisms.finance import stake_after_investment
from market.model import MarketModel
from market.scenario import load_scenario, month_index

SCN = "nvidia-backs-neocloud"


def scenario(invest: bool = True):
    scn = load_scenario(SCN)
    if not invest:
        scn = scn.model_copy(update={"nvidia": scn.nvidia.model_copy(update={"investments": []})})
    return scn


def the_investment():
    scn = load_scenario(SCN)
    (inv,) = scn.nvidia.investments
    return inv, month_index(inv.month, scn.market.start)


def run(months: int, invest: bool = True, keep: bool = False, mark: bool = True, monkeypatch=None):
    if not mark:
        monkeypatch.setattr(Nvidia, "mark_stakes", lambda self: 0.0)  # (no marks, nothing added to its value)
    m = MarketModel(scenario(invest), seed=0, keep_ledger=keep)
    m.run(months)
    return m


@cache
def ordered(invest: bool) -> dict[str, float]:
    """The value of the GPUs each provider put on order with NVIDIA from the investment's month to
    the end of a two-year run (seed 0; orders come in lumps as capacity plans look ahead)."""
    _, t0 = the_investment()
    m = MarketModel(scenario(invest), seed=0)
    out: dict[str, float] = {}
    book = m.nvidia.book_order

    def counting(p, g, units):
        if p is not None and m.month >= t0:
            out[p.name] = out.get(p.name, 0.0) + units * float(m.nvidia.price[g])
        book(p, g, units)

    m.nvidia.book_order = counting
    m.run(24)
    return out


# ---------------------------------------------------------------------------- the rule


def test_stake_after_investment_by_hand():
    # 6% of a company worth 18 before 2 of new money: (0.06 x 18 + 2) / 20 = 3.08 / 20
    assert stake_after_investment(0.06, 2.0, 18.0) == pytest.approx(0.154)
    # no stake before: the new money's share of the value after it, 1 / (3 + 1)
    assert stake_after_investment(0.0, 1.0, 3.0) == pytest.approx(0.25)
    # nothing invested: the share is unchanged
    assert stake_after_investment(0.3, 0.0, 10.0) == pytest.approx(0.3)


def test_an_unknown_investee_is_refused_naming_the_field(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('base = "baseline-2026"\nname = "bad"\n[[nvidia.investments]]\nprovider = "Nobody"\n'
                 'month = "2026-03"\namount = 1e9\n')
    with pytest.raises(UserError, match=r"nvidia\.investments\.0\.provider.*unknown name 'Nobody'"):
        load_scenario(str(p))


# ---------------------------------------------------------------------------- the investment


def test_an_investment_moves_its_amount_from_nvidia_to_the_provider_and_the_books_balance():
    inv, t0 = the_investment()
    m = run(t0 + 1, keep=True)
    L = m.ledger
    p = L.postings()
    mine = p["memo"] == MEMO_CODE["nvidia_investment"]
    nv, pv = L.index["NVIDIA"], L.index[inv.provider]
    cash = mine & (p["debit"] == Acct.CASH)
    assert p["entity"][cash].tolist() == [pv] and p["amount"][cash].tolist() == [inv.amount]
    paid = mine & (p["credit"] == Acct.CASH)
    assert p["entity"][paid].tolist() == [nv] and p["amount"][paid].tolist() == [inv.amount]
    # NVIDIA holds an investment, the provider paid-in equity; every entity's accounts sum to zero
    assert p["debit"][paid].tolist() == [Acct.INVESTMENTS]
    assert p["credit"][mine & (p["entity"] == pv)].tolist() == [Acct.PAID_IN]
    assert np.abs(L.balances.sum(axis=1)).max() < 1e-3 * np.abs(L.balances).max()
    assert (p["month"][mine] == t0).all()
    (e,) = [e for e in m.events_log if e["kind"] == "nvidia_investment"]
    assert e["agents"] == ["NVIDIA", inv.provider] and e["amount"] == inv.amount
    assert e["share"] == pytest.approx(m.nvidia.stakes[inv.provider]) and 0 < e["share"] < 1


def test_the_stake_is_the_share_of_the_providers_market_value_every_month():
    inv, t0 = the_investment()
    m = run(t0 + 4)
    a = m.recorder.agent_table()
    share = m.nvidia.stakes[inv.provider]
    rows = (a["agent"] == inv.provider) & (a["month"] > t0)
    assert rows.sum() == 3
    assert a["nvidia_stake_value"][rows] == pytest.approx(share * a["market_value"][rows])
    # NVIDIA's row: its stakes together, as its books carry them
    last = (a["agent"] == "NVIDIA") & (a["month"] == t0 + 3)
    assert a["nvidia_stake_value"][last][0] == pytest.approx(m.ledger.balances[m.nvidia.eid, Acct.INVESTMENTS])
    assert a["nvidia_stake_value"][last][0] == pytest.approx(sum(m.nvidia.stake_value.values()))
    invested = a["nvidia_invested"]
    assert invested[(a["agent"] == inv.provider) & (a["month"] == t0)].tolist() == [inv.amount]
    assert invested[(a["agent"] == "NVIDIA") & (a["month"] == t0)].tolist() == [inv.amount]
    assert invested[a["month"] != t0].sum() == 0


def test_the_mark_to_market_changes_neither_taxes_nor_capital_returned(monkeypatch):
    marked = run(8, keep=True)
    a = marked.recorder.agent_table()
    with monkeypatch.context() as mp:
        plain = run(8, mark=False, keep=True, monkeypatch=mp)
    b = plain.recorder.agent_table()
    nv = a["agent"] == "NVIDIA"
    # the mark moved NVIDIA's equity (book to market and each month since)...
    assert np.abs(a["equity_book"][nv] - b["equity_book"][nv]).max() > 1e8
    # ...held in the revaluation reserve, which is the stakes' value less what they cost
    eid = marked.nvidia.eid
    gain = marked.ledger.balances[eid, Acct.INVESTMENTS] - plain.ledger.balances[eid, Acct.INVESTMENTS]
    assert -marked.ledger.balances[eid, Acct.REVALUATION] == pytest.approx(gain)
    assert plain.ledger.balances[eid, Acct.REVALUATION] == 0
    assert marked.ledger.balances[eid, Acct.PAID_IN] == pytest.approx(plain.ledger.balances[eid, Acct.PAID_IN])
    # ...but not its income, its tax or anything it paid out
    for col in ("net_income", "income_tax", "cash"):
        assert a[col] == pytest.approx(b[col]), col
    pa, pb = marked.ledger.postings(), plain.ledger.postings()
    ret = MEMO_CODE["capital_return"]
    assert pa["amount"][pa["memo"] == ret].sum() == pytest.approx(pb["amount"][pb["memo"] == ret].sum())
    assert pa["amount"][pa["memo"] == ret].sum() > 0


def test_money_invested_comes_back_as_gpu_orders():
    inv, _ = the_investment()
    with_it, without = ordered(True), ordered(False)
    assert with_it[inv.provider] > without[inv.provider]


def test_backstop_paid_equals_backstop_received_every_month():
    m = run(12)
    a = m.recorder.agent_table()
    paid = a["nvidia_backstop_paid"][a["agent"] == "NVIDIA"]
    received = np.zeros_like(paid)
    for p in m.providers:
        received += a["nvidia_backstop_paid"][a["agent"] == p.name]
    assert paid == pytest.approx(received)
    assert paid.sum() > 0
    assert paid[-1] == pytest.approx(m.nvidia.backstop_paid)
