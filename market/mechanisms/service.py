"""Serving take-or-pay contracts for a month: each seller's running GPUs of a generation go to
its contracts due in the order they were signed, and each contract's fee is billed in
proportion to what it got.

:func:`serve_reference` states the rule with whole-array numpy operations. :func:`serve` is the
same rule compiled with Numba, one call a month; it repeats the reference's operations in the
same order, so the two agree to the bit, and the tests hold them to that.
``market.exchange.Exchange`` moves the money (penalties, prepayments, fees) through the ledger
with the amounts returned.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from market import portable
from market.compiled import kernels
from market.portable import pairwise_sum, python_sum

# the tallies a month's service adds to (arrays updated in place): the sellers' GPUs committed
# to contracts, their GPU-hours sold (all, and of their own fleet), resellers' contracted GPUs
# (providers x generations), and the buyers' physical and equivalent contracted hours (buyers)
TALLIES = ("committed", "sold_hours_g", "own_sold_hours_g", "resale", "buyer_hours", "contract_eq")


def serve_reference(c: SimpleNamespace, prepaid: np.ndarray, running: np.ndarray, hours_per_month: float,
                    tally: SimpleNamespace, demand_eq: np.ndarray, inference_eq: np.ndarray) -> tuple:
    """Deliveries and bills of the contracts due. ``c`` holds their terms as arrays in signing
    order: the seller's provider row ``srow``, generation ``gen``, ``gpus``, monthly ``fee``,
    ``prepay_share`` (the share of each bill taken from a prepayment), ``resale`` (the buyer is
    a provider, whose provider row is ``brow``; else ``brow`` is its buyer row) and ``perf`` (the
    generation's equivalent hours per hour for the contract's purpose). ``prepaid``: the
    prepayment each has left; ``running``: the sellers' running GPUs (providers x generations).

    A contract gets min(its GPUs, what the seller's earlier contracts of the generation left),
    at least zero; it owes ``fee`` x (delivered / GPUs), of which up to ``prepay_share`` is
    taken from its prepayment. What was delivered is added to the ``tally`` arrays (see
    ``TALLIES``). A buyer's contracted hours serve its training first (its equivalent demand
    ``demand_eq`` less ``inference_eq``) and its inference with the rest.

    Returns (delivered, due, short, from prepayment, to pay, hours delivered, the buyers'
    physical hours that served inference)."""
    srow, gen, gpus = c.srow, c.gen, c.gpus
    key = srow * running.shape[1] + gen
    order = np.argsort(key, kind="stable")
    k, want = key[order], gpus[order]
    before = np.cumsum(want) - want  # GPUs asked by the contracts before, across groups
    first = np.ones(k.size, dtype=bool)
    first[1:] = k[1:] != k[:-1]
    before -= np.maximum.accumulate(np.where(first, before, 0.0))  # ... within the group
    deliver = np.empty(order.size)
    deliver[order] = np.clip(running[srow[order], gen[order]] - before, 0.0, want)
    share = deliver / gpus
    due = c.fee * share
    short = share < 1.0
    use_prepaid = np.minimum(prepaid, due * c.prepay_share)
    hours = deliver * hours_per_month
    own = ~c.resale
    np.add.at(tally.committed, (srow, gen), deliver)
    np.add.at(tally.sold_hours_g, (srow, gen), hours)
    np.add.at(tally.own_sold_hours_g, (srow, gen), hours)
    np.add.at(tally.resale, (c.brow[c.resale], gen[c.resale]), deliver[c.resale])
    np.add.at(tally.buyer_hours, c.brow[own], hours[own])
    np.add.at(tally.contract_eq, c.brow[own], (hours * c.perf)[own])
    # a buyer's contracted capacity serves its running training first and its inference with the rest
    train_eq = np.maximum(0.0, demand_eq - inference_eq)
    train_frac = np.clip(np.divide(train_eq, tally.contract_eq, out=np.zeros(train_eq.size),
                                   where=tally.contract_eq > 0), 0.0, 1.0)
    inference_hours = portable.dot(tally.buyer_hours, 1.0 - train_frac)
    return deliver, due, short, use_prepaid, due - use_prepaid, hours, inference_hours


def serve(c: SimpleNamespace, prepaid: np.ndarray, running: np.ndarray, hours_per_month: float,
          tally: SimpleNamespace, demand_eq: np.ndarray, inference_eq: np.ndarray) -> tuple:
    """:func:`serve_reference` compiled: the same results and tallies, to the bit."""
    n = c.srow.shape[0]
    out = np.empty((5, n))
    short = np.empty(n, dtype=np.bool_)
    inference_hours = _compiled().serve(
        c.srow, c.gen, c.gpus, c.fee, c.prepay_share, c.resale, c.brow, c.perf, prepaid, running,
        float(hours_per_month), tally.committed, tally.sold_hours_g, tally.own_sold_hours_g, tally.resale,
        tally.buyer_hours, tally.contract_eq, demand_eq, inference_eq, out, short)
    return out[0], out[1], short, out[2], out[3], out[4], inference_hours


def _serve(srow, gen, gpus, fee, prepay_share, resale, brow, perf, prepaid, running, hours_per_month, committed,
           sold_hours_g, own_sold_hours_g, resale_gpus, buyer_hours, contract_eq, demand_eq, inference_eq, out,
           short):  # pragma: no cover - compiled
    n = srow.shape[0]
    G = running.shape[1]
    # the signing order within each (seller, generation): a stable sort of the key
    key = srow * G + gen
    order = np.arange(n)
    for j in range(1, n):
        o = order[j]
        kj = key[o]
        i = j - 1
        while i >= 0 and key[order[i]] > kj:
            order[i + 1] = order[i]
            i -= 1
        order[i + 1] = o
    deliver, due, use_prepaid, pay, hours = out[0], out[1], out[2], out[3], out[4]
    cum = 0.0
    top = 0.0  # the running maximum of the group starts' "before" (numpy's maximum.accumulate)
    for j in range(n):
        o = order[j]
        want = gpus[o]
        cum = want if j == 0 else cum + want  # (numpy's cumsum)
        before = cum - want
        first = j == 0 or key[o] != key[order[j - 1]]
        x = before if first else 0.0
        if j == 0:
            top = x
        elif not top >= x:  # (numpy's maximum keeps the first of equals)
            top = x
        v = running[srow[o], gen[o]] - (before - top)
        v = v if v > 0.0 else 0.0  # (numpy's clip: max, then min)
        deliver[o] = v if v < want else want
    for i in range(n):
        s = deliver[i] / gpus[i]
        d = fee[i] * s
        due[i] = d
        short[i] = s < 1.0
        cap = d * prepay_share[i]
        u = prepaid[i] if prepaid[i] <= cap else cap  # (numpy's minimum keeps the first of equals)
        use_prepaid[i] = u
        pay[i] = d - u
        hours[i] = deliver[i] * hours_per_month
    # the tallies, each added in contract order (as numpy's add.at does)
    for i in range(n):
        committed[srow[i], gen[i]] += deliver[i]
    for i in range(n):
        sold_hours_g[srow[i], gen[i]] += hours[i]
    for i in range(n):
        own_sold_hours_g[srow[i], gen[i]] += hours[i]
    for i in range(n):
        if resale[i]:
            resale_gpus[brow[i], gen[i]] += deliver[i]
    for i in range(n):
        if not resale[i]:
            buyer_hours[brow[i]] += hours[i]
    for i in range(n):
        if not resale[i]:
            contract_eq[brow[i]] += hours[i] * perf[i]
    # the buyers' hours that served inference: numpy's maximum, divide-where, clip; a dot in order
    inference_hours = 0.0
    for b in range(buyer_hours.shape[0]):
        x = demand_eq[b] - inference_eq[b]
        train_eq = 0.0 if 0.0 >= x else x
        frac = train_eq / contract_eq[b] if contract_eq[b] > 0 else 0.0
        frac = frac if frac > 0.0 else 0.0
        frac = frac if frac < 1.0 else 1.0
        inference_hours += buyer_hours[b] * (1.0 - frac)
    return inference_hours


def serve_columns(cols: np.ndarray, iterms: np.ndarray, fterms: np.ndarray, state: tuple[np.ndarray, ...],
                  running: np.ndarray, hours_per_month: float, tally: SimpleNamespace, demand_eq: np.ndarray,
                  inference_eq: np.ndarray, penalty_rate: float, grace: int, accounts: tuple[int, int, int],
                  ) -> tuple[np.ndarray, np.ndarray, int, int, int, float]:
    """A month's service of the contracts in columns ``cols`` of the exchange's contract columns
    (``iterms``, ``fterms``: their terms, as ``Exchange._contract_terms`` lays them out; ``state``:
    their status code, months billed, months late, prepayment left, GPUs delivered, updated in
    place), in one compiled call: :func:`serve` of their terms, and what its bills need, laid out
    for the ledger. ``accounts``: the active status code, and the accounts a reseller's and a
    buyer's prepaid compute is expensed to.

    Returns (ints, amounts, prepaid postings, resale bills, own-use bills, the buyers' physical
    hours that served inference). ``ints`` rows: seller and buyer entity of each contract, the
    prepayment postings (buyer entity, its expense account, seller entity), the resale bills and
    the own-use bills (payer, payee), what ends (1: billed to the end, 2: late beyond ``grace``
    months), short deliveries, resold inference; ``amounts`` rows: penalties (``penalty_rate`` x
    the fee undelivered), prepayment drawn, resale bills, own-use bills, hours delivered. Each
    group in signing order, as ``Exchange._serve_reference`` makes them."""
    k = cols.shape[0]
    ints = np.zeros((12, k), dtype=np.int64)
    amounts = np.zeros((5, k))
    n_pre, n_res, n_own, inference_hours = _compiled().serve_columns(
        cols, iterms, fterms, *state, running, float(hours_per_month), tally.committed, tally.sold_hours_g,
        tally.own_sold_hours_g, tally.resale, tally.buyer_hours, tally.contract_eq, demand_eq, inference_eq,
        float(penalty_rate), int(grace), *accounts, ints, amounts)
    return ints, amounts, n_pre, n_res, n_own, inference_hours


def _serve_columns(cols, iterms, fterms, status, billed, late, prepaid_left, delivered, running, hours_per_month,
                   committed, sold_hours_g, own_sold_hours_g, resale_gpus, buyer_hours, contract_eq, demand_eq,
                   inference_eq, penalty_rate, grace, active, resale_acct, own_acct, ints,
                   amounts):  # pragma: no cover - compiled
    k = cols.shape[0]
    srow = np.empty(k, dtype=np.int64)
    gen = np.empty(k, dtype=np.int64)
    brow = np.empty(k, dtype=np.int64)
    resale = np.empty(k, dtype=np.bool_)
    gpus = np.empty(k)
    fee = np.empty(k)
    prepay_share = np.empty(k)
    perf = np.empty(k)
    prepaid = np.empty(k)
    for i in range(k):
        c = cols[i]
        srow[i], gen[i], brow[i], resale[i] = iterms[0, c], iterms[4, c], iterms[3, c], iterms[5, c] != 0
        gpus[i], fee[i], prepay_share[i], perf[i] = fterms[0, c], fterms[1, c], fterms[2, c], fterms[3, c]
        prepaid[i] = prepaid_left[c]
    out = np.empty((5, k))
    short = np.empty(k, dtype=np.bool_)
    inference_hours = _serve(srow, gen, gpus, fee, prepay_share, resale, brow, perf, prepaid, running,
                             hours_per_month, committed, sold_hours_g, own_sold_hours_g, resale_gpus, buyer_hours,
                             contract_eq, demand_eq, inference_eq, out, short)
    deliver, due, use_prepaid, pay, hours = out[0], out[1], out[2], out[3], out[4]
    n_pre = 0
    n_res = 0
    n_own = 0
    for i in range(k):
        c = cols[i]
        s_eid = iterms[1, c]
        b_eid = iterms[2, c]
        ints[0, i] = s_eid
        ints[1, i] = b_eid
        if short[i]:  # a short delivery: the seller pays a penalty
            ints[10, i] = 1
            amounts[0, i] = penalty_rate * (fee[i] - due[i])
        u = use_prepaid[i]
        if u > 0:
            ints[2, n_pre] = b_eid
            ints[3, n_pre] = resale_acct if resale[i] else own_acct
            ints[4, n_pre] = s_eid
            amounts[1, n_pre] = u
            n_pre += 1
        if resale[i]:
            ints[5, n_res] = b_eid
            ints[6, n_res] = s_eid
            amounts[2, n_res] = pay[i]
            n_res += 1
            ints[11, i] = iterms[6, c]  # resold inference: served once, at delivery
        else:
            ints[7, n_own] = b_eid
            ints[8, n_own] = s_eid
            amounts[3, n_own] = pay[i]
            n_own += 1
        amounts[4, i] = hours[i]
        # the contract: active, GPUs delivered (whole), a month billed, months late (a full
        # delivery clears them), prepayment drawn; then whether it ends
        status[c] = active
        delivered[c] = int(deliver[i])
        b = billed[c] + 1
        billed[c] = b
        lt = late[c] + 1 if short[i] else 0
        late[c] = lt
        if u > 0:
            prepaid_left[c] = prepaid[i] - u
        if b >= iterms[8, c]:
            ints[9, i] = 1
        elif lt > grace:
            ints[9, i] = 2
    return n_pre, n_res, n_own, inference_hours


def backlogs(iterms: np.ndarray, fterms: np.ndarray, billed: np.ndarray, live: np.ndarray, n: int, n_entities: int,
             out: np.ndarray) -> None:
    """Every seller's backlog from the contract columns (``Exchange``: terms by contract, in the
    order contracts were added; months billed; live or not), into ``out`` (4 x sellers): the
    investment-grade and total remaining value, each added contract by contract in that order;
    the total again as the sum of each buyer's (Python's ``sum``, buyers in order of first
    contract, with its types: see ``iterms[9]``), and the largest buyer's share of it."""
    _compiled().backlogs(iterms, fterms, billed, live, int(n), int(n_entities), out)


