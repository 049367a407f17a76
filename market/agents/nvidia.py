"""NVIDIA: output, the order book, allocation of scarce units, and prices."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from market.compiled import kernels
from market.ledger import N_ACCTS, NO_LOG, Acct, log_transfer, transfer_codes, transfer_into
from market.mechanisms import allocation
from market.mechanisms.finance import book_loan, cash_call, spread_of
from market.scenario import NvidiaSpec, month_index

if TYPE_CHECKING:
    from market.agents.provider import Provider
    from market.model import MarketModel


class Nvidia(mesa.Agent):
    """The one supplier. It makes ``Catalogue.output`` units a month, keeps an order book per
    generation, allocates output among orders by its policy, ships (buyers pay on shipment,
    install after the lead time) and prices each generation off its backlog."""

    kind = "nvidia"

    def __init__(self, model: MarketModel, spec: NvidiaSpec) -> None:
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.eid = model.ledger.index[spec.name]
        G = model.cat.n
        self.policy = spec.allocation
        self.price = model.cat.list_price.copy()
        # order book: per generation, a list of [provider or None for the rest of the world, units]
        self.book: list[list[list]] = [[] for _ in range(G)]
        self.backlog = np.zeros(G)
        self.shipped = np.zeros(G)
        self.shipped_to: dict[str, float] = {}
        self.rest_backlog = np.zeros(G)
        self.output = np.zeros(G)
        self.partners = set(spec.partners) | set(spec.equity_stakes) | {b.provider for b in spec.backstops}
        start = model.scn.market.start
        self.backstops = [(b.provider, b.cap_per_month, b.price_share, month_index(b.until, start))
                          for b in spec.backstops]
        self.backstop_paid = 0.0  # paid for providers' unused capacity this month
        self.market_value = float("nan")
        self.hist: list[tuple[float, float, float]] = []
        self.defaulted = False
        self._weights_key: tuple | None = None
        self._weights: dict = {}

    def open_books(self) -> None:
        m = self.model
        m.ledger.transfer(m.party["investors"], self.eid, self.spec.cash, "equity")

    def book_stakes(self) -> None:
        """Equity stakes in providers, on NVIDIA's books at the share of each provider's opening
        book equity (the stake was paid for before the scenario starts). They also make the
        provider a partner under ``partner_priority`` and add to NVIDIA's market value."""
        m = self.model
        for name, share in self.spec.equity_stakes.items():
            p = m.provider_by_name[name]
            equity = -float(m.ledger.balances[p.eid, Acct.PAID_IN:].sum())
            m.ledger.post(self.eid, Acct.INVESTMENTS, Acct.PAID_IN, share * max(0.0, equity), "opening")

    def book_order(self, provider: Provider, g: int, units: float) -> None:
        """Add to the provider's open order for the generation (one open order per buyer and
        generation; its place in the book is that of its first units)."""
        for o in self.book[g]:
            if o[0] is provider:
                o[1] += units
                break
        else:
            self.book[g].append([provider, units])
        self.backlog[g] += units

    def cancel_orders(self, provider: Provider) -> None:
        for g, orders in enumerate(self.book):
            for o in orders:
                if o[0] is provider:
                    self.backlog[g] -= o[1]
                    o[1] = 0.0

    def step_month(self, t: int) -> None:
        """Top up the rest of the world's orders, set prices, allocate and ship.

        (Per generation the work is done on plain numbers: the arrays hold only the 8-10
        generations, where numpy's calls cost more than the arithmetic.)"""
        m = self.model
        cat = m.cat
        L = m.ledger
        sp = self.spec
        eid = self.eid
        out_l = cat.output_list(t)
        self.output = np.array(out_l)
        G = cat.n
        book = self.book
        self.shipped_to = {}
        backlog = self.backlog.tolist()
        rest_backlog = self.rest_backlog.tolist()
        share, months = sp.rest_of_world_share, sp.rest_of_world_backlog_months
        for g in range(G):
            if out_l[g] <= 0:
                continue
            want = share * out_l[g] * months
            top_up = max(0.0, want - rest_backlog[g])
            if top_up > 0:  # (book_order for the rest of the world)
                for o in book[g]:
                    if o[0] is None:
                        o[1] += top_up
                        break
                else:
                    book[g].append([None, top_up])
                backlog[g] += top_up
                rest_backlog[g] += top_up
        price = allocation.nvidia_prices(cat.list_price.tolist(), backlog, out_l, cat.nvidia_list, self.price.tolist(),
                                         sp.target_backlog_months, sp.price_sensitivity, sp.price_floor,
                                         sp.price_cap)
        self.price[:] = price
        self.backlog[:] = backlog  # (read by the exchange, and kept in step below)
        lead = sp.lead_time_months
        weight = self._policy_weights()
        unit_cost = cat.unit_cost.tolist()
        suppliers = m.party["suppliers"]
        shipped = [0.0] * G
        # every generation's output allocated among its open orders in one call (a shipment
        # changes only its own generation's orders), then shipped
        gens, starts, req, w = [], [0], [], []
        for g in range(G):
            orders = [o for o in book[g] if o[1] > 1e-9]
            book[g] = orders
            if out_l[g] <= 0 or not orders:
                continue
            gens.append(g)
            req += [o[1] for o in orders]
            w += [weight[o[0]] if o[0] in weight else self._policy_weight(o[0]) for o in orders]
            starts.append(len(req))
        allocated = allocation.allocate_many(np.array([out_l[g] for g in gens]), np.array(req), np.array(w),
                                             np.array(starts)).tolist() if gens else []
        if gens:
            self._ship(t, gens, starts, allocated, price, lead, unit_cost, shipped, rest_backlog)
        self.shipped[:] = shipped
        self.rest_backlog[:] = rest_backlog
        L.transfer(eid, suppliers, sp.opex_per_month, "sga")

    def _ship(self, t: int, gens: list[int], starts: list[int], allocated: list[float], price: list[float], lead: int,
              unit_cost: list[float], shipped: list[float], rest_backlog: list[float]) -> None:
        """Ship the allocated units of the generations ``gens`` (their orders are
        ``allocated[starts[k]:starts[k + 1]]``, in the book's order): the rest of the world pays,
        each provider takes delivery (``Provider.take_delivery``: pays from cash, borrowing first
        where it must), and NVIDIA pays for the goods of each generation. The deliveries and their
        loans run in one compiled call (``_ship_kernel``); a delivery that needs new equity or a
        larger loan book, or cannot be paid in full, is left to ``Provider.take_delivery`` itself
        and the call resumes after it. :meth:`_ship_reference` states it all order by order, and
        the tests hold the two equal."""
        m = self.model
        cat = m.cat
        L = m.ledger
        pb = m.pbook
        prow = m.exchange._prow
        book = self.book
        orders = [o for g in gens for o in book[g]]
        who = np.array([-1 if o[0] is None else prow[o[0].name] for o in orders], dtype=np.int64)
        alloc = np.array(allocated)
        K = len(gens)
        gen_of = [k for k in range(K) for _ in range(starts[k], starts[k + 1])]
        price_k = np.array([price[g] for g in gens])
        sys_k = cat.system_cost[gens]
        cost_k = np.array([unit_cost[g] for g in gens])
        fin = pb.financing()
        units_sold = np.zeros(K)
        landed = [price[g] + cat.system_cost[g] for g in gens]  # (each generation's cost a GPU, installed)
        size = 3 * len(orders) + K if L.keep else 0  # (a log of the payments, for the postings kept)
        log = NO_LOG if not size else (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size),
                                       np.empty(size, dtype=np.int64))
        eids = (self.eid, m.party["rest_of_world"], m.party["suppliers"], m.party["lenders"])
        ps = pb.providers
        shipped_to = self.shipped_to
        k, j, done = 0, 0, 0
        while True:
            mats = pb.loan_matrices()
            loan_n = np.array([p.loans.n for p in ps], dtype=np.int64)
            k, j, n_log = _compiled().ship(k, j, np.array(gens, dtype=np.int64), np.array(starts, dtype=np.int64), who,
                                           alloc, price_k, sys_k, cost_k, L.balances.reshape(-1), L.capex, N_ACCTS,
                                           int(Acct.CASH), int(Acct.DEBT), _SHIP_CODES, *eids, pb.eids, *fin,
                                           pb.ebitda_annual, pb.base_spread, pb.ig_discount, pb.leverage_penalty,
                                           pb.amort_months, *mats, loan_n, pb.on_order, pb.in_transit, units_sold,
                                           self.backlog, *log)
            for p, n in zip(ps, loan_n.tolist(), strict=True):
                p.loans.n = n
            if L.keep:
                L.kept_transfers(log[0][:n_log].tolist(), log[1][:n_log].tolist(), log[2][:n_log].tolist(),
                                 [_SHIP_KINDS[c] for c in log[3][:n_log].tolist()])
            stop = starts[k] if k == K else j  # orders before this one were shipped by the kernel
            for i in range(done, stop):  # (NVIDIA's backlog was kept by the kernel)
                a = allocated[i]
                if a <= 0:
                    continue
                o = orders[i]
                gi = gen_of[i]
                if o[0] is None:
                    rest_backlog[gens[gi]] -= a
                else:  # (take_delivery's own bookkeeping, then NVIDIA's)
                    buyer = o[0]
                    buyer.transit.setdefault(t + lead, []).append((gens[gi], a, landed[gi]))
                    shipped_to[buyer.name] = shipped_to.get(buyer.name, 0.0) + a
                o[1] -= a
            if k == K:
                break
            # the order the kernel left: the provider's own method, as in _ship_reference
            g = gens[k]
            o = orders[j]
            a = allocated[j]
            buyer = o[0]
            got = buyer.take_delivery(t, g, a, price[g], lead)
            self._shipped(o, g, a, got)
            units_sold[k] += got
            done = j + 1
            j += 1
        for k, g in enumerate(gens):
            shipped[g] = float(units_sold[k])

    def _shipped(self, o: list, g: int, a: float, paid: float) -> None:
        """NVIDIA's books after the buyer of order ``o`` (of generation ``g``) took ``paid`` of the
        ``a`` units allocated to it: units it could not pay for go back, and the order shrinks."""
        m = self.model
        buyer = o[0]
        self.shipped_to[buyer.name] = self.shipped_to.get(buyer.name, 0.0) + paid
        if paid < a:  # could not pay: the order shrinks and the units go elsewhere
            o[1] -= a - paid
            self.backlog[g] -= a - paid
            buyer.on_order[g] = max(0.0, buyer.on_order[g] - (a - paid))
            m.news("order_cut", [buyer.name], f"{buyer.name} cannot pay for {a - paid:,.0f} "
                   f"{m.cat.names[g]} GPUs; NVIDIA ships them elsewhere")
        o[1] -= paid
        self.backlog[g] -= paid

    def _ship_reference(self, t: int, gens: list[int], starts: list[int], allocated: list[float], price: list[float],
                        lead: int, unit_cost: list[float], shipped: list[float], rest_backlog: list[float]) -> None:
        """:meth:`_ship` order by order, with each provider's own ``take_delivery``: the readable
        statement of it."""
        m = self.model
        L = m.ledger
        eid = self.eid
        rest = m.party["rest_of_world"]
        suppliers = m.party["suppliers"]
        book = self.book
        for g, lo, hi in zip(gens, starts[:-1], starts[1:], strict=True):
            price_g = price[g]
            units_sold = 0.0
            for o, a in zip(list(book[g]), allocated[lo:hi], strict=True):
                if a <= 0:
                    continue
                buyer = o[0]
                if buyer is None:
                    L.transfer(rest, eid, a * price_g, "gpu_purchase")
                    rest_backlog[g] -= a
                    paid = a
                    o[1] -= paid
                    self.backlog[g] -= paid
                else:
                    paid = buyer.take_delivery(t, g, a, price_g, lead)
                    self._shipped(o, g, a, paid)
                units_sold += paid
            shipped[g] = units_sold
            L.transfer(eid, suppliers, units_sold * unit_cost[g], "cost_of_goods")

    def _policy_weights(self) -> dict:
        """The weights of the buyers (None: the rest of the world) under the policy of the moment
        and ``partner_weight``, kept until either changes."""
        key = (self.policy, self.spec.partner_weight)
        if self._weights_key != key:
            self._weights_key = key
            self._weights = {}
        return self._weights

    def _policy_weight(self, buyer: Provider | None) -> float:
        """:func:`allocation.policy_weight` of a buyer's orders, noted in :meth:`_policy_weights`."""
        w = self._weights[buyer] = allocation.policy_weight(
            self.policy, buyer is not None and buyer.name in self.partners,
            buyer is None or buyer.spec.rival_silicon, self.spec.partner_weight)
        return w

    def pay_backstops(self, t: int) -> None:
        """Buy each backstopped provider's unused GPU-hours at ``price_share`` of its reserved
        price, up to the monthly cap."""
        m = self.model
        self.backstop_paid = 0.0
        for name, cap, share, until in self.backstops:
            if t > until:
                continue
            p = m.provider_by_name.get(name)
            if p is None or p.defaulted or not p.active:
                continue
            value = min(cap, _idle_value(p.running.tolist(), m.hours, p.own_sold_hours_g.tolist(), p.res.tolist(),
                                         share))
            if value > 0:
                m.ledger.transfer(self.eid, p.eid, value, "backstop")
                self.backstop_paid += value


