"""End to end through the command line (``python -m market``), as a user or a script sees it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mini_scenario import MINI

import market

REPO = Path(__file__).resolve().parent.parent
RUN_FILES = {"model.parquet", "agents.parquet", "prices.parquet", "contracts.parquet", "events.jsonl",
             "summary.json"}
MONTHS = 3

INT, FLOAT, STR, BOOL = "int", "float", "str", "bool"
MODEL_COLS = {
    "month": INT, "date": STR, "gpus_shipped": FLOAT, "gpus_installed": FLOAT, "demand_gpu_hours": FLOAT,
    "served_gpu_hours": FLOAT, "served_inference_gpu_hours": FLOAT, "inference_share": FLOAT,
    "avg_price_per_gpu_hour": FLOAT, "hhi_revenue": FLOAT,
}
AGENT_COLS = {
    "month": INT, "agent": STR, "kind": STR, "cash": FLOAT, "total_assets": FLOAT, "liabilities": FLOAT,
    "debt": FLOAT, "equity_book": FLOAT, "revenue": FLOAT, "cost_of_revenue": FLOAT, "depreciation": FLOAT,
    "interest_expense": FLOAT, "net_income": FLOAT, "capex": FLOAT, "gpus_installed": FLOAT,
    "powered_mw": FLOAT, "gpu_hours_sold": FLOAT, "utilization": FLOAT, "market_share": FLOAT,
    "backlog": FLOAT, "top_customer_share": FLOAT, "market_value": FLOAT, "defaulted": BOOL,
}
PRICE_COLS = {"month": INT, "agent": STR, "generation": STR, "on_demand": FLOAT, "reserved": FLOAT, "spot": FLOAT}
CONTRACT_COLS = {
    "contract_id": INT, "buyer": STR, "seller": STR, "generation": STR, "gpus": INT, "signed_month": INT,
    "start_month": INT, "term_months": INT, "price_per_gpu_hour": FLOAT, "total_value": FLOAT, "status": STR,
}
LEDGER_COLS = {"month": INT, "debit": STR, "credit": STR, "amount": FLOAT, "memo": STR}
KINDS = {"nvidia", "neocloud", "hyperscaler", "lab", "enterprise"}


def gpumarket(*args: str, hashseed: str = "0", cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "market", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def type_ok(t: pa.DataType, kind: str) -> bool:
    return {
        INT: pa.types.is_integer(t),
        FLOAT: pa.types.is_floating(t),
        STR: pa.types.is_string(t) or pa.types.is_large_string(t),
        BOOL: pa.types.is_boolean(t),
    }[kind]


def check_columns(table: pa.Table, required: dict[str, str], name: str) -> None:
    missing = set(required) - set(table.column_names)
    assert not missing, f"{name} lacks {sorted(missing)}"
    for col, kind in required.items():
        assert type_ok(table.schema.field(col).type, kind), f"{name}.{col} is {table.schema.field(col).type}, not {kind}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs of baseline-2026: seed 7 twice (different hash seeds), and seed 7 with --ledger."""
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for key, extra, hashseed in (("a", [], "1"), ("b", [], "2"), ("ledger", ["--ledger"], "3")):
        d = base / key
        proc = gpumarket("run", "baseline-2026", "--seed", "7", "--months", str(MONTHS), "--out", str(d), *extra,
                         hashseed=hashseed)
        assert proc.returncode == 0, proc.stderr
        out[key] = (d, proc)
    return out


# ---------------------------------------------------------------------------- a good run


def test_run_writes_exactly_the_contract_files(runs):
    d, _ = runs["a"]
    assert {p.name for p in d.iterdir()} == RUN_FILES  # and no temporary files left behind


def test_model_file(runs):
    d, _ = runs["a"]
    t = pq.read_table(d / "model.parquet")
    check_columns(t, MODEL_COLS, "model")
    assert t.column("month").to_pylist() == list(range(MONTHS))
    assert t.column("date").to_pylist() == ["2026-01", "2026-02", "2026-03"]
    assert all(re.fullmatch(r"\d{4}-\d{2}", s) for s in t.column("date").to_pylist())
    share = t.column("inference_share").to_pylist()
    assert all(0 <= s <= 1 for s in share)


