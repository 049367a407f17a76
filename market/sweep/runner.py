"""The sweep runner: validates the design, writes the manifest, runs chunks of runs on a
``concurrent.futures.Executor`` and streams each finished chunk to Parquet parts.

- A ``ProcessPoolExecutor`` with the spawn start method by default; a Dask cluster's
  ``Client.get_executor()`` with ``engine="dask"``.
- At most ``2 × workers`` chunks are in flight, so the parent holds a bounded number of
  results whatever the number of runs.
- A run that raises is a failed row (the worker catches it). A chunk whose worker died
  (``BrokenProcessPool``, Dask's ``KilledWorker``) is split into single runs that are retried
  one at a time in a fresh pool, so the run that kills its worker is found and, after
  ``max_retries`` more attempts, recorded as failed while the innocent ones complete.
- Runs already in ``--out`` are skipped: running the same sweep again resumes it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa

import market
from market.errors import UserError, one_line
from market.scenario import Scenario, check_months
from market.sweep import store
from market.sweep.design import Design, RunSpec, format_value
from market.sweep.progress import Progress, make_progress
from market.sweep.worker import ChunkResult, ChunkTask, Hooks, RunOutcome, describe, run_chunk

DASK_MISSING = '--engine dask needs Dask, an optional extra: pip install "gpumarket[dask]"'
#: seconds to reach a --scheduler and hear its handshake
CONNECT_TIMEOUT = 10.0
#: the longest handshake a Dask scheduler sends (its first frame is a few dozen bytes)
MAX_HANDSHAKE = 64 * 1024
#: where the Dask pages are served with --dashboard
DASHBOARD_ADDRESS = "127.0.0.1:8787"
#: at most this many runs in a sweep without --allow-large
MAX_RUNS = 100_000
SEED_RULE = (
    "seed = SeedSequence(root_seed, spawn_key=(replication,)).generate_state(1, uint64)[0] >> 1; "
    "the same for every design point"
)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class SweepConfig:
    """Everything a sweep needs; the CLI builds one from its flags."""

    scenario: str
    design: Design
    overrides: tuple[str, ...] = ()
    months: int | None = None
    out: Path | None = None
    workers: int = field(default_factory=default_workers)
    chunk_size: int | None = None
    engine: Literal["process", "dask"] = "process"
    scheduler: str | None = None
    max_retries: int = 2
    progress: str = "auto"
    #: lift the limits that keep a sweep within this machine's memory (see market.scenario)
    allow_large: bool = False
    #: serve Dask's HTTP pages (and dashboard, if bokeh is installed) on DASHBOARD_ADDRESS
    dashboard: bool = False
    #: seconds to reach a --scheduler
    connect_timeout: float = CONNECT_TIMEOUT
    hooks: Hooks = field(default_factory=Hooks)
    #: Test hook: stop as if killed once this many chunks are stored (no runs.parquet).
    stop_after_chunks: int | None = None


@dataclass
class SweepReport:
    out: Path
    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    complete: bool = False
    table: pa.Table | None = None


@dataclass
class _Chunk:
    specs: list[RunSpec]
    attempts: int = 0
    #: The executor the chunk was last submitted to.
    executor: Executor | None = None


#: what sends a chunk's task to an executor (:func:`_submitter`)
Submit = Callable[[Executor | None, _Chunk], Future[ChunkResult]]


# --- preparing -------------------------------------------------------------------------------


@dataclass
class Prepared:
    manifest: dict[str, Any]
    months: int
    specs: list[RunSpec]


def _load(cfg: SweepConfig, extra: list[str]) -> Any:
    load = cfg.hooks.resolve("load_scenario")
    if cfg.allow_large:
        return load(cfg.scenario, [*cfg.overrides, *extra], allow_large=True)
    return load(cfg.scenario, [*cfg.overrides, *extra])


def check_scheduler(address: str) -> tuple[str, str, int]:
    """The protocol, host and port of a --scheduler address such as tcp://10.0.0.5:8786."""
    m = re.fullmatch(r"(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})/?", address.strip())
    shown = one_line(address)
    if not m:
        raise UserError(f"--scheduler {shown}: expected a Dask scheduler address such as tcp://10.0.0.5:8786 "
                        "(tcp:// or tls://, a host and a port)")
    protocol, host, port = m.group(1) or "tcp", m.group(2).strip("[]"), int(m.group(3))
    if not 1 <= port <= 65535:
        raise UserError(f"--scheduler {shown}: port {port} is not between 1 and 65535")
    return protocol, host, port


