"""Engine speed: simulated months per second on baseline-2026, and ms per month with agent-steps
per second on scale. Prints figures; asserts nothing (targets: baseline >= 1,000 months/s after
import; scale <= 50 ms per month).

    .venv/bin/python benchmarks/bench_engine.py [--months 36] [--repeat 3]

Wall time (perf_counter) and CPU time (process_time) are both printed: on a busy machine the CPU
time is the steadier figure. Model construction is timed apart from stepping.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from market.model import MarketModel
from market.scenario import load_scenario


def bench(name: str, months: int, repeat: int, seed: int = 0) -> dict:
    scn = load_scenario(name)
    walls, cpus, builds = [], [], []
    agents = 0
    for r in range(repeat):
        t0 = time.perf_counter()
        m = MarketModel(scn, seed=seed + r)
        builds.append(time.perf_counter() - t0)
        agents = len(m.agents)
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(months):
            m.step()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    wall, cpu = min(walls), min(cpus)
    return {
        "scenario": name, "months": months, "agents": agents, "build_s": statistics.median(builds),
        "months_per_s_wall": months / wall, "months_per_s_cpu": months / cpu,
        "ms_per_month_wall": 1000 * wall / months, "ms_per_month_cpu": 1000 * cpu / months,
        "agent_steps_per_s": agents * months / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale-months", type=int, default=12)
    args = ap.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, best of {args.repeat}")
    b = bench("baseline-2026", args.months, args.repeat)
    print(f"baseline-2026: {b['months_per_s_wall']:,.0f} months/s wall ({b['ms_per_month_wall']:.2f} ms/month), "
          f"{b['months_per_s_cpu']:,.0f} months/s CPU; {b['agents']} agents; model built in {b['build_s'] * 1000:.0f} ms"
          f"  [target >= 1,000 months/s]")
    s = bench("scale", args.scale_months, max(1, args.repeat - 1))
    print(f"scale: {s['ms_per_month_wall']:.1f} ms/month wall ({s['ms_per_month_cpu']:.1f} ms CPU), "
          f"{s['agent_steps_per_s']:,.0f} agent-steps/s; {s['agents']:,} agents; model built in {s['build_s']:.2f} s"
          f"  [target <= 50 ms/month]")


if __name__ == "__main__":
    main()
