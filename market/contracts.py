"""Capacity requests and take-or-pay contracts (data; the rules live in market/exchange.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from market.exchange import Exchange


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
    max_share: float
    open: bool = True


#: a contract's states; the exchange keeps them as codes in this order (pending and active are live)
STATUSES = ("pending", "active", "completed", "cancelled", "reassigned")
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}


class _State:
    """A contract's changing field: the contract's own value until it is added to an exchange,
    then the exchange's column ``column`` (``read`` turns a column's entry into the value,
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
    exchange, in a column per contract, once the contract is added to it (``Exchange.add_contract``
    attaches it), so that a month's service updates every contract at once; before that, by the
    contract itself. Reading or setting them works the same either way."""

    __slots__ = ("contract_id", "buyer", "seller", "generation", "gpus", "signed", "start", "term", "price", "purpose",
                 "prepay_share", "fee", "_x", "_col", "_status", "_months_billed", "_late_months", "_prepaid_left",
                 "_delivered")

    def __init__(self, contract_id: int, buyer: str, seller: str, generation: int, gpus: int, signed: int, start: int,
                 term: int, price: float, purpose: str, prepay_share: float, fee: float, status: str = "pending",
                 months_billed: int = 0, late_months: int = 0, prepaid_left: float = 0.0, delivered: int = 0) -> None:
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
        self._x: Exchange | None = None  # the exchange holding its state, once added
        self._col = -1  # its column there
        self._status = status
        self._months_billed = months_billed
        self._late_months = late_months
        self._prepaid_left = prepaid_left
        self._delivered = delivered

    def attach(self, exchange: Exchange, col: int) -> None:
        """From now on its changing state is column ``col`` of ``exchange``'s (which the exchange
        has filled with the values the contract holds)."""
        self._x, self._col = exchange, col

    def __repr__(self) -> str:
        return (f"Contract({self.contract_id}, {self.buyer!r} <- {self.seller!r}, {self.gpus} GPUs of generation "
                f"{self.generation}, months {self.start}..{self.end}, ${self.price:.2f}/GPU-hour, {self.status}, "
                f"{self.months_billed} billed)")

    status = _State("_status_col", STATUSES.__getitem__, STATUS_CODE.__getitem__)
    months_billed = _State("_billed_col", int)
    late_months = _State("_late_col", int)
    prepaid_left = _State("_prepaid_col", float)
    delivered = _State("_delivered_col", int)

    @property
    def total_value(self) -> float:
        return self.fee * self.term

    @property
    def end(self) -> int:
        return self.start + self.term

    def remaining_value(self) -> float:
        """Contracted revenue not yet recognised."""
        if self.status in ("pending", "active"):
            return self.fee * (self.term - self.months_billed)
        return 0.0