def test_agents_file(runs):
    d, _ = runs["a"]
    t = pq.read_table(d / "agents.parquet")
    check_columns(t, AGENT_COLS, "agents")
    df = t.to_pandas()
    n_agents = df.agent.nunique()
    assert len(df) == MONTHS * n_agents
    assert set(df.kind) == KINDS
    assert (df.groupby("month").size() == n_agents).all()
    assert {"NVIDIA", "CoreWeave", "Nebius", "OpenAI"} <= set(df.agent)
    assert ((df.total_assets - df.liabilities - df.equity_book).abs() <= 1e-6 * df.total_assets.abs().clip(1)).all()


def test_market_value_is_empty_for_private_companies(runs):
    # CONTRACT.md: market_value is the value of a public company, *empty* for others: a null, as
    # summary.json has it, not a NaN (which is a number to Arrow, Polars, DuckDB and SQL)
    d, _ = runs["a"]
    t = pq.read_table(d / "agents.parquet")
    df = t.to_pandas()
    public = df.agent.isin(["NVIDIA", "CoreWeave", "Nebius"])
    assert df.loc[public, "market_value"].notna().all()
    mv = t.column("market_value")
    private_rows = [i for i, p in enumerate(public) if not p]
    assert all(mv[i].as_py() is None for i in private_rows), "private companies' market_value is NaN, not null"


def test_prices_file(runs):
    d, _ = runs["a"]
    t = pq.read_table(d / "prices.parquet")
    check_columns(t, PRICE_COLS, "prices")
    df = t.to_pandas()
    assert len(df) > 0
    assert not df.duplicated(["month", "agent", "generation"]).any()
    assert df.notna().all().all()  # every price is a number (NaN would pass the comparisons below)
    assert (df.spot > 0).all()
    assert (df.spot <= df.reserved + 1e-12).all()
    assert (df.reserved <= df.on_demand + 1e-12).all()
    assert (df.on_demand > 0).all()


def test_contracts_file(runs):
    d, _ = runs["a"]
    t = pq.read_table(d / "contracts.parquet")
    check_columns(t, CONTRACT_COLS, "contracts")
    df = t.to_pandas()
    assert len(df) > 0 and df.contract_id.is_unique
    assert set(df.status) <= {"pending", "active", "completed", "cancelled", "reassigned"}
    # total value = gpus x hours x price x term
    assert (df.total_value - df.gpus * 730.0 * df.price_per_gpu_hour * df.term_months).abs().max() < 1e-3 * df.total_value.max()


def test_events_file(runs):
    d, _ = runs["a"]
    lines = (d / "events.jsonl").read_bytes().splitlines()
    assert lines
    for line in lines:
        e = json.loads(line)
        assert isinstance(e, dict)
        assert isinstance(e["month"], int) and 0 <= e["month"] < MONTHS
        assert isinstance(e["kind"], str) and e["kind"]
        assert isinstance(e["agents"], list) and all(isinstance(a, str) for a in e["agents"])
        assert isinstance(e["text"], str) and e["text"]


def test_summary_file(runs):
    d, _ = runs["a"]
    s = json.loads((d / "summary.json").read_text())
    assert s["scenario"] == "baseline-2026"
    assert s["seed"] == 7
    assert s["months"] == MONTHS
    assert s["version"] == market.__version__
    agents = pq.read_table(d / "agents.parquet").to_pandas()
    last = agents[agents.month == MONTHS - 1].set_index("agent")
    assert set(s["agents"]) == set(last.index)
    cw = s["agents"]["CoreWeave"]
    for col in ("cash", "revenue", "net_income", "debt", "backlog", "market_share", "defaulted"):
        assert col in cw
    assert cw["cash"] == pytest.approx(last.loc["CoreWeave", "cash"])
    assert s["agents"]["OpenAI"]["market_value"] is None