_BIG = float(np.finfo(np.float64).max)


def _idle_value(running: list, hours: float, sold: list, reserved: list, share: float) -> float:
    """``float(np.sum(np.maximum(0.0, running * hours - sold) * np.nan_to_num(reserved * share)))``
    on lists of generations, to the bit: numpy's maximum keeps a NaN; nan_to_num makes NaN 0 and
    infinities the largest finite numbers; the sum is numpy's."""
    terms = []
    for run, s, r in zip(running, sold, reserved, strict=True):
        x = run * hours - s
        idle = 0.0 if 0.0 >= x else x
        price = r * share
        if price != price:
            price = 0.0
        elif price == math.inf:
            price = _BIG
        elif price == -math.inf:
            price = -_BIG
        terms.append(idle * price)
    return float(np.array(terms).sum())


# the payments of a shipment, as the kernel's log names them
_SHIP_KINDS = ("gpu_purchase", "system_purchase", "cost_of_goods", "loan")
_SHIP_CODES = transfer_codes(list(_SHIP_KINDS))


def _ship_kernel(k0, j0, gens, starts, who, alloc, price, sys_cost, unit_cost, flat, capex, n_accts, cash, debt_acct,
                 codes, nv_eid, rest_eid, suppliers_eid, lenders_eid, p_eid, buffer, fleet_mv, bl_ig, bl_total, ltv,
                 non_ig, contract_ltv, ebitda, base_spread, ig_discount, penalty, amort, loan_p, loan_s, loan_m, loan_n,
                 on_order, in_transit, units_sold, backlog, log_payer, log_payee, log_amount, log_kind):  # pragma: no cover
    """``Nvidia._ship_reference`` from order ``j0`` of generation ``gens[k0]`` on: the rest of the
    world's payments, each provider's ``take_delivery`` with ``ensure_cash`` and ``borrow`` (its
    borrowing capacity, spread and new loan, from the providers' state given: cash buffer, fleet
    market value, credit backlog, loan terms), and NVIDIA's cost of goods after each generation.
    NVIDIA's ``backlog`` loses each shipment as it goes. Stops before a delivery that would need
    new equity, a loan where the provider's row of loans is full, or that cannot be paid in full,
    and returns (generation, order, payments logged);
    (len(gens), 0, n) when all is shipped. ``who``: each order's provider row, -1 for the rest of
    the world; ``codes``: the accounts of _SHIP_KINDS."""
    n_log = 0
    K = gens.shape[0]
    for k in range(k0, K):
        g = gens[k]
        lo = j0 if k == k0 else starts[k]
        for j in range(lo, starts[k + 1]):
            a = alloc[j]
            if a <= 0:
                continue
            i = who[j]
            if i < 0:  # the rest of the world pays on shipment
                amount = a * price[k]
                if transfer_into(flat, capex, rest_eid, nv_eid, amount, codes[0, 0], codes[0, 1], n_accts, cash,
                                 codes[0, 2] != 0):
                    n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, rest_eid, nv_eid, amount, 0)
                units_sold[k] += a
                backlog[g] -= a
                continue
            # take_delivery: ensure_cash(total), borrowing what it must
            e = p_eid[i]
            at = e * n_accts + cash
            total = a * (price[k] + sys_cost[k])
            debt = -flat[e * n_accts + debt_acct]
            loan, ok = cash_call(flat[at], debt, total, buffer[i], fleet_mv[i], bl_ig[i], bl_total[i], ltv[i], non_ig[i],
                                 contract_ltv[i], loan_n[i] >= loan_p.shape[1])
            if not ok:
                return k, j, n_log  # new equity, a longer loan book, or what it cannot pay: take_delivery
            if loan > 0.0:  # borrow: the spread at the debt before the loan
                book_loan(i, loan, debt, bl_ig[i], bl_total[i], ebitda[i], base_spread[i], ig_discount[i], penalty[i],
                          amort[i], loan_p, loan_s, loan_m, loan_n)
                transfer_into(flat, capex, lenders_eid, e, loan, codes[3, 0], codes[3, 1], n_accts, cash, codes[3, 2] != 0)
                n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, lenders_eid, e, loan, 3)
            amount = a * price[k]
            if transfer_into(flat, capex, e, nv_eid, amount, codes[0, 0], codes[0, 1], n_accts, cash, codes[0, 2] != 0):
                n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, e, nv_eid, amount, 0)
            amount = a * sys_cost[k]
            if transfer_into(flat, capex, e, suppliers_eid, amount, codes[1, 0], codes[1, 1], n_accts, cash,
                             codes[1, 2] != 0):
                n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, e, suppliers_eid, amount, 1)
            left = on_order[i, g] - a
            on_order[i, g] = left if left > 0.0 else 0.0
            in_transit[i, g] += a
            units_sold[k] += a
            backlog[g] -= a
        amount = units_sold[k] * unit_cost[k]  # NVIDIA pays for the generation's goods
        if transfer_into(flat, capex, nv_eid, suppliers_eid, amount, codes[2, 0], codes[2, 1], n_accts, cash,
                         codes[2, 2] != 0):
            n_log = log_transfer(log_payer, log_payee, log_amount, log_kind, n_log, nv_eid, suppliers_eid, amount, 2)
    return K, 0, n_log


_compiled = kernels((transfer_into, spread_of, cash_call, book_loan, log_transfer), ship=_ship_kernel)


def warm_up() -> None:
    """Load the compiled shipping now (argument types as ``Nvidia._ship`` passes them)."""
    i, one = np.zeros(1, dtype=np.int64), np.ones(1)
    mat = np.zeros((1, 1))
    _compiled().ship(1, 0, i, np.zeros(2, dtype=np.int64), i, one, one, one, one, np.zeros(N_ACCTS), np.zeros(1),
                     N_ACCTS, 0, 6, _SHIP_CODES, 0, 0, 0, 0, i, one, one, one, one, one, one, one, one, one, one, one,
                     one, mat, mat, mat, i.copy(), mat, mat, np.zeros(1), np.zeros(1), i.copy(), i.copy(), np.zeros(1),
                     i.copy())