def _backlogs(iterms, fterms, billed, live, n, n_entities, out):  # pragma: no cover - compiled
    P = out.shape[1]
    # the live contracts of each seller, in the order they were added (a counting sort)
    count = np.zeros(P + 1, dtype=np.int64)
    for r in range(n):
        if live[r]:
            count[iterms[0, r] + 1] += 1
    for s in range(P):
        count[s + 1] += count[s]
    rows = np.empty(count[P], dtype=np.int64)
    fill = count[:P].copy()
    for r in range(n):
        if live[r]:
            s = iterms[0, r]
            rows[fill[s]] = r
            fill[s] += 1
    slot = np.full(n_entities, -1, dtype=np.int64)
    buyers = np.empty(n_entities, dtype=np.int64)
    sums = np.empty(n_entities)
    exact = np.empty(n_entities, dtype=np.bool_)
    for s in range(P):
        ig = 0.0
        total = 0.0
        k = 0
        for j in range(count[s], count[s + 1]):
            r = rows[j]
            v = fterms[1, r] * float(iterms[8, r] - billed[r])  # remaining value: fee x months left
            total += v
            if iterms[7, r]:
                ig += v
            if v > 0:
                b = iterms[2, r]
                if slot[b] < 0:
                    slot[b] = k
                    buyers[k] = b
                    sums[k] = 0.0 + v
                    exact[k] = iterms[9, r] == 0
                    k += 1
                else:
                    sums[slot[b]] += v
                    exact[slot[b]] = exact[slot[b]] and iterms[9, r] == 0
        out[0, s] = ig
        out[1, s] = total
        # Python's sum() of the buyers' totals: compensated while they are Python floats, plain
        # from the first numpy float on (a fee worked out from a numpy price is one)
        by_buyer = python_sum(sums, k, exact)
        top = 0.0
        for j in range(k):  # the first of the largest (a stable sort by value, descending)
            if j == 0 or sums[j] > top:
                top = sums[j]
            slot[buyers[j]] = -1
        out[2, s] = by_buyer
        out[3, s] = top / by_buyer if by_buyer > 0 else 0.0


