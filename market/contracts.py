"""Capacity requests and take-or-pay contracts (data; the rules live in market/exchange.py)."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(slots=True)
class Contract:
    """A signed take-or-pay contract. ``fee`` is the monthly charge: gpus x hours x price."""

    contract_id: int
    buyer: str
    seller: str
    generation: int
    gpus: int
    signed: int
    start: int
    term: int
    price: float
    purpose: str
    prepay_share: float
    fee: float
    status: str = "pending"  # pending, active, completed, cancelled, reassigned
    months_billed: int = 0
    late_months: int = 0
    prepaid_left: float = 0.0
    delivered: int = 0  # GPUs delivered this month

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