def probe_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Check that a Dask scheduler answers at ``address`` within ``timeout`` seconds, before a Dask
    client is made: a Dask scheduler greets a new connection with a small msgpack handshake, so
    anything else (silence, an HTTP server, a large frame) is refused with one line."""
    protocol, host, port = check_scheduler(address)
    shown = one_line(address)
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if protocol == "tls":
                return  # the handshake is encrypted; the Dask client's own timeout applies
            header = _recv(sock, 8, deadline)
            (size,) = struct.unpack("<Q", header)
            if not 0 < size <= MAX_HANDSHAKE:
                raise UserError(f"--scheduler {shown}: what answers there is not a Dask scheduler "
                                f"(its first message is {size:,} bytes long)")
            body = _recv(sock, size, deadline)
    except TimeoutError:
        raise UserError(f"--scheduler {shown}: no Dask scheduler answered within {timeout:g} s") from None
    except (socket.gaierror, OSError) as exc:
        raise UserError(f"--scheduler {shown}: cannot connect ({exc.strerror or exc})") from None
    if b"pickle-protocol" not in body and b"compression" not in body:
        raise UserError(f"--scheduler {shown}: what answers there is not a Dask scheduler (no Dask handshake)")


def _recv(sock: socket.socket, n: int, deadline: float) -> bytes:
    chunks, got = [], 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(min(n - got, 65536))
        if not chunk:
            raise UserError("--scheduler: the connection closed before a Dask handshake")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def prepare(cfg: SweepConfig) -> Prepared:
    """Validate the scenario, every design key and every design point; build the manifest.

    Runs nothing: any UserError from here leaves --out untouched.
    """
    _check_flags(cfg)
    base = _load(cfg, [])
    months = cfg.months if cfg.months is not None else int(base.months)
    if cfg.months is not None and isinstance(base, Scenario):
        check_months(base, cfg.months, allow_large=cfg.allow_large)
    design = cfg.design
    flag = "--grid" if design.kind == "grid" else "--range"
    for i, key in enumerate(design.params):
        try:
            _load(cfg, [f"{key}={format_value(design.points[0][i])}"])
        except UserError as exc:
            raise UserError(f"{flag} {key}: {exc}") from None
    for point in range(len(design.points)):
        overrides = design.overrides(point)
        try:
            _load(cfg, overrides)
        except UserError as exc:
            raise UserError(f"design point {point} ({', '.join(overrides)}): {exc}") from None
    base_json = orjson.dumps(base.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    identity = {"scenario_sha256": hashlib.sha256(base_json).hexdigest(), "overrides": list(cfg.overrides),
                "months": months, "design": design.to_json()}
    fingerprint = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()
    specs = design.run_specs()
    manifest = {"format": 1, "gpumarket": market.__version__, "scenario": cfg.scenario,
                "scenario_name": getattr(base, "name", str(cfg.scenario)), **identity, "fingerprint": fingerprint,
                "n_runs": len(specs), "seed_rule": SEED_RULE,
                "runs": [{"run_id": s.run_id, "point": s.point, "replication": s.replication, "seed": s.seed}
                         for s in specs]}
    return Prepared(manifest, months, specs)


def _check_flags(cfg: SweepConfig) -> None:
    """The flags alone: counts at least 1, the engine's options with the engine, the number of runs."""
    if cfg.workers < 1:
        raise UserError(f"--workers {cfg.workers}: expected at least 1")
    if cfg.chunk_size is not None and cfg.chunk_size < 1:
        raise UserError(f"--chunk-size {cfg.chunk_size}: expected at least 1")
    if cfg.months is not None and cfg.months < 1:
        raise UserError(f"--months {cfg.months}: expected at least 1")
    if cfg.engine == "dask" and importlib.util.find_spec("distributed") is None:
        raise UserError(DASK_MISSING)
    if cfg.scheduler is not None:
        if cfg.engine != "dask":
            raise UserError("--scheduler goes with --engine dask")
        check_scheduler(cfg.scheduler)
    if cfg.dashboard and cfg.engine != "dask":
        raise UserError("--dashboard goes with --engine dask")
    if cfg.dashboard and cfg.scheduler is not None:
        raise UserError("--dashboard serves the pages of the local cluster; a --scheduler serves its own")
    if not cfg.allow_large and cfg.design.n_runs > MAX_RUNS:
        raise UserError(f"the design has {cfg.design.n_runs:,} runs, above the limit of {MAX_RUNS:,}; "
                        "--allow-large lifts it")


