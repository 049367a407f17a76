"""Where a month's time goes: each step of ``MarketModel.step`` timed with ``perf_counter`` over
whole runs. Prints ms per month by step, largest first; asserts nothing.

    .venv/bin/python benchmarks/bench_steps.py                      # baseline-2026, 5 runs x 60 months
    .venv/bin/python benchmarks/bench_steps.py --scenario scale --months 12 --runs 1

Timers wrap steps, not small functions: a timer around a function called thousands of times a
month adds time of its own (docs/performance.md).
"""

from __future__ import annotations

import argparse
import collections
import time

from market.agents.buyer import Buyer, BuyerBook
from market.agents.nvidia import Nvidia
from market.agents.provider import ProviderBook
from market.exchange import Exchange
from market.metrics import Recorder
from market.model import MarketModel
from market.scenario import load_scenario

STEPS = [(ProviderBook, ("receive", "rival_prices", "set_prices", "plan_capacity", "pay_operating", "utilisation")),
         (Nvidia, ("step_month", "pay_backstops")), (BuyerBook, ("step_month", "raise_funds")), (Buyer, ("plan",)),
         (Exchange, ("negotiate_all", "serve_contracts", "clear_short_term")), (MarketModel, ("_revalue",)),
         (Recorder, ("record",))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="baseline-2026")
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    spent: collections.Counter[str] = collections.Counter()

    def timed(cls, name: str):
        f = getattr(cls, name)

        def run(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent[f"{cls.__name__}.{name}"] += time.perf_counter() - t0

        return run

    for cls, names in STEPS:
        for name in names:
            setattr(cls, name, timed(cls, name))
    scn = load_scenario(args.scenario)
    t0 = time.perf_counter()
    for seed in range(args.runs):
        MarketModel(scn, seed=seed).run(args.months)
    n = args.runs * args.months
    total = time.perf_counter() - t0
    print(f"{args.scenario}: {total / n * 1e3:.2f} ms a month over {args.runs} runs x {args.months} months "
          f"(model construction included)")
    for name, s in spent.most_common():
        print(f"  {name:34s} {s / n * 1e3:7.3f} ms  {s / total:5.1%}")


if __name__ == "__main__":
    main()
