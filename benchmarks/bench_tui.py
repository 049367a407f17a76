"""Time to the first screen and time per month stepped and repainted, on baseline-2026.

Prints figures; asserts nothing (targets: first screen <= 2 s, a month <= 100 ms).
Run: python benchmarks/bench_tui.py [--months 24] [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time


async def bench(months: int, size: tuple[int, int]) -> None:
    t0 = time.perf_counter()
    from market.game import Game
    from tui.app import GpuMarketApp

    game = Game.new("baseline-2026", 0)
    app = GpuMarketApp(game)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        first = time.perf_counter() - t0
        print(f"first screen (imports, game, mount, first paint): {first * 1000:.0f} ms")
        for tab in ("1", "2", "3", "4"):
            per = []
            for _ in range(months // 4):
                if app.session.finished:
                    break
                t = time.perf_counter()
                await pilot.press("n")
                await app.wait_for_threads()
                await pilot.pause()
                per.append(time.perf_counter() - t)
            name = {"1": "dashboard", "2": "companies", "3": "contracts", "4": "news"}[tab]
            if per:
                print(f"month stepped + repainted on {name:10s}: median {statistics.median(per) * 1000:.0f} ms, "
                      f"max {max(per) * 1000:.0f} ms over {len(per)} months")
            nxt = str(int(tab) + 1)
            if nxt in "234":
                await pilot.press(nxt)
                await pilot.pause()
        # playing at full speed on the dashboard: months per second as a person sees them
        await pilot.press("1")
        app._new_game(__import__("tui.screens.dialogs", fromlist=["NewGame"]).NewGame("baseline-2026", 0, None))
        await pilot.pause()
        app.speed = len(__import__("tui.app", fromlist=["SPEEDS"]).SPEEDS) - 1
        t = time.perf_counter()
        await pilot.press("space")
        while time.perf_counter() - t < 3.0 and not app.session.finished:
            await asyncio.sleep(0.05)
        await pilot.press("space")
        n = app.session.model.month
        el = time.perf_counter() - t
        await app.wait_for_threads()
        print(f"playing at full speed on the dashboard: {n} months in {el:.2f} s = {el / max(n, 1) * 1000:.0f} ms "
              f"per month stepped and repainted (including the 20 ms pause between ticks)")
        # jump: many months stepped, one repaint at the end
        left = game.scenario.months - game.model.month
        t = time.perf_counter()
        app.action_jump(left)
        await app.wait_for_threads()
        await pilot.pause()
        print(f"jump of {left} months with one repaint: {(time.perf_counter() - t) * 1000:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--size", default="120x40")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    asyncio.run(bench(a.months, (w, h)))


if __name__ == "__main__":
    main()
