"""What the screens show, read from a model as plain data (no Textual here, so it is testable
without an app and cheap to call once per repaint)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from market.model import MarketModel

INCOME_LINES = ("revenue", "cost_of_revenue", "lease_expense", "opex", "sbc_expense", "depreciation",
                "interest_expense", "income_tax", "other", "net_income")
NAMED_LINES = INCOME_LINES[1:-2]  # (the costs named in the statement; "other" is what they leave)
INCOME_LABELS = {
    "revenue": "Revenue",
    "cost_of_revenue": "Cost of revenue",
    "lease_expense": "Data-centre leases",
    "opex": "Overheads (SG&A, R&D)",
    "sbc_expense": "Stock compensation",
    "depreciation": "Depreciation",
    "interest_expense": "Interest",
    "income_tax": "Income tax",
    "other": "Other, net",
    "net_income": "Net income",
}
NEGOTIATION_KINDS = ("request", "offer", "counter", "signed", "walk_away", "decline", "request_lapsed")


def months_done(m: MarketModel) -> int:
    return len(m.recorder.model_rows)


def headline(m: MarketModel) -> dict:
    """The last simulated month's market row, with its change on the month before."""
    rows = m.recorder.model_rows
    if not rows:
        return {}
    out = dict(rows[-1])
    prev = rows[-2] if len(rows) > 1 else None
    out["prev"] = prev
    return out


def share_series(m: MarketModel, measure: str = "revenue") -> tuple[list[int], dict[str, list[float]]]:
    """Each provider's share of the market per month: of compute revenue (``revenue``) or of
    GPU-hours sold (``hours``)."""
    rec = m.recorder
    months = [r["month"] for r in rec.model_rows]
    rows = [p.eid for p in m.providers]
    out: dict[str, list[float]] = {p.name: [] for p in m.providers}
    for am in rec.agent_months:
        if measure == "revenue":
            v = am["market_share"][rows]
        else:
            h = am["gpu_hours_sold"][rows]
            tot = float(h.sum())
            v = h / tot if tot > 0 else np.zeros(len(rows))
        for p, x in zip(m.providers, v):
            out[p.name].append(float(x))
    return months, out


@dataclass
class PriceBook:
    """Market-average posted prices per generation and month, built incrementally from the
    recorder's price rows (mean over the providers that quote it)."""

    seen: int = 0
    by_gen: dict[str, dict[int, list[list[float]]]] = field(default_factory=dict)  # gen -> month -> [od, res, spot lists]

    def update(self, m: MarketModel) -> None:
        rows = m.recorder.price_rows
        for t, _agent, gen, od, res, spot in rows[self.seen:]:
            acc = self.by_gen.setdefault(gen, {}).setdefault(t, [[], [], []])
            for i, v in enumerate((od, res, spot)):
                if v == v:
                    acc[i].append(v)
        self.seen = len(rows)

    def series(self, gen: str, kind: int = 0) -> tuple[list[int], list[float]]:
        """(months, mean price) for one generation; kind 0 on-demand, 1 reserved, 2 spot."""
        d = self.by_gen.get(gen, {})
        xs = sorted(t for t, acc in d.items() if acc[kind])
        return xs, [sum(d[t][kind]) / len(d[t][kind]) for t in xs]

    def latest(self, month: int) -> list[tuple[str, float, float, float]]:
        """(generation, on-demand, reserved, spot) means for a month, for generations priced then."""
        out = []
        for gen, d in self.by_gen.items():
            acc = d.get(month)
            if acc and acc[0]:
                out.append((gen, *(sum(a) / len(a) if a else math.nan for a in acc)))
        return out


def _sum_months(m: MarketModel, e: int, key: str, months: list[int]) -> float:
    am = m.recorder.agent_months
    return float(sum(am[t][key][e] for t in months if t < len(am)))


