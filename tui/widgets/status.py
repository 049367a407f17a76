"""The top line: scenario, month, play state and speed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.session import Session


class StatusBar(Static):
    """Scenario, date, months done of the total, playing or paused, speed, the player's seat."""

    def show(self, session: Session, playing: bool, speed: str, busy_to: int | None = None) -> None:
        g = session.game
        m = g.model
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" gpumarket ", style="bold reverse")
        t.append(f" {g.scenario.name} · seed {g.seed} · ")
        done = m.month
        last = m.label(done - 1) if done else "start " + m.label(0)
        t.append(last, style="bold")
        t.append(f" · month {done}/{g.scenario.months} · ")
        if g.finished:
            t.append("■ finished", style="bold")
        elif busy_to is not None:
            t.append(f"⏩ to month {busy_to}", style="bold")
        elif playing:
            t.append(f"▶ playing {speed}", style="bold")
        else:
            t.append(f"⏸ paused {speed}")
        if g.player:
            t.append(f" · you run {g.player}", style="bold")
        self.update(t)
