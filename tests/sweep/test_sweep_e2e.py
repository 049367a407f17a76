"""End to end with the real engine and the real CLI, kept small (6-month runs)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import orjson
import pyarrow.parquet as pq
import pytest

from market.sweep.design import build_design
from market.sweep.runner import SweepConfig, run_sweep

SCENARIO = "baseline-2026"
GRID = "market.logit_beta=4,8"


def test_the_engine_and_the_scenario_are_there():
    # no skips: the engine, the CLI and the bundled scenario must exist for these tests to mean anything
    from market.scenario import bundled_paths

    assert importlib.util.find_spec("market.simulate") is not None
    assert importlib.util.find_spec("market.__main__") is not None
    assert SCENARIO in bundled_paths()


def cli(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": "true"}
    return subprocess.run(
        [sys.executable, "-m", "market", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        **kw,
    )


def test_runs_parquet_is_the_same_with_1_and_2_workers_and_dask(tmp_path):
    design = build_design(grid=[GRID], seeds=2)

    def sweep(name: str, **kw):
        cfg = SweepConfig(SCENARIO, design, months=6, out=tmp_path / name, progress="none", **kw)
        return run_sweep(cfg).table

    one = sweep("one", workers=1)
    assert one.num_rows == 4
    assert one.column("status").to_pylist() == ["ok"] * 4, one.column("error").to_pylist()
    assert all(v is not None for v in one.column("avg_price_per_gpu_hour").to_pylist())
    assert any(c.endswith(".market_share") for c in one.column_names)
    two = sweep("two", workers=2, chunk_size=1)
    assert two.equals(one)
    import distributed  # noqa: F401 - a dev dependency, so no skip
    dask = sweep("dask", workers=2, engine="dask")
    assert dask.equals(one)
    # and the stored file is what was returned
    assert pq.read_table(tmp_path / "dask" / "runs.parquet").equals(one)


def test_a_killed_sweep_resumes_with_every_run_exactly_once(tmp_path):
    out = tmp_path / "s"
    # 40 runs of 12 months, one per part: seconds of work, so the kill lands mid-sweep
    args = ["sweep", SCENARIO, "--grid", GRID, "--seeds", "20", "--months", "12"]
    args += ["--workers", "1", "--chunk-size", "1", "--out", str(out), "--progress", "plain"]
    env = {**os.environ, "CI": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "market", *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not list((out / "runs").glob("part-*.parquet")) and proc.poll() is None:
            assert time.monotonic() < deadline, "no part landed"
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, all at once
        proc.wait()
    assert not (out / "runs.parquet").exists(), "the sweep finished before it was killed"
    before = len(list((out / "runs").glob("part-*.parquet")))
    assert 1 <= before < 40

    done = cli(*args, timeout=120)
    assert done.returncode == 0, done.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    expected = sorted(r["run_id"] for r in manifest["runs"])
    table = pq.read_table(out / "runs.parquet")
    assert table.column("run_id").to_pylist() == expected
    stored = [
        rid
        for part in (out / "runs").glob("part-*.parquet")
        for rid in pq.read_table(part, columns=["run_id"]).column("run_id").to_pylist()
    ]
    assert sorted(stored) == expected
    assert f"({before} were stored before)" in done.stdout


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--grid", "market.no_such_key=1,2"], "market.no_such_key"),
        (["--lhs", "4", "--range", "market.logit_beta=9:2"], "above HIGH"),
        (["--grid", GRID, "--seeds", "0"], "--seeds 0"),
    ],
)
def test_a_bad_design_exits_2_with_one_line_and_runs_nothing(tmp_path, flags, fragment):
    out = tmp_path / "s"
    res = cli("sweep", SCENARIO, *flags, "--months", "6", "--out", str(out), timeout=60)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()