def default_out(manifest: dict[str, Any]) -> Path:
    """sweeps/<scenario>-<fingerprint[:8]>: the same command resumes into the same directory."""
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(manifest["scenario_name"]))[:100]
    return Path("sweeps") / f"{name}-{manifest['fingerprint'][:8]}"


# --- executors -------------------------------------------------------------------------------


class _Executors:
    """Makes and replaces the executor; owns the Dask client and cluster if any."""

    def __init__(self, cfg: SweepConfig, n_chunks: int, stack: ExitStack) -> None:
        self.cfg = cfg
        self.stack = stack
        self.processes = max(1, min(cfg.workers, n_chunks))
        self.current: Executor | None = None
        self.cluster: Any = None  # the local Dask cluster, if this sweep started one
        if cfg.engine == "dask":
            self.current = self._dask()
        elif cfg.engine == "process":
            self.current = self._process()
        else:
            raise UserError(f"--engine {cfg.engine}: expected process or dask")

    def _process(self) -> Executor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))

    def _dask(self) -> Executor:
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise UserError(DASK_MISSING) from None
        if self.cfg.scheduler:
            probe_scheduler(self.cfg.scheduler, self.cfg.connect_timeout)
            try:
                client = Client(self.cfg.scheduler, timeout=f"{self.cfg.connect_timeout:g}s")
            except (OSError, TimeoutError, ValueError, MemoryError) as exc:
                raise UserError(
                    f"--scheduler {one_line(self.cfg.scheduler)}: cannot connect ({one_line(str(exc))})"
                ) from None
        else:
            import dask

            if not self.cfg.dashboard:
                # No HTTP pages unless asked for: the scheduler's and workers' web servers serve nothing.
                self.stack.enter_context(dask.config.set({"distributed.scheduler.http.routes": [],
                                                          "distributed.worker.http.routes": []}))
            # The local scheduler lives in this process; a dying worker is already reported
            # in runs.parquet, so keep its log lines off the progress output.
            quiet = logging.getLogger("distributed")
            self.stack.callback(quiet.setLevel, quiet.level)
            quiet.setLevel(logging.CRITICAL)
            cluster = LocalCluster(host="127.0.0.1", n_workers=self.cfg.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=DASHBOARD_ADDRESS if self.cfg.dashboard else "127.0.0.1:0",
                                   silence_logs=logging.ERROR)
            self.stack.callback(cluster.close)
            self.cluster = cluster
            client = Client(cluster)
        self.stack.callback(client.close)
        # pure=False: a retried chunk must be a new task, not the erred one under the same key.
        return client.get_executor(pure=False)

    def submit(self, submit: Submit, chunk: _Chunk) -> Future[ChunkResult]:
        """``submit`` the chunk to the current executor (to a fresh pool if it broke since the last wait)."""
        try:
            fut = submit(self.current, chunk)
        except BrokenProcessPool:
            fut = submit(self.replace(), chunk)
        chunk.executor = self.current
        return fut

    def replace(self) -> Executor:
        """A fresh process pool after a worker died; Dask replaces its own workers."""
        assert self.current is not None
        if self.cfg.engine == "process":
            self.current.shutdown(wait=False, cancel_futures=True)
            self.current = self._process()
        return self.current

    def shutdown(self, cancel: bool = False) -> None:
        if self.current is None:
            return
        if self.cfg.engine == "process":
            self.current.shutdown(wait=True, cancel_futures=cancel)
        else:  # Dask's ClientExecutor has no cancel_futures; it cancels its own on shutdown
            self.current.shutdown(wait=not cancel)
        self.current = None


# --- running ---------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised by the test hook to stop a sweep as if it had been killed."""


def run_sweep(cfg: SweepConfig, prepared: Prepared | None = None) -> SweepReport:
    """Run (or resume) the sweep; returns counts and the combined runs table."""
    prepared = prepared or prepare(cfg)
    out = cfg.out or default_out(prepared.manifest)
    # Everything that can be refused is checked before anything is created: the folder, what it
    # holds, and (in _execute, before prepare_out) the scheduler.
    store.check_out(out, prepared.manifest)
    done_ids = store.stored_run_ids(out) if out.exists() else set()
    pending = [s for s in prepared.specs if s.run_id not in done_ids]
    report = SweepReport(out, total=len(prepared.specs), skipped=len(prepared.specs) - len(pending))
    try:
        if pending:
            try:
                _execute(cfg, prepared, out, pending, report)
            except _Stop:
                return report
        else:
            store.prepare_out(out, prepared.manifest)
        report.table = store.combine(out, cfg.design)
    except OSError as exc:
        from market.files import USER_ERRNOS, describe_os_error

        if exc.errno not in USER_ERRNOS:
            raise
        raise UserError(f"--out {out}: cannot write: {describe_os_error(exc)}") from None
    statuses = report.table.column("status").to_pylist()
    report.ok, report.failed = statuses.count("ok"), statuses.count("failed")
    report.complete = True
    return report