def test_printed_summary_mentions_the_companies(runs):
    _, proc = runs["a"]
    for name in ("CoreWeave", "Nebius", "Lambda", "AWS", "Azure", "NVIDIA"):
        assert name in proc.stdout
    assert proc.stderr == ""


def test_ledger_file(runs):
    d, _ = runs["ledger"]
    assert {p.name for p in d.iterdir()} == RUN_FILES | {"ledger.parquet"}
    t = pq.read_table(d / "ledger.parquet")
    check_columns(t, LEDGER_COLS, "ledger")
    df = t.to_pandas()
    assert (df.amount > 0).all()
    assert df.month.min() == -1 and df.month.max() == MONTHS - 1  # the opening books, then each month
    # every payment is two postings of one amount: the payer's cash credited, the payee's debited
    pays = df[df.transfer_id >= 0]
    g = pays.groupby("transfer_id")
    assert (g.size() == 2).all()
    assert (g.amount.nunique() == 1).all()
    out_ = pays.credit.str.endswith(":cash").groupby(pays.transfer_id).sum()
    in_ = pays.debit.str.endswith(":cash").groupby(pays.transfer_id).sum()
    assert (out_ >= 1).all() and (in_ >= 1).all()
    # the postings rebuild every agent's cash at the end of the run
    debit_cash = df[df.debit.str.endswith(":cash")].groupby(df.debit.str.rsplit(":", n=1).str[0]).amount.sum()
    credit_cash = df[df.credit.str.endswith(":cash")].groupby(df.credit.str.rsplit(":", n=1).str[0]).amount.sum()
    cash = debit_cash.sub(credit_cash, fill_value=0.0)
    assert abs(cash.sum()) <= 1e-9 * df.amount.abs().max() * len(df)  # cash is conserved
    agents = pq.read_table(d / "agents.parquet").to_pandas()
    last = agents[agents.month == MONTHS - 1].set_index("agent").cash
    for name, value in last.items():
        assert cash.get(name, 0.0) == pytest.approx(value, rel=1e-9, abs=1e-3), name


def test_same_seed_same_files(runs):
    (a, _), (b, _), (c, _) = runs["a"], runs["b"], runs["ledger"]
    for name in ("model", "agents", "prices", "contracts"):
        ta, tb, tc = (pq.read_table(x / f"{name}.parquet") for x in (a, b, c))
        assert ta.schema == tb.schema
        assert ta.to_pandas().equals(tb.to_pandas()), name
        assert ta.to_pandas().equals(tc.to_pandas()), f"{name} changes with --ledger"
    assert (a / "events.jsonl").read_bytes() == (b / "events.jsonl").read_bytes()
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()


