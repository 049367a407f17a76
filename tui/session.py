"""The game on screen and what the views cache about it."""

from __future__ import annotations

import threading

from market.game import Game
from market.model import MarketModel
from tui.views import PriceBook


class Session:
    """Holds the current :class:`market.game.Game` and a lock: the stepping worker holds it while
    the model changes, and a view holds it while it reads the model off the message loop's turn,
    so a repaint never sees a month half done."""

    def __init__(self, game: Game) -> None:
        self.lock = threading.RLock()
        self.game = game
        self.prices = PriceBook()
        self.generation = 0  # bumped when the game is replaced, so stale work can be ignored
        self.shadow: Game | None = None  # the AI's own policy in the player's seat, from the same start

    @property
    def model(self) -> MarketModel:
        return self.game.model

    @property
    def player(self) -> str | None:
        return self.game.player

    @property
    def finished(self) -> bool:
        return self.game.finished

    def replace(self, game: Game) -> None:
        with self.lock:
            self.game = game
            self.prices = PriceBook()
            self.generation += 1
            self.shadow = None

    def shadow_for(self, month: int) -> Game | None:
        """The shadow run if it has reached ``month`` months (None while it is being worked out)."""
        s = self.shadow
        return s if s is not None and s.model.month == month else None

    def update_caches(self) -> None:
        with self.lock:
            self.prices.update(self.model)
