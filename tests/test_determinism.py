"""The same scenario, seed and overrides give the same tables; another seed gives other tables."""

from __future__ import annotations

import pyarrow as pa

from market.scenario import load_scenario
from market.simulate import RunResult, simulate

OVERRIDES = {"market.logit_beta": 7.5, "providers.CoreWeave.finance.max_leverage": 0.5}
TABLES = ("model", "agents", "prices", "contracts")


def run(seed: int, overrides=OVERRIDES, months: int = 9, ledger: bool = False) -> RunResult:
    return simulate(load_scenario("baseline-2026", overrides), seed, months, ledger=ledger)


def same_table(ta: pa.Table, tb: pa.Table) -> bool:
    """Equal schema and values, NaN equal to NaN in the same place (Arrow's equals says NaN != NaN)."""
    return ta.schema == tb.schema and ta.to_pandas().equals(tb.to_pandas())


def assert_same(a: RunResult, b: RunResult) -> None:
    for name in TABLES:
        ta, tb = getattr(a, name), getattr(b, name)
        assert ta.num_rows == tb.num_rows > 0, name
        assert same_table(ta, tb), f"{name} differs between identical runs"
    assert a.events == b.events
    assert a.summary == b.summary


def test_same_seed_same_tables():
    first = run(11)
    second = run(11)
    assert_same(first, second)


def test_same_seed_same_tables_after_other_runs():
    # no state leaks from one model to the next within a process (global RNGs, class attributes)
    first = run(5)
    run(6, overrides={"market.base_rate": 0.09})
    again = run(5)
    assert_same(first, again)


def test_same_seed_same_ledger():
    a = run(3, months=4, ledger=True)
    b = run(3, months=4, ledger=True)
    assert isinstance(a.ledger, pa.Table) and a.ledger.num_rows > 0
    assert same_table(a.ledger, b.ledger)


def test_different_seed_different_tables():
    # the generated buyer segments (sizes of 'AI start-ups-0001'...) and the consideration sets
    # are drawn from the seed, so the agents' figures differ
    a = run(1, months=3)
    b = run(2, months=3)
    assert a.agents.column("agent").equals(b.agents.column("agent"))  # same names...
    assert not a.agents.column("cash").equals(b.agents.column("cash"))  # ...other sizes
    assert not same_table(a.model, b.model)


def test_seed_changes_buyer_sizes_and_consideration_sets():
    from market.model import MarketModel

    # 4 of the 10 offers each, so that the draw matters
    scn = load_scenario("baseline-2026", {"market.consider": 4})
    m1, m2 = MarketModel(scn, seed=1), MarketModel(scn, seed=2)
    assert (m1.buyers.size != m2.buyers.size).any()
    assert (m1.consider != m2.consider).any()
    m1b = MarketModel(scn, seed=1)
    assert (m1.buyers.size == m1b.buyers.size).all()
    assert (m1.consider == m1b.consider).all()


# a run's tables as one digest, computed in a fresh process (so that numpy and OpenBLAS choose
# their CPU kernels under the environment given)
DIGEST = """
import hashlib, orjson
from market.scenario import load_scenario
from market.simulate import simulate
h = hashlib.md5()
for name, seed in (("baseline-2026", 2), ("power-crunch", 1)):
    r = simulate(load_scenario(name), seed, 18)
    for t in (r.model, r.agents, r.prices, r.contracts):
        h.update(repr(t.to_pydict()).encode())
    h.update(orjson.dumps(r.events, option=orjson.OPT_SERIALIZE_NUMPY))
print(h.hexdigest())
"""


def _digest(env: dict[str, str]) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run([sys.executable, "-c", DIGEST], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent, env={**os.environ, **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()