def test_other_seed_other_files(tmp_path, runs):
    proc = gpumarket("run", "baseline-2026", "--seed", "8", "--months", "2", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    a = pq.read_table(runs["a"][0] / "agents.parquet").to_pandas()
    b = pq.read_table(tmp_path / "agents.parquet").to_pandas()
    assert not a[a.month < 2].reset_index(drop=True).equals(b)


# ---------------------------------------------------------------------------- other commands


def test_scenarios_lists_baseline():
    proc = gpumarket("scenarios")
    assert proc.returncode == 0, proc.stderr
    assert "baseline-2026" in proc.stdout
    assert "Baseline 2026" in proc.stdout  # its title


def test_validate_says_ok():
    proc = gpumarket("validate", str(REPO / "scenarios" / "baseline-2026.toml"))
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout and "baseline-2026" in proc.stdout


def test_validate_by_name_with_set():
    proc = gpumarket("validate", "baseline-2026", "--set", "providers.CoreWeave.cash=1e9")
    assert proc.returncode == 0, proc.stderr


def test_version():
    proc = gpumarket("--version")
    assert proc.returncode == 0 and market.__version__ in proc.stdout


# ---------------------------------------------------------------------------- bad input

def bad_file(tmp_path: Path, old: str, new: str) -> str:
    assert old in MINI
    p = tmp_path / "bad.toml"
    p.write_text(MINI.replace(old, new, 1))
    return str(p)


BAD = {
    "malformed_toml": (lambda tp: [bad_file(tp, 'title = "A tiny market"', "title = ")],
                       ["bad.toml", "not valid TOML", "line 2"]),
    "missing_field": (lambda tp: [bad_file(tp, "powered_mw = 20\n", "")],
                      ["bad.toml", "powered_mw", "required"]),
    "wrong_type": (lambda tp: [bad_file(tp, "powered_mw = 20", 'powered_mw = "lots"')],
                   ["bad.toml", "powered_mw", "number", "lots"]),
    "unknown_key": (lambda tp: [bad_file(tp, "months = 3", "months = 3\nmonhts = 4")],
                    ["bad.toml", "market.monhts", "unknown key"]),
    "negative_quantity": (lambda tp: [bad_file(tp, "gpus = 5000", "gpus = -5000")],
                          ["bad.toml", "fleet.0.gpus", "greater than or equal to 0"]),
    "unknown_reference": (lambda tp: [bad_file(tp, 'seller = "Cloudy"', 'seller = "Nobody"')],
                          ["bad.toml", "contracts.0.seller", "Nobody"]),
    "unknown_scenario": (lambda tp: ["no-such-scenario"], ["no-such-scenario", "unknown scenario", "baseline-2026"]),
    "bad_set_path": (lambda tp: ["baseline-2026", "--set", "providers.99.cash=1"], ["providers.99.cash", "no item"]),
    "bad_set_key": (lambda tp: ["baseline-2026", "--set", "market.nonsense=1"], ["market.nonsense", "unknown key"]),
    "bad_set_value": (lambda tp: ["baseline-2026", "--set", "providers.CoreWeave.cash=-5"],
                      ["providers.CoreWeave.cash", "greater than or equal to 0"]),
    "bad_seed": (lambda tp: ["baseline-2026", "--seed", "abc"], ["--seed", "whole number", "abc"]),
    "negative_seed": (lambda tp: ["baseline-2026", "--seed", "-3"], ["--seed"]),
    "bad_months": (lambda tp: ["baseline-2026", "--months", "0"], ["--months"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2(tmp_path, case):
    make_args, words = BAD[case]
    out = tmp_path / "out"
    proc = gpumarket("run", *make_args(tmp_path), "--months", "1", "--out", str(out)) if case != "bad_months" else \
        gpumarket("run", *make_args(tmp_path), "--out", str(out))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gpumarket: error: ")
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists(), "nothing may be written on bad input"
    assert proc.stdout == ""


def test_validate_bad_file(tmp_path):
    proc = gpumarket("validate", bad_file(tmp_path, "powered_mw = 20\n", ""))
    assert proc.returncode == 2
    assert proc.stderr.startswith("gpumarket: error: ") and "powered_mw" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_command():
    proc = gpumarket("fly")
    assert proc.returncode == 2
    assert proc.stderr.startswith("gpumarket: error: ") and "Traceback" not in proc.stderr


def test_out_that_is_a_file(tmp_path):
    f = tmp_path / "taken"
    f.write_text("x")
    proc = gpumarket("run", "baseline-2026", "--months", "1", "--out", str(f))
    assert proc.returncode == 2
    assert proc.stderr.startswith("gpumarket: error: ") and "--out" in proc.stderr
    assert f.read_text() == "x"


# ---------------------------------------------------------------------------- where a run's files go
# In this process (market.cli.main), to keep these fast.


def main_(*argv: str) -> int:
    from market import cli

    return cli.main(list(argv))


def test_a_rerun_replaces_the_whole_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main_("run", "baseline-2026", "--months", "1", "--ledger", "--out", str(out), "--quiet") == 0
    assert (out / "ledger.parquet").exists()
    assert main_("run", "baseline-2026", "--months", "2", "--out", str(out), "--quiet") == 0
    assert {p.name for p in out.iterdir()} == RUN_FILES  # the earlier run's ledger is gone
    assert pq.read_table(out / "model.parquet").num_rows == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left beside it
    assert capsys.readouterr().err == ""


def test_leftovers_of_a_killed_run_are_removed_and_a_live_runs_are_kept(tmp_path):
    out = tmp_path / "out"
    dead = tmp_path / ".out.999999999.abc.tmp"
    dead.mkdir()
    (dead / "model.parquet").write_bytes(b"half")
    live = tmp_path / ".out.1.abc.tmp"  # process 1 is always alive
    live.mkdir()
    assert main_("run", "baseline-2026", "--months", "1", "--out", str(out), "--quiet") == 0
    assert not dead.exists() and live.exists()
    assert {p.name for p in out.iterdir()} == RUN_FILES


def test_a_full_disk_leaves_the_earlier_run_whole_and_no_temporary_files(tmp_path, capsys, monkeypatch):
    import errno

    import market.simulate as sim

    out = tmp_path / "out"
    assert main_("run", "baseline-2026", "--months", "1", "--out", str(out), "--quiet") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = sim.write_parquet
    calls = []

    def full(table, path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(table, path)

    monkeypatch.setattr(sim, "write_parquet", full)
    assert main_("run", "baseline-2026", "--months", "2", "--seed", "3", "--out", str(out), "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and f"--out {out}" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old run, complete and untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_the_scenario_name_never_decides_a_path_outside_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    f = tmp_path / "a" / "escape.toml"
    f.write_text('base = "baseline-2026"\nname = "../../../tmp/escape"\n')
    assert main_("run", str(f), "--months", "1", "--quiet") == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("summary.json"))
    assert written == ["runs/tmp-escape-seed0/summary.json"]


def test_markup_in_names_is_printed_as_text(tmp_path, capsys):
    code = main_("run", "baseline-2026", "--months", "1", "--out", str(tmp_path / "o"),
                 "--set", "title=Oops [/] title", "--set", "providers.Lambda.name=Lam[/]bda",
                 "--set", "nvidia.backstops.0.provider=Lam[/]bda")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Oops [/] title" in out.out and "Lam[/]bda" in out.out


def test_scenarios_lists_names_with_markup(tmp_path):
    d = tmp_path / "scn"
    d.mkdir()
    (d / "base.toml").write_text((REPO / "scenarios" / "baseline-2026.toml").read_text()
                                 .replace('name = "baseline-2026"', 'name = "base"', 1))
    (d / "odd.toml").write_text('base = "base"\ntitle = "Odd [/] title [bold]"\n')
    env = {**os.environ, "GPUMARKET_SCENARIOS": str(d), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "market", "scenarios"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Odd [/] title [bold]" in proc.stdout and "odd" in proc.stdout


def test_the_largest_seed_runs_and_one_more_is_refused(tmp_path, capsys):
    big = str(2**63 - 1)
    assert main_("run", "baseline-2026", "--months", "1", "--seed", big, "--out", str(tmp_path / "o"), "--quiet") == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["seed"] == 2**63 - 1
    assert main_("run", "baseline-2026", "--months", "1", "--seed", str(2**63), "--out", str(tmp_path / "p")) == 2
    assert "2**63-1" in capsys.readouterr().err and not (tmp_path / "p").exists()


def test_a_user_caused_os_error_is_one_line_and_exit_2(monkeypatch, capsys):
    import market.cli as cli

    def denied(args):
        raise PermissionError(13, "Permission denied", "/somewhere/file")

    monkeypatch.setattr(cli, "cmd_validate", denied)
    assert cli.main(["validate", "baseline-2026"]) == 2
    assert capsys.readouterr().err == "gpumarket: error: /somewhere/file: Permission denied\n"


def test_validate_says_what_a_scenario_inherits_into():
    proc = gpumarket("validate", "rates-up-300", "--set", "events.0.bps=200")
    assert proc.returncode == 0, proc.stderr
    assert "'rates-up-300' (inherits baseline-2026)" in proc.stdout and "1 events" in proc.stdout
