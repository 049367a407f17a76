"""Capacity requests and take-or-pay contracts (data; the rules live in market/exchange.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Request:
    """A buyer asks for capacity: ``gpus`` of a generation from ``start`` for ``term`` months."""

    request_id: int
    buyer: str
    generation: int
    gpus: int
    start: int
    term: int
    ceiling: float  # highest $ per GPU-hour the buyer will pay
    purpose: str
    issued: int
    remaining: int
    max_share: float  # of the request, per seller
    award_sensitivity: float  # how sharply the buyer splits it towards the best offers (negotiation.award)
    sellers: tuple[str, ...] = ()  # the providers asked (a directed deal); empty: all it knows
    open: bool = True


def remaining_value(fee, term, billed):
    """A live contract's remaining value: its monthly fee x the months of its term not yet billed."""
    return fee * (term - billed)


#: a contract's states; the exchange keeps them as codes in this order (pending and active are live)
STATUSES = ("pending", "active", "completed", "cancelled", "reassigned", "defaulted")
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}


class ContractBook:
    """The changing state of every contract added to an exchange, a column per contract (its place
    in the exchange's list): status code, months billed, months late, prepayment left, GPUs
    delivered this month, and its months (start, end), so that a month's service moves every
    contract on in a few array operations."""

    def __init__(self) -> None:
        self.n = 0
        self.status = np.zeros(64, dtype=np.int64)
        self.billed = np.zeros(64, dtype=np.int64)
        self.late = np.zeros(64, dtype=np.int64)
        self.prepaid = np.zeros(64)
        self.delivered = np.zeros(64, dtype=np.int64)
        self.span = np.zeros((2, 64), dtype=np.int64)

    def add(self, c: Contract) -> int:
        """Take over contract ``c``'s state (``Contract.attach``); returns its column."""
        n = self.n
        if n == self.status.size:
            for name in ("status", "billed", "late", "prepaid", "delivered", "span"):
                a = getattr(self, name)
                setattr(self, name, np.concatenate([a, np.zeros_like(a)], axis=-1))
        self.status[n] = STATUS_CODE[c.status]
        self.billed[n] = c.months_billed
        self.late[n] = c.late_months
        self.prepaid[n] = c.prepaid_left
        self.delivered[n] = c.delivered
        self.span[:, n] = c.start, c.end
        self.n = n + 1
        c.attach(self, n)
        return n

    def live(self) -> np.ndarray:
        """Columns of the pending and active contracts."""
        return np.flatnonzero(self.status[: self.n] <= STATUS_CODE["active"])


class _State:
    """A contract's changing field: the contract's own value until it is added to a
    :class:`ContractBook`, then the book's column ``column`` (``read`` turns a column's entry into the value,
    ``write`` a value into the entry)."""

    def __init__(self, column: str, read, write=None) -> None:
        self.column, self.read, self.write = column, read, write

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, c, owner=None):
        if c is None:
            return self
        x = c._x
        return getattr(c, self.slot) if x is None else self.read(getattr(x, self.column)[c._col])

    def __set__(self, c, value) -> None:
        x = c._x
        if x is None:
            setattr(c, self.slot, value)
        else:
            getattr(x, self.column)[c._col] = value if self.write is None else self.write(value)


class Contract:
    """A signed take-or-pay contract. ``fee`` is the monthly charge: gpus x hours x price.

    Its terms are plain attributes. What changes as it is served (``status``, ``months_billed``,
    ``late_months``, ``prepaid_left``, ``delivered``: GPUs delivered this month) is held by the
    exchange's :class:`ContractBook`, in a column per contract, once the contract is added to it,
    so that a month's service updates every contract at once; before that, by the contract itself. Reading or setting them works the same either way."""

    __slots__ = ("contract_id", "buyer", "seller", "generation", "gpus", "signed", "start", "term", "price", "purpose",
                 "prepay_share", "fee", "_x", "_col", "_status", "_months_billed", "_late_months", "_prepaid_left",
                 "_delivered")

    def __init__(self, contract_id: int, buyer: str, seller: str, generation: int, gpus: int, signed: int, start: int,
                 term: int, price: float, purpose: str, prepay_share: float, fee: float) -> None:
        self.contract_id = contract_id
        self.buyer = buyer
        self.seller = seller
        self.generation = generation
        self.gpus = gpus
        self.signed = signed
        self.start = start
        self.term = term
        self.price = price
        self.purpose = purpose
        self.prepay_share = prepay_share
        self.fee = fee
        self._x: ContractBook | None = None  # the book holding its state, once added
        self._col = -1  # its column there
        self._status, self._months_billed, self._late_months = "pending", 0, 0  # (its state until it is added)
        self._prepaid_left, self._delivered = 0.0, 0

    def attach(self, book: ContractBook, col: int) -> None:
        """From now on its changing state is column ``col`` of ``book`` (which the book has filled
        with the values the contract holds)."""
        self._x, self._col = book, col

    def __repr__(self) -> str:
        return (f"Contract({self.contract_id}, {self.buyer!r} <- {self.seller!r}, {self.gpus} GPUs of generation "
                f"{self.generation}, months {self.start}..{self.end}, ${self.price:.2f}/GPU-hour, {self.status}, "
                f"{self.months_billed} billed)")

    status = _State("status", STATUSES.__getitem__, STATUS_CODE.__getitem__)
    months_billed = _State("billed", int)
    late_months = _State("late", int)
    prepaid_left = _State("prepaid", float)
    delivered = _State("delivered", int)

    @property
    def total_value(self) -> float:
        return self.fee * self.term

    @property
    def end(self) -> int:
        return self.start + self.term

    def remaining_value(self) -> float:
        """Contracted revenue not yet recognised (:func:`remaining_value`; 0 once it has ended)."""
        if self.status in ("pending", "active"):
            return remaining_value(self.fee, self.term, self.months_billed)
        return 0.0
