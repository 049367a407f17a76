"""Engine speed: simulated months per second on baseline-2026, and ms per month with agent-steps
per second on scale, beside Mesa's own Boltzmann wealth example (10,000 agents) measured in the
same process as the yardstick. Prints figures; asserts nothing (targets: scale at least 3.5x the
Boltzmann example's agent-steps per second).

    .venv/bin/python benchmarks/bench_engine.py [--months 36] [--repeat 10] [--scale-months 36] [--scale-repeat 3]

Wall time (perf_counter) and CPU time (process_time) are both printed: on a busy machine the CPU
time is the steadier figure. Model construction is timed apart from stepping. Each figure is the
best of ``--repeat`` runs (the median is printed too): this machine's speed wanders by tens of per
cent over seconds, and the best run is the one least disturbed. A first, untimed month of each
scenario is timed apart (what a user waits for after import). After that month the process is settled (``market.runtime.settle``: the imports frozen out of the
garbage collector's walks), as ``gpumarket run``, sweep workers and the UI do; ``--no-settle``
measures without it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from market import runtime
from market.model import MarketModel
from market.scenario import load_scenario


def warm_up(name: str) -> float:
    """One month of ``name`` in a fresh model: loads the compiled kernels. Returns seconds."""
    t0 = time.perf_counter()
    MarketModel(load_scenario(name), seed=0).step()
    return time.perf_counter() - t0


def boltzmann(agents: int = 10_000, steps: int = 5) -> float:
    """Agent-steps per second of Mesa's Boltzmann wealth example (its data collection included,
    as the example ships), best of ``steps`` steps after one untimed step."""
    from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

    m = BoltzmannWealth(BoltzmannScenario(n=agents, width=100, height=100, rng=1))
    m.step()
    best = float("inf")
    for _ in range(steps):
        t0 = time.perf_counter()
        m.step()
        best = min(best, time.perf_counter() - t0)
    return agents / best


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
        "median_months_per_s_wall": months / statistics.median(walls),
        "median_ms_per_month_wall": 1000 * statistics.median(walls) / months,
        "scenario": name, "months": months, "agents": agents, "build_s": statistics.median(builds),
        "months_per_s_wall": months / wall, "months_per_s_cpu": months / cpu,
        "ms_per_month_wall": 1000 * wall / months, "ms_per_month_cpu": 1000 * cpu / months,
        "agent_steps_per_s": agents * months / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--repeat", type=int, default=10, help="runs of baseline-2026 (best and median printed)")
    ap.add_argument("--scale-months", type=int, default=None,
                    help="months of scale to run (default: the scenario's length, 36; later months cost more)")
    ap.add_argument("--scale-repeat", type=int, default=3, help="runs of scale")
    ap.add_argument("--no-scale", action="store_true", help="baseline-2026 only (quick A/B comparisons)")
    ap.add_argument("--no-settle", action="store_true",
                    help="leave the garbage collector as Python sets it (no market.runtime.settle)")
    args = ap.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}; best of {args.repeat} runs "
          f"(baseline-2026), {args.scale_repeat} (scale); "
          f"{'garbage collector as Python sets it' if args.no_settle else 'settled after import, as the CLI runs'}")
    first = warm_up("baseline-2026")
    if not args.no_settle:
        runtime.settle()
    b = bench("baseline-2026", args.months, args.repeat)
    print(f"baseline-2026: {b['months_per_s_wall']:,.0f} months/s wall ({b['ms_per_month_wall']:.2f} ms/month; "
          f"median {b['median_months_per_s_wall']:,.0f}), {b['months_per_s_cpu']:,.0f} months/s CPU; "
          f"{b['agents']} agents; model built in {b['build_s'] * 1000:.0f} ms; first month in a fresh process "
          f"{first:.2f} s")
    if args.no_scale:
        return
    first = warm_up("scale")
    scale_months = args.scale_months or load_scenario("scale").months
    s = bench("scale", scale_months, args.scale_repeat)
    yardstick = boltzmann()
    print(f"scale, {scale_months} months: {s['ms_per_month_wall']:.1f} ms/month wall (median {s['median_ms_per_month_wall']:.1f}; "
          f"{s['ms_per_month_cpu']:.1f} ms CPU), {s['agent_steps_per_s']:,.0f} agent-steps/s; {s['agents']:,} agents; "
          f"model built in {s['build_s']:.2f} s")
    print(f"Mesa's Boltzmann wealth example, 10,000 agents: {yardstick:,.0f} agent-steps/s; scale runs "
          f"{s['agent_steps_per_s'] / yardstick:.2f}x that  [target >= 3.5x]")


if __name__ == "__main__":
    main()
