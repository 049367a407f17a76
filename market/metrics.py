"""What is recorded each month: the market row, one row per agent, and prices.

Money columns come from the ledger (balances at month end and their change over the month);
the rest from the agents' state after the month's last posting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from market.ledger import FLOWS, month_figures, statement

if TYPE_CHECKING:
    from market.model import MarketModel

AGENT_COLUMNS = [
    "month", "agent", "kind", "cash", "total_assets", "liabilities", "debt", "equity_book", "revenue",
    "cost_of_revenue", "depreciation", "interest_expense", "net_income", "capex", "gpus_installed", "powered_mw",
    "gpu_hours_sold", "utilization", "market_share", "backlog", "top_customer_share", "market_value", "defaulted",
    "other_income", "opex", "compute_expense", "other_expense", "fleet_book", "status", "gpus_unpowered",
    "lease_expense", "sbc_expense", "income_tax", "nvidia_stake_value", "nvidia_invested", "nvidia_backstop_paid",
]
MODEL_COLUMNS = [
    "month", "date", "gpus_shipped", "gpus_installed", "demand_gpu_hours", "served_gpu_hours",
    "served_inference_gpu_hours", "inference_share", "avg_price_per_gpu_hour", "hhi_revenue",
    "gpus_shipped_to_providers", "unmet_gpu_hours", "utilization", "compute_revenue", "backlog", "base_rate",
    "nvidia_gross_margin", "short_term_price_per_h100_hour", "contracts_signed", "gpus_unpowered",
]


class Recorder:
    """Keeps each month's figures as arrays; :meth:`agent_table`, :meth:`model_table` and
    :meth:`price_table` turn them into columns."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        m = model
        n = m.n_agents
        self.names = m.ledger.names[:n]
        self.kinds = np.array(["nvidia"] + [p.kind for p in m.providers] + [b.kind for b in m.buyer_agents])
        rows = [p.eid for p in m.providers]
        # (a slice where the providers' rows follow one another, as they do: cheaper than picking)
        self.prov_rows = (slice(rows[0], rows[-1] + 1) if rows and rows == list(range(rows[0], rows[0] + len(rows)))
                          else np.array(rows, dtype=np.int64))
        self.public = np.zeros(n, dtype=bool)
        self.public[0] = True
        for p in m.providers:
            self.public[p.eid] = p.spec.public
        self.model_rows: list[dict] = []
        self.agent_months: list[dict[str, np.ndarray]] = []
        # posted prices: each month's (month, trading providers, on-demand, reserved and spot
        # prices), turned into a chunk of arrays a month when asked for (see _price_chunks)
        self._price_months: list[tuple] = []
        self._chunks: list[tuple] = []
        self._price_rows: list[tuple] = []
        self._price_rows_done = 0
        self._provider_names = np.array([p.name for p in m.providers], dtype=object)
        self._blank_status = np.full(n, "", dtype=object)

    def record(self, t: int, opening: np.ndarray, month_flows: dict[str, np.ndarray] | None = None) -> None:
        """The month's rows: the agents' statements now (``ledger.month_figures``) and the month's
        flows (``month_flows``, the agents' flows as the caller took them, if it did)."""
        m = self.model
        n = m.n_agents
        L = m.ledger
        figures = (month_figures(opening, L.balances, n) if month_flows is None
                   else statement(L.balances[:n]) | {k: month_flows[k] for k in FLOWS})
        P = self.prov_rows
        # the providers' columns (zero, or empty for market value, for NVIDIA and the buyers)
        cols = np.zeros((9, n))
        installed, mw, sold, util, backlog, top, value, share, dark = cols
        value[:] = np.nan
        defaulted = np.zeros(n, dtype=bool)
        status = self._blank_status.copy()
        pb = m.pbook
        provs = m.providers
        installed[P] = pb.installed.sum(axis=1)
        dark[P] = pb.unpowered()
        sold[P] = pb.sold_hours_g.sum(axis=1)
        mw[P] = [p.powered_mw for p in provs]
        util[P] = [p.utilisation for p in provs]
        backlog[P], top[P] = m.exchange.credit_backlogs()[1], m.exchange.top_customer_shares()
        value[P] = [p.market_value if p.spec.public else np.nan for p in provs]
        defaulted[P] = [p.defaulted for p in provs]
        status[P] = [p.status for p in provs]
        self._price_months.append((t, pb.live(), pb.od.copy(), pb.res.copy(), pb.spot.copy()))
        value[0] = m.nvidia.market_value
        compute_rev = figures["revenue"][P]
        if compute_rev.sum() > 0:
            share[P] = compute_rev / compute_rev.sum()
        row = {
            "month": t, **figures, "capex": L.capex[:n].copy(), "gpus_installed": installed, "powered_mw": mw,
            "gpu_hours_sold": sold, "utilization": util, "market_share": share, "backlog": backlog,
            "top_customer_share": top, "market_value": value, "defaulted": defaulted, "status": status,
            "gpus_unpowered": dark,
        }
        row.update(self._circular(n))
        self.agent_months.append(row)
        self.model_rows.append(self._model_row(t, figures, row))

    def _circular(self, n: int) -> dict[str, np.ndarray]:
        """NVIDIA's stakes (value on its books), investments and backstop payments of the month:
        on NVIDIA's row its totals, on each provider's row what concerns that provider."""
        nv = self.model.nvidia
        index = self.model.ledger.index
        out = {}
        for col, per in (("nvidia_stake_value", nv.stake_value), ("nvidia_invested", nv.invested),
                         ("nvidia_backstop_paid", nv.backstop_to)):
            x = np.zeros(n)
            for name, v in per.items():
                x[index[name]] = v
            x[nv.eid] = sum(per.values())
            out[col] = x
        return out

    def _model_row(self, t: int, figures: dict[str, np.ndarray], agents: dict) -> dict:
        """The market's row of the month, from the exchange's tallies and the agents' row."""
        m = self.model
        P = self.prov_rows
        ex = m.exchange
        nv = m.nvidia
        share, backlog = agents["market_share"], agents["backlog"]
        total_rev = float(figures["revenue"][P].sum())
        hours_sold = float(agents["gpu_hours_sold"][P].sum())  # every provider's sales, resales included
        served = ex.contract_hours + ex.st_hours
        inf = ex.contract_inference_hours + ex.st_inference_hours
        nv_rev = float(figures["revenue"][nv.eid])
        return {
            "month": t,
            "date": m.label(t),
            "gpus_shipped": float(nv.shipped.sum()),
            "gpus_installed": float(agents["gpus_installed"].sum()),
            "demand_gpu_hours": ex.demand_hours,
            "served_gpu_hours": served,
            "served_inference_gpu_hours": inf,
            "inference_share": inf / served if served > 0 else 0.0,
            "avg_price_per_gpu_hour": total_rev / hours_sold if hours_sold > 0 else 0.0,
            "hhi_revenue": float((share[P] ** 2).sum()),
            "gpus_shipped_to_providers": float(sum(nv.shipped_to.values())),
            "unmet_gpu_hours": max(0.0, ex.demand_hours - served),
            "utilization": m.utilisation,
            "compute_revenue": total_rev,
            "backlog": float(backlog.sum()),
            "base_rate": m.base_rate,
            "nvidia_gross_margin": (nv_rev - float(figures["cost_of_revenue"][nv.eid])) / nv_rev if nv_rev > 0 else 0.0,
            "short_term_price_per_h100_hour": m.market_price,
            "contracts_signed": ex.signed_this_month,
            "gpus_unpowered": float(agents["gpus_unpowered"].sum()),
        }

    # ------------------------------------------------------------------ tables
    def model_table(self) -> dict[str, list]:
        return {c: [r[c] for r in self.model_rows] for c in MODEL_COLUMNS}

    def agent_table(self) -> dict[str, np.ndarray]:
        months = self.agent_months
        n = len(self.names)
        if not months:
            return {c: [] for c in AGENT_COLUMNS}
        out: dict[str, np.ndarray] = {
            "month": np.repeat([r["month"] for r in months], n),
            "agent": np.tile(np.array(self.names, dtype=object), len(months)),
            "kind": np.tile(self.kinds, len(months)),
        }
        for c in AGENT_COLUMNS[3:]:
            out[c] = np.concatenate([r[c] for r in months])
        # market value is empty for non-public companies
        out["market_value"] = np.where(np.tile(self.public, len(months)), out["market_value"], np.nan)
        return out

    @property
    def _price_chunks(self) -> list[tuple]:
        """Posted prices, a chunk of arrays a month: (month, provider rows, generations, on-demand,
        reserved, spot), one entry per trading provider and generation it prices (a generation it
        no longer holds, has coming or resells has no price: ``Provider.keep_cohorts``; a company
        that is not trading posts no prices); months with none are left out."""
        for t, trading, od, res, spot in self._price_months[len(self._chunks):]:
            rows, gens = np.nonzero(trading[:, None] & ~np.isnan(od))
            self._chunks.append((t, rows, gens, od[rows, gens], res[rows, gens], spot[rows, gens]))
        return [c for c in self._chunks if c[1].size]

    @property
    def price_rows(self) -> list[tuple]:
        """Posted prices as (month, provider, generation, on-demand, reserved, spot) rows, one per
        trading provider and generation it prices, month by month (built as they are asked for)."""
        gen_names = self.model.cat.names
        for t, rows, gens, od, res, spot in self._price_chunks[self._price_rows_done:]:
            self._price_rows.extend(
                (t, self._provider_names[i], gen_names[g], o, r, s)
                for i, g, o, r, s in zip(rows.tolist(), gens.tolist(), od.tolist(), res.tolist(), spot.tolist(),
                                         strict=True))
        self._price_rows_done = len(self._price_chunks)
        return self._price_rows

    def price_table(self) -> dict[str, list]:
        cols = ["month", "agent", "generation", "on_demand", "reserved", "spot"]
        ch = self._price_chunks
        if not ch:
            return {c: [] for c in cols}
        rows = np.concatenate([c[1] for c in ch])
        gens = np.concatenate([c[2] for c in ch])
        return {
            "month": np.concatenate([np.full(c[1].size, c[0], dtype=np.int64) for c in ch]).tolist(),
            "agent": self._provider_names[rows].tolist(),
            "generation": np.array(self.model.cat.names, dtype=object)[gens].tolist(),
            "on_demand": np.concatenate([c[3] for c in ch]).tolist(),
            "reserved": np.concatenate([c[4] for c in ch]).tolist(),
            "spot": np.concatenate([c[5] for c in ch]).tolist(),
        }

    def last(self) -> dict[str, dict]:
        """The final month's figures per agent."""
        if not self.agent_months:
            return {}
        r = self.agent_months[-1]
        out = {}
        for i, name in enumerate(self.names):
            d = {"kind": str(self.kinds[i])}
            for c in AGENT_COLUMNS[3:]:
                v = r[c][i]
                if c == "market_value" and not self.public[i]:
                    v = None
                elif isinstance(v, np.bool_):
                    v = bool(v)
                elif isinstance(v, np.floating | float):
                    v = None if v != v else float(v)
                elif isinstance(v, np.integer):
                    v = int(v)
                d[c] = v
            out[name] = d
        return out
