"""Messages the app's parts send each other (kept apart so widgets need not import the app)."""

from __future__ import annotations

from textual.message import Message


class MonthsAdvanced(Message):
    """The simulation has advanced; posted from the stepping worker after each month of a jump.
    Only the newest matters, so a queued one is replaced by the next (a fast worker cannot flood
    the screen)."""

    def __init__(self, month: int, target: int) -> None:
        super().__init__()
        self.month = month
        self.target = target

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MonthsAdvanced)


class GameReplaced(Message):
    """The session now holds another game (restart, load, adopted fork): views rebuild."""


class CompanySelected(Message):
    """A company was chosen in a list (the Companies view shows its accounts)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class ThreadDone(Message):
    """A thread of the app (a month, a load, a fork, the shadow run) has finished
    with ``result`` or raised ``error``."""

    def __init__(self, kind: str, result: object, error: BaseException | None, token: object = None) -> None:
        super().__init__()
        self.token = token
        self.kind = kind
        self.result = result
        self.error = error