def period_months(m: MarketModel, period: str) -> list[int]:
    """Months of the last simulated month's calendar quarter or year so far (``month``,
    ``quarter``, ``year``), as month indices within the run."""
    n = months_done(m)
    if n == 0:
        return []
    last = n - 1
    if period == "month":
        return [last]
    y, mo = (int(s) for s in m.label(last).split("-"))
    first_mo = 1 if period == "year" else 3 * ((mo - 1) // 3) + 1
    back = mo - first_mo
    return [t for t in range(last - back, last + 1) if t >= 0]


def income_statement(m: MarketModel, e: int) -> dict[str, dict[str, float]]:
    """Line -> {month, quarter, year} for an agent row; ``other`` is what the named lines leave
    (other income less other expense and compute bought)."""
    out: dict[str, dict[str, float]] = {}
    periods = {p: period_months(m, p) for p in ("month", "quarter", "year")}
    for line in INCOME_LINES:
        out[line] = {}
    for p, ms in periods.items():
        vals = {k: _sum_months(m, e, k, ms) for k in ("revenue", *NAMED_LINES, "net_income")}
        vals["other"] = vals["net_income"] - (vals["revenue"] - sum(vals[k] for k in NAMED_LINES))
        for line in INCOME_LINES:
            out[line][p] = vals[line]
    return out


def balance_sheet(m: MarketModel, e: int) -> list[tuple[str, float]]:
    """End-of-month balance sheet of an agent row: assets, then liabilities and equity."""
    am = m.recorder.agent_months
    if not am:
        return []
    r = am[-1]
    cash = float(r["cash"][e])
    fleet = float(r["fleet_book"][e])
    assets = float(r["total_assets"][e])
    debt = float(r["debt"][e])
    liab = float(r["liabilities"][e])
    return [
        ("Cash", cash),
        ("GPU fleet (book)", fleet),
        ("Other assets", assets - cash - fleet),
        ("Total assets", assets),
        ("Debt", debt),
        ("Other liabilities", liab - debt),
        ("Equity (book)", float(r["equity_book"][e])),
    ]


def agent_series(m: MarketModel, e: int, key: str) -> list[float]:
    return [float(am[key][e]) for am in m.recorder.agent_months]


def backlog(m: MarketModel, name: str) -> tuple[float, float, list[tuple[str, float, float]]]:
    """Total remaining contracted value, the top buyer's share, and (buyer, value, share)."""
    total, top, ranked = m.exchange.backlog(name)
    return total, top, [(b, v, v / total if total > 0 else 0.0) for b, v in ranked]


def nvidia_book(m: MarketModel) -> list[dict]:
    """Per NVIDIA generation: price, monthly output, units shipped, backlog, and the order book
    by buyer (the rest of the world as one line)."""
    nv = m.nvidia
    cat = m.cat
    out = []
    for g in range(cat.n):
        if not cat.nvidia[g]:
            continue
        by: dict[str, float] = {}
        for who, units, _ in nv.book[g]:
            if units > 1e-9:
                k = who.name if who is not None else "rest of world"
                by[k] = by.get(k, 0.0) + float(units)
        out.append({"generation": cat.names[g], "price": float(nv.price[g]), "output": float(nv.output[g]),
                    "shipped": float(nv.shipped[g]), "backlog": float(nv.backlog[g]),
                    "launch": m.label(int(cat.launch[g])),
                    "orders": sorted(by.items(), key=lambda kv: -kv[1])})
    return out


def labs(m: MarketModel, named_only: bool = True) -> list[dict]:
    """Each lab's compute bill last month and its contracts (named labs: not generated segment
    members)."""
    am = m.recorder.agent_months
    last = am[-1] if am else None
    out = []
    for b in m.buyer_agents:
        if b.kind != "lab" or (named_only and b.spec.count > 1):
            continue
        cs = m.exchange.by_buyer.get(b.name, [])
        live = [c for c in cs if c.status in ("pending", "active")]
        out.append({
            "name": b.name,
            "bill": float(last["compute_expense"][b.eid]) if last is not None else 0.0,
            "short_term": float(m.buyers.spend[b.idx]),
            "cash": float(last["cash"][b.eid]) if last is not None else 0.0,
            "contracts": len(live),
            "contracted_value": sum(c.remaining_value() for c in live),
            "sellers": sorted({c.seller for c in live}),
        })
    return out


def negotiations(m: MarketModel, month: int | None = None, limit: int = 200) -> list[dict]:
    """The negotiation events (requests, offers, counters, signatures, walk-aways) of a month,
    or of every month when ``month`` is None; newest last."""
    rows = [e for e in m.events_log if e["kind"] in NEGOTIATION_KINDS and (month is None or e["month"] == month)]
    return rows[-limit:]


def month_events(m: MarketModel, month: int) -> list[dict]:
    # events are appended in month order, so scan from the end
    out = []
    for e in reversed(m.events_log):
        if e["month"] < month:
            break
        if e["month"] == month:
            out.append(e)
    return out[::-1]


SECTION_OF = {
    "default": "Headlines", "fire_sale": "Headlines", "restructuring": "Headlines", "covenant_breach": "Headlines",
    "cancelled": "Headlines", "covenant_cured": "Headlines", "order_cut": "Headlines",
    "signed": "Deals", "request": "Buyers shopping", "request_lapsed": "Buyers shopping",
    "equity_raise": "Capital markets", "decline": "Deals",
}


def newsletter(m: MarketModel, month: int) -> list[tuple[str, list[str]]]:
    """The month's news as sections of plain sentences, like a business game's newsletter:
    scenario events and distress first, then deals, the market's figures, capital and shopping.
    Offers, counters and walk-aways are summed up rather than listed."""
    events = month_events(m, month)
    sections: dict[str, list[str]] = {k: [] for k in ("Headlines", "Deals", "The market", "Capital markets",
                                                      "Buyers shopping")}
    deals = []
    staged: list[str] = []  # the scenario's own events lead the newsletter
    offers = counters = walks = 0
    for e in events:
        k = e["kind"]
        if k.startswith("event:"):
            staged.append(e["text"])
        elif k not in SECTION_OF and k not in ("offer", "counter", "walk_away"):
            sections["Headlines"].append(e["text"])
        elif k == "signed":
            deals.append((float(e.get("value", 0.0)), e["text"]))
        elif k == "offer":
            offers += 1
        elif k == "counter":
            counters += 1
        elif k == "walk_away":
            walks += 1
        else:
            sections[SECTION_OF[k]].append(e["text"])
    sections["Headlines"] = staged + sections["Headlines"]
    deals.sort(key=lambda d: -d[0])
    sections["Deals"] = [t for _, t in deals] + sections["Deals"]
    if offers or counters or walks:
        sections["Deals"].append(f"Across the market: {offers} offers, {counters} counter-offers and {walks} "
                                 f"walk-aways in negotiation.")
    rows = m.recorder.model_rows
    if 0 <= month < len(rows):
        r = rows[month]
        p = rows[month - 1] if month > 0 else None
        mk = sections["The market"]
        mk.append(f"NVIDIA shipped {r['gpus_shipped']:,.0f} GPUs; {r['gpus_installed']:,.0f} are installed in "
                  f"the clouds.")
        line = f"The average GPU-hour sold for ${r['avg_price_per_gpu_hour']:.2f}"
        if p and p["avg_price_per_gpu_hour"] > 0:
            ch = r["avg_price_per_gpu_hour"] / p["avg_price_per_gpu_hour"] - 1
            line += f" ({'up' if ch >= 0 else 'down'} {abs(ch):.1%} on the month)"
        mk.append(line + f"; clouds ran at {r['utilization']:.0%} utilisation.")
        mk.append(f"Inference was {r['inference_share']:.0%} of the GPU-hours served; compute revenue "
                  f"${r['compute_revenue'] / 1e9:,.2f}B; concentration (HHI) {r['hhi_revenue']:.3f}.")
        if r["unmet_gpu_hours"] > 0.01 * max(r["demand_gpu_hours"], 1.0):
            mk.append(f"Buyers went without {r['unmet_gpu_hours'] / max(r['demand_gpu_hours'], 1):.0%} of the "
                      f"compute they wanted.")
        if month < len(m.recorder.agent_months):
            am = m.recorder.agent_months[month]
            rows_p = [(p.name, float(am["market_share"][p.eid])) for p in m.providers]
            rows_p.sort(key=lambda kv: -kv[1])
            lead = ", ".join(f"{n} {s:.0%}" for n, s in rows_p[:3])
            mk.append(f"Largest by compute revenue: {lead}.")
    return [(k, v) for k, v in sections.items() if v]


def open_requests(m: MarketModel) -> list[dict]:
    cat = m.cat
    return [{"id": r.request_id, "buyer": r.buyer, "generation": cat.names[r.generation], "gpus": r.gpus,
             "remaining": r.remaining, "start": m.label(r.start), "term": r.term, "ceiling": r.ceiling,
             "purpose": r.purpose, "issued": m.label(r.issued)} for r in m.exchange.open_requests()]


def contracts(m: MarketModel, who: str | None = None) -> list[dict]:
    """Signed contracts, newest first (``who`` filters on buyer or seller)."""
    cat = m.cat
    out = []
    for c in reversed(m.exchange.contracts):
        if who is not None and who not in (c.buyer, c.seller):
            continue
        out.append({"id": c.contract_id, "buyer": c.buyer, "seller": c.seller, "generation": cat.names[c.generation],
                    "gpus": c.gpus, "signed": m.label(c.signed) if c.signed >= 0 else "before",
                    "start": m.label(c.start), "term": c.term, "price": c.price, "purpose": c.purpose,
                    "value": c.total_value, "remaining": c.remaining_value(), "status": c.status})
    return out


KEY_FIGURES = (
    ("Compute revenue / month", "compute_revenue", "money"),
    ("Avg price / GPU-hour", "avg_price_per_gpu_hour", "price"),
    ("Utilisation", "utilization", "pct"),
    ("Inference share", "inference_share", "pct"),
    ("HHI (revenue)", "hhi_revenue", "float"),
    ("GPUs installed", "gpus_installed", "count"),
    ("Backlog (all)", "backlog", "money"),
)


def compare_rows(a: MarketModel, b: MarketModel, company: str | None = None) -> list[tuple[str, str, str]]:
    """Key figures of two futures side by side (label, A, B), for the fork view."""
    from tui import format as F

    fmt = {"money": F.money, "price": F.price, "pct": F.pct, "count": F.count, "float": lambda x: f"{x:.3f}"}
    ra = a.recorder.model_rows[-1] if a.recorder.model_rows else None
    rb = b.recorder.model_rows[-1] if b.recorder.model_rows else None
    out = []
    for label, key, kind in KEY_FIGURES:
        out.append((label, fmt[kind](ra[key]) if ra else "-", fmt[kind](rb[key]) if rb else "-"))
    for p in a.providers:
        if company is not None and p.name != company and p.kind != "neocloud":
            continue
        qa, qb = a.provider_by_name[p.name], b.provider_by_name[p.name]
        sa = float(a.recorder.agent_months[-1]["market_share"][qa.eid]) if a.recorder.agent_months else 0.0
        sb = float(b.recorder.agent_months[-1]["market_share"][qb.eid]) if b.recorder.agent_months else 0.0
        out.append((f"{p.name}: share", F.pct(sa, 1), F.pct(sb, 1)))
        out.append((f"{p.name}: cash", F.money(qa.cash()), F.money(qb.cash())))
        out.append((f"{p.name}: status", _status(qa), _status(qb)))
    return out


def _status(p) -> str:
    return "defaulted" if p.defaulted else p.status


# ---------------------------------------------------------------------- the player's seat
CASH_FLOW_LINES = ("net_income", "depreciation", "sbc", "working_capital", "operating", "capex", "investing",
                   "borrowing", "equity", "financing", "change")
CASH_FLOW_LABELS = {
    "net_income": "Net income",
    "depreciation": "+ Depreciation (not cash)",
    "sbc": "+ Stock comp. (not cash)",
    "working_capital": "+ Prepayments, fees, other",
    "operating": "Cash from operations",
    "capex": "GPUs and power bought",
    "investing": "Cash from investing",
    "borrowing": "Borrowed less repaid",
    "equity": "Equity raised",
    "financing": "Cash from financing",
    "change": "Change in cash",
}


def _opening(m: MarketModel, opening: dict | None, e: int, t: int) -> tuple[float, float, float] | None:
    """(cash, debt, book equity) at the start of month ``t``: the end of the month before, or the
    game's opening books for month 0."""
    am = m.recorder.agent_months
    if t > 0:
        r = am[t - 1]
        return float(r["cash"][e]), float(r["debt"][e]), float(r["equity_book"][e])
    if opening is None:
        return None
    return float(opening["cash"][e]), float(opening["debt"][e]), float(opening["equity_book"][e])


def cash_flow(m: MarketModel, e: int, opening: dict | None = None) -> dict[str, dict[str, float]]:
    """A cash-flow statement (indirect method) for an agent row, month, quarter and year to
    date: net income plus depreciation and stock compensation (paid in new shares, not cash) plus
    what the other lines leave (prepayments received, fees, working capital) is cash from
    operations; GPUs and power bought are investing; loans and equity raised for cash are
    financing; the three add up to the change in cash."""
    am = m.recorder.agent_months
    out: dict[str, dict[str, float]] = {k: {} for k in CASH_FLOW_LINES}
    for period in ("month", "quarter", "year"):
        tot = dict.fromkeys(CASH_FLOW_LINES, 0.0)
        for t in period_months(m, period):
            start = _opening(m, opening, e, t)
            if start is None:
                continue
            cash0, debt0, eq0 = start
            r = am[t]
            ni = float(r["net_income"][e])
            change = float(r["cash"][e]) - cash0
            borrowing = float(r["debt"][e]) - debt0
            sbc = float(r["sbc_expense"][e])
            equity = float(r["equity_book"][e]) - eq0 - ni - sbc  # (new shares for cash, not for pay)
            capex = -float(r["capex"][e])
            financing = borrowing + equity
            operating = change - capex - financing
            dep = float(r["depreciation"][e])
            vals = {"net_income": ni, "depreciation": dep, "sbc": sbc, "working_capital": operating - ni - dep - sbc,
                    "operating": operating, "capex": capex, "investing": capex, "borrowing": borrowing,
                    "equity": equity, "financing": financing, "change": change}
            for k, v in vals.items():
                tot[k] += v
        for k in CASH_FLOW_LINES:
            out[k][period] = tot[k]
    return out


def _contract_events(m: MarketModel, name: str, month: int) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"signed": [], "walk_away": [], "decline": [], "cancelled": [], "offer": []}
    for e in month_events(m, month):
        if e["kind"] in out and name in e["agents"]:
            out[e["kind"]].append(e)
    return out