def add_schedule(sched: np.ndarray, row: int, bsched: np.ndarray, g: int, lo: int, hi: int, gpus: float) -> None:
    """``sched[row, g, lo:hi] += gpus`` and ``bsched[g, lo:hi] += gpus``: a contract's GPUs added
    to (or, negative, taken from) its seller's and its buyer's schedules, in one compiled call."""
    _compiled().add_schedule(sched, row, bsched, g, lo, hi, float(gpus))


def _add_schedule(sched, row, bsched, g, lo, hi, gpus):  # pragma: no cover - compiled
    for s in range(lo, hi):
        sched[row, g, s] += gpus
    for s in range(lo, hi):
        bsched[g, s] += gpus


def promised_kw(rows: np.ndarray, installed: np.ndarray, in_transit: np.ndarray, on_order: np.ndarray,
                 sched: np.ndarray, t: int, horizon: int, power_kw: np.ndarray) -> np.ndarray:
    """kW each seller in ``rows`` has spoken for: by generation, the larger of its fleet with what
    is coming and ordered, and the most GPUs its signed contracts need in any month t..t+horizon
    (``sched``: providers x generations x months), at each generation's kW. The numpy statement:
    ``(np.maximum(installed + in_transit + on_order, sched[:, :, t:t + horizon + 1].max(axis=2))
    * power_kw).sum(axis=1)`` over the rows (no months left: the fleet alone); the same bits."""
    out = np.empty(rows.shape[0])
    _compiled().promised(rows, installed, in_transit, on_order, sched, t, horizon, power_kw, out)
    return out


