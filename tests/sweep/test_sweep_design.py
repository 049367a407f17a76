"""Design generation, run ids and the seed rule, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from market.errors import UserError
from market.sweep.design import (
    build_design,
    format_value,
    parse_grid,
    parse_range,
    parse_value,
    replication_seed,
    run_id,
)


def test_grid_is_the_cartesian_product_with_the_first_key_slowest():
    d = build_design(grid=["a=1,2,3", "b.c=0.5,x"], seeds=2)
    assert d.kind == "grid"
    assert d.params == ("a", "b.c")
    assert len(d.points) == 3 * 2
    assert d.points[:3] == ((1, 0.5), (1, "x"), (2, 0.5))
    specs = d.run_specs()
    assert len(specs) == 12 == d.n_runs
    assert [(s.point, s.replication) for s in specs[:3]] == [(0, 0), (0, 1), (1, 0)]
    assert d.overrides(1) == ["a=1", "b.c=x"]


def test_no_design_is_one_point_with_replications():
    d = build_design(seeds=3)
    assert d.kind == "single" and d.points == ((),) and d.n_runs == 3


def test_seed_rule_matches_seedsequence_spawn_by_hand():
    children = np.random.SeedSequence(42).spawn(5)
    for r, child in enumerate(children):
        expected = int(child.generate_state(1, dtype=np.uint64)[0]) >> 1
        assert replication_seed(42, r) == expected
        assert 0 <= expected < 2**63
    d = build_design(grid=["a=1,2"], seeds=5, root_seed=42)
    seeds = {(s.point, s.replication): s.seed for s in d.run_specs()}
    # common random numbers: both points share replication r's seed
    assert seeds[(0, 3)] == seeds[(1, 3)] == replication_seed(42, 3)
    assert len({replication_seed(42, r) for r in range(5)}) == 5
    assert replication_seed(0, 0) != replication_seed(1, 0)


def test_run_ids_are_stable_short_and_unique():
    d = build_design(grid=["a=1,2"], seeds=3)
    ids = [s.run_id for s in d.run_specs()]
    assert len(set(ids)) == 6
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert ids == [s.run_id for s in build_design(grid=["a=1,2"], seeds=3).run_specs()]
    assert run_id(0, {"a": 1, "b": 2}, 0, 7) == run_id(0, {"b": 2, "a": 1}, 0, 7)
    assert run_id(0, {"a": 1}, 0, 7) != run_id(0, {"a": 2}, 0, 7)
    assert run_id(0, {"a": 1}, 0, 7) != run_id(0, {"a": 1}, 1, 7)


def test_lhs_points_are_in_bounds_and_one_per_stratum():
    n = 10
    d = build_design(lhs=n, ranges=["x=2:4", "y=-1:0"], seeds=1, root_seed=3)
    pts = np.array(d.points)
    assert pts.shape == (n, 2)
    assert (pts[:, 0] >= 2).all() and (pts[:, 0] <= 4).all()
    assert (pts[:, 1] >= -1).all() and (pts[:, 1] <= 0).all()
    # Latin: each of the n equal strata of each range holds exactly one point
    assert sorted(np.floor((pts[:, 0] - 2) / 2 * n).astype(int)) == list(range(n))
    assert sorted(np.floor((pts[:, 1] + 1) * n).astype(int)) == list(range(n))
    again = build_design(lhs=n, ranges=["x=2:4", "y=-1:0"], seeds=1, root_seed=3)
    assert again.points == d.points
    other = build_design(lhs=n, ranges=["x=2:4", "y=-1:0"], seeds=1, root_seed=4)
    assert other.points != d.points


def test_sobol_and_morris_sizes():
    s = build_design(sobol=8, ranges=["x=0:1", "y=0:1", "z=0:1"])
    assert len(s.points) == 8 * (3 + 2)
    s2 = build_design(sobol=8, ranges=["x=0:1", "y=0:1"], second_order=True)
    assert len(s2.points) == 8 * (2 * 2 + 2)
    m = build_design(morris=5, ranges=["x=0:1", "y=10:20"])
    assert len(m.points) == 5 * (2 + 1)
    assert all(10 <= p[1] <= 20 for p in m.points)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"lhs": 4, "ranges": ["x=1:1"]}, "empty"),
        ({"lhs": 4, "ranges": ["x=2:1"]}, "above HIGH"),
        ({"lhs": 4, "ranges": ["x=a:1"]}, "numbers"),
        ({"lhs": 4, "ranges": ["x=1"]}, "LOW:HIGH"),
        ({"lhs": 4, "ranges": ["x=nan:1"]}, "finite"),
        ({"lhs": 4}, "--range"),
        ({"lhs": 0, "ranges": ["x=0:1"]}, "at least 1"),
        ({"grid": ["a=1,2"], "seeds": 0}, "--seeds 0"),
        ({"grid": ["a=1,,2"]}, "empty value"),
        ({"grid": ["=1,2"]}, "KEY="),
        ({"grid": ["a=1", "a=2"]}, "twice"),
        ({"grid": ["seed=1,2"]}, "column name"),
        ({"grid": ["a=1"], "lhs": 2, "ranges": ["x=0:1"]}, "choose one design"),
        ({"grid": ["a=1"], "ranges": ["x=0:1"]}, "--range goes with"),
        ({"ranges": ["x=0:1"]}, "sampled design"),
        ({"sobol": 6, "ranges": ["x=0:1"]}, "power of 2"),
        ({"morris": 2, "ranges": ["x=0:1"], "morris_levels": 3}, "even"),
        ({"seeds": 1, "root_seed": -1}, "non-negative"),
    ],
)
def test_bad_designs_are_user_errors(kwargs, fragment):
    with pytest.raises(UserError, match=None) as info:
        build_design(**kwargs)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_values_parse_and_format_round_trip():
    assert parse_value("3") == 3 and isinstance(parse_value("3"), int)
    assert parse_value("0.25") == 0.25
    assert parse_value("abc") == "abc"
    assert parse_value("inf") == "inf"
    for v in (0.1, 1e-05, 123456.789, 3, "x"):
        assert parse_value(format_value(v)) == v
    assert parse_grid(["k = 1, 2"]) == [("k", (1, 2))]
    assert parse_range(["k=-2:-1"]) == [("k", -2.0, -1.0)]