def _describe_decision(m: MarketModel, d: dict | None) -> list[str]:
    from tui import format as F

    if not d:
        return ["Nothing: prices as before, no orders, no answers (the AI does not act for you)."]
    out = []
    for gen, n in (d.get("orders") or {}).items():
        out.append(f"Ordered {n:,} {gen} GPUs from NVIDIA.")
    if d.get("build_mw"):
        out.append(f"Started building {d['build_mw']:,.0f} MW.")
    for gen, ps in (d.get("prices") or {}).items():
        out.append(f"Set {gen} prices to {F.price(ps['on_demand'])} on-demand, {F.price(ps['reserved'])} reserved, "
                   f"{F.price(ps['spot'])} spot.")
    for rid, a in (d.get("answers") or {}).items():
        out.append(f"Request #{rid}: " + (f"offered at {F.price(a['price'])}/GPU-hour." if a["action"] == "offer"
                                          else "declined."))
    if d.get("borrow"):
        out.append(f"Borrowed {F.money(d['borrow'])}.")
    if d.get("repay"):
        out.append(f"Repaid {F.money(d['repay'])}.")
    return out


def covenant_headroom(m: MarketModel, p) -> dict:
    """Leverage (debt over annualised EBITDA of the last three months) and debt-service cover of
    the last three months against the covenants, the next quarterly test and the status."""
    from market.mechanisms import finance

    f = p.spec.finance
    q = p.hist[-3:]
    ebitda_q = sum(h[1] for h in q) * (3.0 / len(q)) if q else 0.0
    service_q = sum(h[2] for h in q) * (3.0 / len(q)) if q else 0.0
    lev = finance.leverage(p.debt(), ebitda_q * 4.0) if q else 0.0
    cov = finance.dscr(ebitda_q, service_q) if q else math.inf
    t = m.month
    next_test = t + (2 - t % 3) if t % 3 != 2 else t  # months t with (t + 1) % 3 == 0 are tested
    return {"leverage": lev, "max_leverage": f.max_leverage, "dscr": cov, "min_dscr": f.min_dscr,
            "next_test": m.label(next_test), "status": "defaulted" if p.defaulted else p.status,
            "debt": p.debt(), "can_borrow": p.borrowing_capacity()}