def _chunk_size(cfg: SweepConfig, n_pending: int) -> int:
    if cfg.chunk_size:
        return cfg.chunk_size
    # About four chunks per worker, at most 25 runs per part.
    return max(1, min(25, math.ceil(n_pending / (4 * cfg.workers))))


def _execute(cfg: SweepConfig, prepared: Prepared, out: Path, pending: list[RunSpec], report: SweepReport) -> None:
    queue = deque(_Chunk(c) for c in store.iter_chunks(pending, _chunk_size(cfg, len(pending))))
    suspects: deque[_Chunk] = deque()
    inflight: dict[Future[ChunkResult], _Chunk] = {}
    max_inflight = 2 * cfg.workers

    def store_chunk(chunk: _Chunk, result: ChunkResult) -> None:
        writer.write(chunk.specs, result.runs, result.timeseries)
        failed = sum(1 for r in result.runs if r.error)
        progress.advance(len(result.runs) - failed, failed)
        if cfg.stop_after_chunks is not None and writer.parts_written >= cfg.stop_after_chunks:
            raise _Stop

    def worker_lost(chunk: _Chunk, exc: BaseException) -> None:
        # Split so that a run which kills its worker cannot take innocent runs down with it.
        for spec in chunk.specs:
            single = _Chunk([spec], chunk.attempts + 1)
            if single.attempts > cfg.max_retries:
                error = f"worker lost after {single.attempts} attempts: {describe(exc)}"
                store_chunk(single, ChunkResult([RunOutcome(spec.run_id, error, {})], None))
            else:
                suspects.append(single)

    with ExitStack() as stack:
        executors = _Executors(cfg, len(queue), stack)  # connects to a scheduler before --out is made
        store.prepare_out(out, prepared.manifest)
        progress: Progress = make_progress(cfg.progress, report.total, report.skipped)
        stack.callback(progress.close)
        writer = store.PartWriter(out, cfg.design)
        submit = _submitter(cfg, prepared)
        try:
            while queue or suspects or inflight:
                if suspects:
                    if not inflight:  # a suspect runs alone, so a crash names its culprit
                        chunk = suspects.popleft()
                        inflight[executors.submit(submit, chunk)] = chunk
                else:
                    while queue and len(inflight) < max_inflight:
                        chunk = queue.popleft()
                        inflight[executors.submit(submit, chunk)] = chunk
                for chunk, fut in _finished(inflight, executors):
                    exc = fut.exception()
                    if exc is None:
                        store_chunk(chunk, fut.result())
                    else:
                        worker_lost(chunk, exc)
        except BaseException:
            for fut in inflight:
                fut.cancel()
            executors.shutdown(cancel=True)
            raise
        executors.shutdown()


def _finished(inflight: dict[Future[ChunkResult], _Chunk], executors: _Executors) -> list[tuple[_Chunk, Future]]:
    """Wait for a chunk to finish; take the finished ones out of ``inflight``, in run-id order. When
    the current pool broke, every other future of it fails too: all are collected and the pool is
    replaced."""
    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
    broken = [f for f in done if isinstance(f.exception(), BrokenProcessPool)]
    if any(inflight[f].executor is executors.current for f in broken):
        done, _ = wait(inflight)
        executors.replace()
    return [(inflight.pop(f), f) for f in sorted(done, key=lambda f: inflight[f].specs[0].run_id)]


def _submitter(cfg: SweepConfig, prepared: Prepared) -> Submit:
    """Builds each chunk's task: the validated scenario of each of its points as a plain dict."""

    def submit(executor: Executor | None, chunk: _Chunk) -> Future[ChunkResult]:
        assert executor is not None
        scenarios: dict[int, dict[str, Any]] = {}
        for spec in chunk.specs:
            if spec.point not in scenarios:
                scenario = _load(cfg, cfg.design.overrides(spec.point))
                scenarios[spec.point] = scenario.model_dump(mode="json")
        task = ChunkTask(allow_large=cfg.allow_large, hooks=cfg.hooks, months=prepared.months,
                         runs=tuple((s.run_id, s.point, s.seed) for s in chunk.specs), scenarios=scenarios)
        return executor.submit(run_chunk, task)

    return submit
