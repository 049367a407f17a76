"""The runner against a small fake engine: failures, dying workers, resume and chunking."""

from __future__ import annotations

import io
import math
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from sweep_fake_engine import HOOKS

from market.errors import UserError
from market.sweep import report as rep
from market.sweep.design import build_design
from market.sweep.progress import PlainProgress
from market.sweep.runner import SweepConfig, prepare, run_sweep


def config(out: Path, **kw) -> SweepConfig:
    grid = kw.pop("grid", ["growth=0.01,0.02"])
    design = kw.pop("design", None) or build_design(grid=grid, seeds=kw.pop("seeds", 2))
    kw.setdefault("workers", 2)
    return SweepConfig("fake", design, out=out, months=6, hooks=HOOKS, progress="none", **kw)


def timeseries_ids(out: Path) -> list[str]:
    ids: list[str] = []
    for part in sorted((out / "timeseries").glob("part-*.parquet")):
        ids += pq.read_table(part, columns=["run_id"]).column("run_id").to_pylist()
    return ids


def test_a_run_that_raises_is_recorded_failed_and_the_others_complete(tmp_path):
    res = run_sweep(config(tmp_path / "s", grid=["boom=false,true"]))
    t = res.table.to_pydict()
    assert res.complete and res.ok == 2 and res.failed == 2
    for boom, status, error, price in zip(
        t["boom"], t["status"], t["error"], t["avg_price_per_gpu_hour"], strict=True
    ):
        if boom == "true":
            assert status == "failed" and error == "RuntimeError: boom at month 3" and price is None
        else:
            assert status == "ok" and error is None and price > 0
    ok_ids = {r for r, s in zip(t["run_id"], t["status"], strict=True) if s == "ok"}
    ts = timeseries_ids(tmp_path / "s")
    assert set(ts) == ok_ids and len(ts) == 6 * len(ok_ids)
    # the per-provider columns, documented naming
    assert t["Beta.defaulted"][t["status"].index("ok")] is True
    assert t["Beta.default_month"][t["status"].index("ok")] == 4
    assert "Lab.cash" not in t


def test_a_run_that_kills_its_worker_is_failed_after_retries_and_others_complete(tmp_path):
    res = run_sweep(config(tmp_path / "s", grid=["die=false,true"], seeds=1, max_retries=1))
    t = res.table.to_pydict()
    assert t["status"] == ["ok" if d == "false" else "failed" for d in t["die"]]
    error = t["error"][t["die"].index("true")]
    assert error.startswith("worker lost after 2 attempts: BrokenProcessPool")


def test_a_stopped_sweep_resumes_with_every_run_exactly_once(tmp_path):
    out = tmp_path / "s"
    cfg = config(out, grid=["growth=0.01,0.02,0.03"], chunk_size=1, workers=1)
    first = run_sweep(SweepConfig(**{**cfg.__dict__, "stop_after_chunks": 2}))
    assert not first.complete and not (out / "runs.parquet").exists()
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    expected = sorted(r["run_id"] for r in manifest["runs"])
    assert len(expected) == 6 and manifest["n_runs"] == 6
    assert len(list((out / "runs").glob("part-*.parquet"))) == 2

    second = run_sweep(cfg)
    assert second.complete and second.skipped == 2 and second.ok == 6
    ids = second.table.column("run_id").to_pylist()
    assert ids == expected
    parts = sorted((out / "runs").glob("part-*.parquet"))
    stored = [i for p in parts for i in pq.read_table(p).column("run_id").to_pylist()]
    assert sorted(stored) == expected  # no run stored twice
    assert sorted(timeseries_ids(out)) == sorted(i for i in expected for _ in range(6))

    third = run_sweep(cfg)
    assert third.skipped == 6 and len(sorted((out / "runs").glob("part-*.parquet"))) == 6


def test_an_orphan_timeseries_part_from_a_kill_is_dropped_on_resume(tmp_path):
    out = tmp_path / "s"
    cfg = config(out, chunk_size=1, workers=1)
    run_sweep(SweepConfig(**{**cfg.__dict__, "stop_after_chunks": 1}))
    # a kill between the timeseries part and the runs part of the next chunk
    orphan = out / "timeseries" / "part-00001.parquet"
    orphan.write_bytes((out / "timeseries" / "part-00000.parquet").read_bytes())
    (out / "runs" / ".part-00001.parquet.tmp").write_bytes(b"half")
    res = run_sweep(cfg)
    assert res.ok == 4
    assert sorted(timeseries_ids(out)) == sorted(
        r for r in res.table["run_id"].to_pylist() for _ in range(6)
    )
    assert not list((out / "runs").glob(".*.tmp"))


def test_chunking_and_worker_count_do_not_change_runs_parquet(tmp_path):
    grid = ["growth=0.01,0.02,0.05", "noise=1,2"]
    a = run_sweep(config(tmp_path / "a", grid=grid, workers=1, chunk_size=1))
    b = run_sweep(config(tmp_path / "b", grid=grid, workers=2, chunk_size=5))
    assert a.table.num_rows == 12
    assert a.table.equals(b.table)
    assert pq.read_table(tmp_path / "a" / "runs.parquet").equals(b.table)