def prices_vs_rivals(m: MarketModel, p) -> list[dict]:
    """Each generation the company prices: its on-demand, reserved and spot prices against the
    cheapest rival's and the market's mean."""
    cat = m.cat
    out = []
    for g, name in enumerate(cat.names):
        if p.od[g] != p.od[g] or (p.installed[g] + p.in_transit[g] + p.on_order[g]) <= 0:
            continue
        row = {"generation": name}
        for key, arr in (("on_demand", "od"), ("reserved", "res"), ("spot", "spot")):
            rivals = [float(getattr(q, arr)[g]) for q in m.providers
                      if q is not p and q.active and not q.defaulted and getattr(q, arr)[g] == getattr(q, arr)[g]]
            row[key] = float(getattr(p, arr)[g])
            row[key + "_min"] = min(rivals) if rivals else math.nan
            row[key + "_mean"] = sum(rivals) / len(rivals) if rivals else math.nan
        out.append(row)
    return out


def player_report(game, shadow=None) -> dict:
    """What the player's company did in the last month simulated and what happened to it:
    the decision, deliveries, shortfalls and penalties, contracts won and lost and why, prices
    against rivals, utilisation, cash flow, covenant headroom and, given ``shadow`` (the same
    start with the AI in the seat, stepped as far), how the company stands against that."""
    from tui import format as F

    m = game.model
    p = game.company
    e = p.eid
    am = m.recorder.agent_months
    n = len(am)
    if n == 0:
        return {}
    t = n - 1
    r = am[t]
    prev = am[t - 1] if t > 0 else None
    out: dict = {"month": m.label(t), "company": p.name}
    out["decided"] = _describe_decision(m, game.decisions[t] if t < len(game.decisions) else None)
    # deliveries and power
    inst = float(r["gpus_installed"][e])
    inst0 = float(prev["gpus_installed"][e]) if prev is not None else float(p.installed.sum())
    mw = float(r["powered_mw"][e])
    mw0 = float(prev["powered_mw"][e]) if prev is not None else mw
    out["fleet"] = [
        f"GPUs installed {F.count(inst)} ({'+' if inst >= inst0 else '-'}{F.count(abs(inst - inst0))} on the month); "
        f"{F.count(float(p.in_transit.sum()))} in transit, {F.count(float(p.on_order.sum()))} on order with NVIDIA.",
        f"Power {mw:,.0f} MW ({'+' if mw >= mw0 else '-'}{abs(mw - mw0):,.0f}), {p.building_mw():,.0f} MW building.",
    ]
    # contracts: won, lost and why, cancelled; service
    ev = _contract_events(m, p.name, t)
    won = [F.clean_text(x["text"]) for x in ev["signed"] if x["text"].startswith(p.name)]
    lost = [F.clean_text(x["text"]) for x in ev["walk_away"]]
    lost += [F.clean_text(x["text"]) for x in ev["decline"]]
    cancelled = [F.clean_text(x["text"]) for x in ev["cancelled"]]
    out["won"], out["lost"], out["cancelled"] = won, lost, cancelled
    rivals = [x for x in month_events(m, t) if x["kind"] == "signed" and not x["text"].startswith(p.name)]
    # the requests the player could answer this turn that rivals won
    seen = game.turn_requests[t] if t < len(getattr(game, "turn_requests", ())) else []
    decision = game.decisions[t] if t < len(game.decisions) else None
    answered = {int(k) for k in ((decision or {}).get("answers") or {})}
    for rid, buyer, gen, gpus in seen:
        gname = m.cat.names[gen]
        to = [x for x in rivals if buyer in x["agents"] and f" {gname} GPUs" in x["text"]]
        how = "you offered" if rid in answered else "you did not answer"
        if to:
            out["lost"].append(f"request #{rid} ({F.display_name(buyer)}, {gpus:,} {gname}): {how}; "
                               + "; ".join(F.clean_text(x["text"]) for x in to[:2]))
        elif rid not in answered:
            out["lost"].append(f"request #{rid} ({F.display_name(buyer)}, {gpus:,} {gname}): you did not answer")
    out["rivals_signed"] = (len(rivals), sum(float(x.get("value", 0.0)) for x in rivals))
    live = [c for c in m.exchange.by_seller.get(p.name, []) if c.status == "active"]
    short = [c for c in live if c.start <= t and c.delivered < c.gpus]
    out["service"] = {
        "active": len(live),
        "short": [(F.display_name(c.buyer), m.cat.names[c.generation], int(c.delivered), int(c.gpus),
                   int(c.late_months)) for c in short],
        "penalties": float(r["other_expense"][e]),
        "other_income": float(r["other_income"][e]),
    }
    out["revenue"] = float(r["revenue"][e])
    out["net_income"] = float(r["net_income"][e])
    out["share"] = float(r["market_share"][e])
    out["share_prev"] = float(prev["market_share"][e]) if prev is not None else None
    out["utilisation"] = float(r["utilization"][e])
    out["market_utilisation"] = float(m.recorder.model_rows[t]["utilization"])
    out["prices"] = prices_vs_rivals(m, p)
    out["cash_flow"] = cash_flow(m, e, getattr(game, "opening", None))
    out["covenants"] = covenant_headroom(m, p)
    out["backlog"] = float(r["backlog"][e])
    if shadow is not None and len(shadow.model.recorder.agent_months) == n:
        sm = shadow.model
        q = sm.provider_by_name[p.name]
        sr = sm.recorder.agent_months[t]
        out["shadow"] = [
            (label, fmt(float(r[key][e])), fmt(float(sr[key][q.eid])))
            for label, key, fmt in (("Market share", "market_share", lambda x: F.pct(x, 1)),
                                    ("Revenue this month", "revenue", F.money),
                                    ("Net income this month", "net_income", F.money),
                                    ("Cash", "cash", F.money), ("Debt", "debt", F.money),
                                    ("Book equity", "equity_book", F.money),
                                    ("GPUs installed", "gpus_installed", F.count),
                                    ("Backlog", "backlog", F.money), ("Utilisation", "utilization", F.pct))
        ] + [("Contracts signed so far", str(sum(1 for c in m.exchange.by_seller.get(p.name, []) if c.signed >= 0)),
              str(sum(1 for c in sm.exchange.by_seller.get(p.name, []) if c.signed >= 0)))]
    return out


