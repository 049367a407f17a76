"""The top line: scenario, month, play state and speed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.session import Session


class StatusBar(Static):
    """Scenario, date, months done of the total, playing or paused, speed, the player's seat."""

    def show(self, session: Session, playing: bool, speed: str,
             busy: tuple[str, float | None, int] | None = None) -> None:
        """``busy``: what is running (a progress line), for how many seconds, and how many more
        months are queued behind it."""
        g = session.game
        m = g.model
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" gpumarket ", style="bold reverse")
        if g.player:  # the seat first: it must survive a narrow screen
            t.append(f" you run {g.player} ", style="bold")
        done = m.month
        last = m.label(done - 1) if done else "start " + m.label(0)
        t.append(" ")
        t.append(last, style="bold")
        t.append(f" · month {done}/{g.scenario.months} · ")
        if g.finished:
            t.append("■ finished", style="bold")
        elif busy is not None:
            what, secs, queued = busy
            t.append(f"◷ {what}…", style="bold")
            if secs is not None and secs >= 1.0:
                t.append(f" {secs:.0f}s")
            if queued:
                t.append(f" · {queued} more queued", style="bold")
        elif playing:
            t.append(f"▶ playing {speed}", style="bold")
        else:
            t.append(f"‖ paused {speed}")
        t.append(f" · {g.scenario.name} · seed {g.seed}")
        self.update(t)
