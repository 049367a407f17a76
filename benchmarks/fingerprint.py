"""Fingerprints of the engine's outputs: an md5 of the tables of a few scenario runs, for
checking that a speed change leaves every output bit for bit the same (docs/performance.md).

    .venv/bin/python benchmarks/fingerprint.py > before.txt     # on the old version
    .venv/bin/python benchmarks/fingerprint.py | diff before.txt -
    .venv/bin/python benchmarks/fingerprint.py --scale          # the scale scenario, 12 months

The runs cover the bundled scenarios whose events exercise the rarer paths (defaults, fire
sales, cancellations, rate and supply shocks). Each line is ``scenario/seed md5``.
"""

from __future__ import annotations

import argparse
import hashlib

import orjson

from market.scenario import load_scenario
from market.simulate import simulate

RUNS = [("baseline-2026", 0, 36), ("baseline-2026", 3, 60), ("rates-up-300", 1, 36), ("power-crunch", 2, 36),
        ("meta-sells-capacity", 0, 36), ("openai-walks", 0, 36), ("component-shock", 1, 36),
        ("allocation-shift", 0, 36), ("tpu-price-cut", 0, 36), ("training-plateau", 0, 36),
        ("generation-delay", 0, 60)]


def fingerprint(name: str, seed: int, months: int) -> str:
    r = simulate(load_scenario(name), seed, months)
    h = hashlib.md5()
    for table in (r.model, r.agents, r.prices, r.contracts):
        h.update(repr(table.to_pydict()).encode())
    h.update(orjson.dumps(r.events, option=orjson.OPT_SERIALIZE_NUMPY))
    return h.hexdigest()[:10]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="store_true", help="the scale scenario (12 months) instead")
    args = ap.parse_args()
    for name, seed, months in [("scale", 0, 12)] if args.scale else RUNS:
        print(f"{name}/{seed} {fingerprint(name, seed, months)}")


if __name__ == "__main__":
    main()
