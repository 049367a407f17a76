"""A contract's changing state (status, months billed, months late, prepayment left, GPUs
delivered) is held by the contract until it is added to an exchange, then by the exchange's
contract book (``ContractBook``, ``Contract.attach``): the values carry over, and reading or setting them works the same."""

from __future__ import annotations

from market.contracts import STATUSES, Contract


def test_state_moves_into_the_exchange_columns(make_model):
    m = make_model()
    ex = m.exchange
    seller = m.providers[0].name
    buyer = m.buyer_agents[0].name
    c = Contract(ex.new_contract_id(), buyer, seller, 0, 100, 0, 3, 12, 2.5, "training", 0.1, 100 * m.hours * 2.5)
    c.status, c.months_billed, c.late_months, c.prepaid_left, c.delivered = "active", 4, 1, 123.5, 7
    assert c._x is None
    ex.add_contract(c)
    col = c._col
    assert c._x is ex.book and ex.contracts[col] is c
    # the values carried over into the columns, and are read from them
    assert (c.status, c.months_billed, c.late_months, c.prepaid_left, c.delivered) == ("active", 4, 1, 123.5, 7)
    assert (STATUSES[ex.book.status[col]], ex.book.billed[col], ex.book.late[col], ex.book.prepaid[col],
            ex.book.delivered[col]) == ("active", 4, 1, 123.5, 7)
    assert ex.book.span[:, col].tolist() == [3, 15]
    assert c.remaining_value() == c.fee * (12 - 4)
    # setting writes the column; a column written by the exchange is what the contract reads
    c.prepaid_left = 0.0
    assert ex.book.prepaid[col] == 0.0
    ex.book.billed[col] = 11
    assert c.months_billed == 11 and c.remaining_value() == c.fee
    assert c in live(ex)
    ex.end_contract(c, "cancelled")
    assert c.status == "cancelled" and c.remaining_value() == 0.0 and c not in live(ex)
    assert "cancelled" in repr(c) and "11 billed" in repr(c)


def live(ex) -> list:
    """The contracts in the book's live columns (``ContractBook.live``), in signing order."""
    return [ex.contracts[i] for i in ex.book.live().tolist()]


def test_a_served_month_moves_every_contract_on(make_model):
    # a month of service: every contract due is billed a month and active, the contracts in the
    # book's live columns are exactly those pending or active
    m = make_model(months=3)
    ex = m.exchange
    before = {c.contract_id: c.months_billed for c in live(ex) if c.start <= m.month}
    assert len(before) > 10
    m.step()
    for c in ex.contracts:
        if c.contract_id in before:
            assert c.months_billed == before[c.contract_id] + 1
            assert c.status in ("active", "completed", "cancelled")
    assert [c.contract_id for c in live(ex)] == [c.contract_id for c in ex.contracts
                                                  if c.status in ("pending", "active")]