def obligations(game, months: int = 18) -> list[dict]:
    """Month by month from now: the GPUs the company's contracts need (by generation and in
    all), the GPUs it will hold (installed, plus shipments landing by then, plus GPUs still on
    order from the month NVIDIA's queue ahead of them should have shipped), and the MW those
    contracts need against the MW powered by then (builds finishing)."""
    m = game.model
    p = game.company
    cat = m.cat
    t = m.month
    ex = m.exchange
    held = p.installed.astype(float).copy()
    # GPUs still on order have no shipping date: expected when NVIDIA's whole queue ahead of
    # them has shipped (output and lead time as now; an estimate, and a cautious one)
    expected: dict[int, list[tuple[int, float]]] = {}
    for g in range(cat.n):
        if p.on_order[g] > 0:
            eta = game.nvidia_ready(g, 0.0)
            if eta is not None:
                expected.setdefault(eta, []).append((g, float(p.on_order[g])))
    out = []
    for k in range(t, t + months):
        for g, units, _ in p.transit.get(k, ()):
            held[g] += units
        for g, units in expected.get(k, ()):
            held[g] += units
        need = ex.committed_ahead(p.name, k, 0)
        mw_powered = p.powered_mw + sum(mw for done, mw in p.builds if done <= k)
        mw_need = float((need * cat.power_kw).sum()) / 1000.0
        short = {cat.names[g]: float(need[g] - held[g]) for g in range(cat.n) if need[g] > held[g] + 0.5}
        out.append({"month": m.label(k), "contracted": float(need.sum()), "held": float(held.sum()),
                    "by_generation": {cat.names[g]: (float(need[g]), float(held[g])) for g in range(cat.n)
                                      if need[g] > 0 or held[g] > 0},
                    "short": short, "mw_need": mw_need, "mw_powered": float(mw_powered),
                    "mw_short": mw_need > mw_powered + 1e-6})
    return out