def test_a_different_design_in_the_same_out_is_refused(tmp_path):
    out = tmp_path / "s"
    run_sweep(config(out))
    with pytest.raises(UserError, match="holds a different sweep"):
        run_sweep(config(out, grid=["growth=0.01,0.03"]))
    with pytest.raises(UserError, match="holds a different sweep"):
        run_sweep(SweepConfig(**{**config(out).__dict__, "overrides": ("noise=3",)}))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        run_sweep(config(other))


def test_a_bad_key_or_value_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(UserError, match=r"--grid nokey: nokey: unknown key"):
        prepare(config(tmp_path / "s", grid=["nokey=1,2"]))
    design = build_design(lhs=4, ranges=["months=-5:-1"])
    with pytest.raises(UserError, match="--range months"):
        run_sweep(config(tmp_path / "s", design=design))
    assert not (tmp_path / "s").exists()


def test_report_of_a_sobol_design_ranks_the_parameter_that_matters(tmp_path):
    out = tmp_path / "s"
    design = build_design(sobol=16, ranges=["growth=0:0.1", "noise=0:1"], seeds=1)
    run_sweep(config(out, design=design))
    buf = io.StringIO()
    rep.report(out, csv_dir=tmp_path / "csv", console=Console(file=buf, width=160))
    text = buf.getvalue()
    assert "sobol sensitivity indices" in text and "total-order index ST" in text
    rows = list((tmp_path / "csv" / "sensitivity.csv").read_text().splitlines())
    assert rows[0].startswith("outcome,parameter,S1,S1_conf,ST,ST_conf")
    st = {}
    for line in rows[1:]:
        outcome, param, _, _, total, _ = line.split(",")
        if outcome == "avg_price_per_gpu_hour":
            st[param] = float(total)
    assert st["growth"] > 0.5 and abs(st["noise"]) < 0.05
    points = (tmp_path / "csv" / "points.csv").read_text().splitlines()
    assert len(points) == 1 + 16 * 4


def test_report_refuses_an_unknown_outcome_and_a_non_sweep_dir(tmp_path):
    out = tmp_path / "s"
    run_sweep(config(out))
    with pytest.raises(UserError, match="--outcome nothing"):
        rep.report(out, outcomes=["nothing"], console=Console(file=io.StringIO()))
    with pytest.raises(UserError, match="not a sweep directory"):
        rep.report(tmp_path, console=Console(file=io.StringIO()))
    buf = io.StringIO()
    rep.report(out, outcomes=["*.market_share"], console=Console(file=buf, width=200))
    assert "Alpha.market_share" in buf.getvalue() and "Beta.market_share" in buf.getvalue()


def test_t_interval_by_hand():
    s = rep.t_interval([1.0, 2.0, 3.0])
    # s.d. 1, t(0.975, 2) = 4.302653: half-width 4.302653 / sqrt(3) = 2.484138
    assert s.n == 3 and s.mean == 2.0
    assert s.hi - s.mean == pytest.approx(2.484138, abs=1e-6)
    one = rep.t_interval([5.0, None])
    assert one.n == 1 and one.mean == 5.0 and math.isnan(one.lo)
    assert rep.bars([("a", 2.0), ("b", 1.0)], width=10) == [
        "  a ██████████ 2",
        "  b █████      1",
    ]


def test_plain_progress_prints_lines_with_counts():
    buf = io.StringIO()
    p = PlainProgress(total=40, skipped=20, stream=buf)
    for _ in range(20):
        p.advance(ok=1, failed=0)
    p.advance(ok=0, failed=0)
    p.close()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "sweep: 20 runs to do of 40, 20 already stored"
    assert lines[-1].startswith("sweep: 40/40 runs (100%), 0 failed")
    assert 2 <= len(lines) <= 22


def test_report_of_a_morris_design_ranks_the_parameter_that_matters(tmp_path):
    out = tmp_path / "s"
    design = build_design(morris=4, ranges=["growth=0:0.1", "noise=0:1"], seeds=1)
    run_sweep(config(out, design=design))
    buf = io.StringIO()
    rep.report(
        out,
        outcomes=["avg_price_per_gpu_hour"],
        png=tmp_path / "m.png",
        console=Console(file=buf, width=160),
    )
    assert "morris sensitivity indices" in buf.getvalue()
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = rep.store.read_runs(out)
    _, stats = rep.point_stats(table, design, ["avg_price_per_gpu_hour"])
    rows, _ = rep.sensitivity(design, stats)
    mu_star = {r["parameter"]: r["mu_star"] for r in rows}
    assert mu_star["growth"] > 0.1 and mu_star["noise"] == pytest.approx(0.0, abs=1e-12)


def test_dask_engine_without_dask_installed_is_a_user_error_before_any_file(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "distributed" else real(name, *a),
    )
    with pytest.raises(UserError, match=r'pip install "gpumarket\[dask\]"'):
        run_sweep(config(tmp_path / "s", engine="dask"))
    assert not (tmp_path / "s").exists()
