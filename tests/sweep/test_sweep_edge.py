"""The sweep at its edges: the scheduler probe, the local cluster's web pages, leftovers and the
limits on a design."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.error
import urllib.request
from contextlib import ExitStack

import pytest
from sweep_fake_engine import HOOKS

from market.errors import UserError
from market.sweep import store
from market.sweep.design import build_design
from market.sweep.runner import SweepConfig, _Executors, check_scheduler, probe_scheduler, run_sweep


def test_check_scheduler_reads_addresses():
    assert check_scheduler("tcp://10.0.0.5:8786") == ("tcp", "10.0.0.5", 8786)
    assert check_scheduler("10.0.0.5:8786") == ("tcp", "10.0.0.5", 8786)
    assert check_scheduler("tls://[::1]:8786") == ("tls", "::1", 8786)
    for bad in ("10.0.0.5", "http://x:80", "tcp://x:0", "tcp://x:70000", "tcp://a b:1", ""):
        with pytest.raises(UserError, match="--scheduler"):
            check_scheduler(bad)


def test_the_probe_accepts_a_real_dask_scheduler():
    from distributed import Scheduler

    ready = threading.Event()
    done = threading.Event()
    box: dict[str, str] = {}

    async def serve() -> None:
        async with Scheduler(host="127.0.0.1", port=0, dashboard_address="127.0.0.1:0") as s:
            box["address"] = s.address
            ready.set()
            while not done.is_set():
                await asyncio.sleep(0.05)

    t = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    t.start()
    try:
        assert ready.wait(30)
        probe_scheduler(box["address"], timeout=5)  # no exception: it is a Dask scheduler
    finally:
        done.set()
        t.join(10)


def test_the_probe_refuses_silence_within_its_timeout():
    srv = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(srv.accept()[0]), daemon=True).start()
    import time

    t0 = time.monotonic()
    with pytest.raises(UserError, match="no Dask scheduler answered within 0.3 s"):
        probe_scheduler(f"tcp://127.0.0.1:{srv.getsockname()[1]}", timeout=0.3)
    assert time.monotonic() - t0 < 3
    srv.close()


def test_the_local_cluster_serves_no_web_pages(tmp_path):
    cfg = SweepConfig("fake", build_design(), out=tmp_path / "s", workers=1, engine="dask", hooks=HOOKS)
    with ExitStack() as stack:
        ex = _Executors(cfg, 1, stack)
        sockets = list(ex.cluster.scheduler.http_server._sockets.values())
        assert sockets and all(sk.getsockname()[0] == "127.0.0.1" for sk in sockets)  # loopback only
        port = sockets[0].getsockname()[1]
        for page in ("/info/main/workers.html", "/health", "/json/counts.json", "/metrics"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=5)
            assert info.value.code == 404, page
        workers = ex.cluster.scheduler_info["workers"].values()
        assert workers
        for w in workers:  # the workers' own web servers serve nothing either
            assert w["host"] == "127.0.0.1"
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{w['services']['dashboard']}/health", timeout=5)
            assert info.value.code == 404
        ex.shutdown()


def test_leftover_temporary_files_at_the_top_are_cleaned_on_resume(tmp_path):
    out = tmp_path / "s"
    cfg = SweepConfig("fake", build_design(grid=["growth=0.01,0.02"]), out=out, months=3, workers=1,
                      hooks=HOOKS, progress="none")
    assert run_sweep(cfg).complete
    left = [out / ".manifest.json.abc.tmp", out / ".runs.parquet.def.tmp", out / "runs" / ".part-00009.parquet.x.tmp"]
    for p in left:
        p.write_bytes(b"half")
    assert run_sweep(cfg).complete
    assert not any(p.exists() for p in left)


def test_a_design_too_large_is_refused_before_it_is_drawn():
    with pytest.raises(UserError, match="2,000,000 runs"):
        build_design(lhs=1_000_000, ranges=["x=0:1"], seeds=2, max_runs=100_000)
    with pytest.raises(UserError, match="1,200 runs"):
        build_design(grid=["a=1,2,3", "b=" + ",".join(map(str, range(400)))], max_runs=1000)
    assert build_design(grid=["a=1,2,3"], max_runs=3).n_runs == 3


def test_a_damaged_manifest_names_the_problem_and_the_way_out(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "manifest.json").write_bytes(b'{"fingerprint": "x", "n_runs": 1, "runs": []}')
    with pytest.raises(UserError) as info:
        store.read_manifest(out)
    msg = str(info.value)
    assert "design: missing" in msg and f"remove {out}" in msg


def test_a_full_disk_mid_sweep_is_one_line_and_the_sweep_resumes(tmp_path, monkeypatch):
    import errno

    out = tmp_path / "s"
    cfg = SweepConfig("fake", build_design(grid=["growth=0.01,0.02"], seeds=2), out=out, months=3, workers=1,
                      chunk_size=1, hooks=HOOKS, progress="none")
    real = store.write_parquet
    calls = []

    def full(table, path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(table, path)

    monkeypatch.setattr(store, "write_parquet", full)
    with pytest.raises(UserError, match=f"--out {out}: cannot write: .*No space left on device"):
        run_sweep(cfg)
    monkeypatch.setattr(store, "write_parquet", real)
    done = run_sweep(cfg)  # space again: the same command resumes and completes
    assert done.complete and done.ok == 4