def _promised(rows, installed, in_transit, on_order, sched, t, horizon, power_kw, out):  # pragma: no cover - compiled
    G = installed.shape[1]
    end = min(t + horizon + 1, sched.shape[2])
    kw = np.empty(G)
    for j in range(rows.shape[0]):
        i = rows[j]
        for g in range(G):
            s = installed[i, g] + in_transit[i, g] + on_order[i, g]
            if t < end:
                most = sched[i, g, t]
                for k in range(t + 1, end):
                    if sched[i, g, k] > most:
                        most = sched[i, g, k]
                if s == s and not s >= most:  # np.maximum: NaN, or the first unless the second is larger
                    s = most
            elif s == s and not s >= 0.0:
                s = 0.0
            kw[g] = s * power_kw[g]
        out[j] = pairwise_sum(kw, G)


def warm_up() -> None:
    """Load the compiled kernels now."""
    one = np.ones(1)
    c = SimpleNamespace(srow=np.zeros(1, dtype=np.int64), gen=np.zeros(1, dtype=np.int64), gpus=one, fee=one,
                        prepay_share=one, resale=np.zeros(1, dtype=bool), brow=np.zeros(1, dtype=np.int64), perf=one)
    tally = SimpleNamespace(**{name: np.zeros((1, 1)) for name in TALLIES[:4]}, buyer_hours=np.zeros(1),
                            contract_eq=np.zeros(1))
    serve(c, one, np.ones((1, 1)), 1.0, tally, one, one)
    backlogs(np.zeros((10, 1), dtype=np.int64), np.zeros((4, 1)), np.zeros(1, dtype=np.int64), np.ones(1, dtype=bool),
             1, 1, np.zeros((4, 1)))
    z = np.zeros((1, 1))
    promised_kw(np.zeros(1, dtype=np.int64), z, z, z, np.zeros((1, 1, 1)), 0, 36, one)
    add_schedule(np.zeros((1, 1, 2)), 0, np.zeros((1, 2)), 0, 0, 1, 0.0)
    i1 = np.zeros(1, dtype=np.int64)
    serve_columns(i1, np.ones((10, 1), dtype=np.int64), np.ones((4, 1)), (i1.copy(), i1.copy(), i1.copy(), np.ones(1),
                  i1.copy()), np.ones((2, 2)), 1.0, tally, one, one, 0.1, 3, (1, 11, 15))


_compiled = kernels((python_sum, pairwise_sum, _serve), serve=_serve, serve_columns=_serve_columns, backlogs=_backlogs,
                    promised=_promised, add_schedule=_add_schedule)
