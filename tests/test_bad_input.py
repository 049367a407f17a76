"""A corpus of bad input, tried as a careless or hostile user would: scenario files, overrides, flags,
output paths, scheduler addresses and damaged sweep folders, across ``run``, ``validate``,
``sweep`` and ``report``.

Every case must end the same way: exit status 2, exactly one line on stderr that starts with
``gpumarket: error:`` and contains the words that say what was wrong, no traceback, nothing on
stdout, and nothing written anywhere in the test's folder. Most cases call ``market.cli.main`` in
this process (fast); a handful run the real command in a subprocess too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from mini_scenario import MINI

from market import cli

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "sweep"))  # the sweep's fake engine, for a small sweep folder



def mini(old: str, new: str) -> str:
    assert old in MINI, old
    return MINI.replace(old, new, 1)


# ---------------------------------------------------------------------------- how a case is built
# An argument is a plain string, or a callable that makes what it names in the test's folder and
# returns the argument (a file written, a folder prepared, a server started).

Arg = str | Callable[[Path], str]


def F(content: str | bytes, name: str = "bad.toml") -> Callable[[Path], str]:
    """A scenario (or any) file with this content."""

    def make(tmp: Path) -> str:
        p = tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return str(p)

    return make


def FILES(files: dict[str, str], main: str) -> Callable[[Path], str]:
    """Several files (scenarios that inherit from one another); the argument is ``main``."""

    def make(tmp: Path) -> str:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        return str(tmp / main)

    return make


def OUT(tmp: Path) -> str:
    return str(tmp / "out")


def A_FILE(tmp: Path) -> str:
    p = tmp / "taken"
    p.write_text("not a folder")
    return str(p)


def UNDER_A_FILE(tmp: Path) -> str:
    return str(Path(A_FILE(tmp)) / "run")


def FOREIGN(tmp: Path) -> str:
    d = tmp / "mine"
    d.mkdir()
    (d / "thesis.tex").write_text("years of work")
    return str(d)


def SWEEP(damage: Callable[[Path], None] | None = None) -> Callable[[Path], str]:
    """A copy of a small complete sweep folder, damaged by ``damage``."""

    def make(tmp: Path) -> str:
        d = tmp / "sweep"
        shutil.copytree(_sweep_folder(), d)
        if damage is not None:
            damage(d)
        return str(d)

    return make


def A_DIR(tmp: Path) -> str:
    d = tmp / "adir"
    d.mkdir()
    return str(d)


def PORT(kind: str) -> Callable[[Path], str]:
    """The address of a local server that is not a Dask scheduler."""

    def make(tmp: Path) -> str:
        return f"tcp://127.0.0.1:{_server(kind)}"

    return make


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[Arg, ...]
    words: tuple[str, ...]


CASES: list[Case] = []


def case(id_: str, *args: Arg, words: tuple[str, ...] | str = ()) -> None:
    CASES.append(Case(id_, args, (words,) if isinstance(words, str) else tuple(words)))


def run1(*args: Arg) -> tuple[Arg, ...]:
    """``gpumarket run`` of one month into OUT."""
    return ("run", *args, "--months", "1", "--out", OUT)


# ---------------------------------------------------------------------------- run: scenario files

case("file-malformed-toml", *run1(F(mini('title = "A tiny market"', "title = "))), words=("bad.toml", "not valid TOML"))
case("file-missing-field", *run1(F(mini("powered_mw = 20\n", ""))), words=("providers.Cloudy.powered_mw", "required"))
case("file-string-for-number", *run1(F(mini("powered_mw = 20", 'powered_mw = "lots"'))), words=("powered_mw", "lots"))
case("file-unknown-key", *run1(F(mini("months = 3", "months = 3\nmonhts = 4"))), words=("market.monhts", "unknown key"))
case("file-negative-gpus", *run1(F(mini("gpus = 5000", "gpus = -5000"))), words=("fleet.0.gpus", "greater than or equal to 0"))
case("file-unknown-seller", *run1(F(mini('seller = "Cloudy"', 'seller = "Nobody"'))), words=("contracts.0.seller", "Nobody"))
case("file-inf-cash", *run1(F(mini("cash = 1e9\npowered_mw", "cash = inf\npowered_mw"))), words=("providers.Cloudy.cash", "finite"))
case("file-nan-cash", *run1(F(mini("cash = 1e9\npowered_mw", "cash = nan\npowered_mw"))), words=("providers.Cloudy.cash", "finite"))
case("file-minus-inf", *run1(F(mini("inference_demand = 1e6", "inference_demand = -inf"))), words=("inference_demand",))
case("file-bool-for-number", *run1(F(mini("powered_mw = 20", "powered_mw = true"))), words=("powered_mw", "valid number"))
case("file-bool-for-int", *run1(F(mini("gpus = 5000", "gpus = true"))), words=("fleet.0.gpus", "integer"))
case("file-float-for-int", *run1(F(mini("gpus = 5000", "gpus = 5000.5"))), words=("fleet.0.gpus", "integer"))
case("file-huge-cash", *run1(F(mini("cash = 1e9\npowered_mw", "cash = 1e308\npowered_mw"))), words=("providers.Cloudy.cash", "less than or equal"))
case("file-huge-unit-cost", *run1(F(mini("unit_cost = 6500", "unit_cost = 1e300"))), words=("generations.H100.unit_cost",))
case("file-zero-power", *run1(F(mini("power_kw = 1.3", "power_kw = 0.0"))), words=("power_kw",))
case("file-date-not-string", *run1(F(mini('launch = "2023-03"', "launch = 2023-03-01"))), words=("generations.H100.launch",))
case("file-bad-month", *run1(F(mini('launch = "2023-03"', 'launch = "2023-13"'))), words=("generations.H100.launch", "2023-13"))
case("file-latin1", *run1(F(mini("A tiny market", "Un marché").encode("latin-1"))), words=("bad.toml", "not UTF-8"))
case("file-utf16", *run1(F(MINI.encode("utf-16"))), words=("bad.toml", "not UTF-8"))
case("file-binary", *run1(F(bytes(range(256)) * 8)), words=("bad.toml", "not UTF-8"))
case("file-nul-bytes", *run1(F(b"name = \"x\"\x00\x00\n")), words=("bad.toml",))
case("file-deep-arrays", *run1(F("x = " + "[" * 5000 + "]" * 5000 + "\n" + MINI)), words=("bad.toml", "nest deeper"))
case("file-deep-inline-tables", *run1(F("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n" + MINI)), words=("bad.toml", "nest deeper"))
case("file-deep-dotted-keys", *run1(F("a" + ".b" * 3000 + " = 1\n" + MINI)), words=("bad.toml", "nest deeper"))
case("file-deep-table-header", *run1(F(MINI + "\n[market" + ".x" * 3000 + "]\ny = 1\n")), words=("bad.toml", "nest deeper"))
case("file-too-large", *run1(F(MINI + ("# padding padding padding padding\n" * 140_000))), words=("bad.toml", "larger than", "--allow-large"))
case("file-many-unknown-keys", *run1(F(MINI + "\n[nvidia]\n" + "".join(f"k{i} = {i}\n" for i in range(6000)))),
     words=("bad.toml: nvidia: a table of 6,000 keys",))
case("file-control-char-title", *run1(F(mini('title = "A tiny market"', 'title = "A tiny \\u001b[31m market"'))), words=("title",))
case("file-newline-in-name", *run1(F(mini('name = "Cloudy"', 'name = "Clo\\nudy"'))), words=("providers",))
case("file-empty-name", *run1(F(mini('name = "Lab"', 'name = ""'))), words=("buyers",))
case("file-huge-bps", *run1(F(MINI + '\n[[events]]\nkind = "rate_change"\nmonth = "2026-02"\nbps = 1e308\n')), words=("events.0.bps",))
case("file-nan-bps", *run1(F(MINI + '\n[[events]]\nkind = "rate_change"\nmonth = "2026-02"\nbps = nan\n')), words=("events.0.bps", "finite"))
case("file-negative-bps", *run1(F(MINI + '\n[[events]]\nkind = "rate_change"\nmonth = "2026-02"\nbps = -100000\n')), words=("events.0.bps",))
case("file-unknown-event", *run1(F(MINI + '\n[[events]]\nkind = "meteor"\nmonth = "2026-02"\n')), words=("events.0", "meteor"))
case("file-event-without-kind", *run1(F(MINI + '\n[[events]]\nmonth = "2026-02"\n')), words=("events.0", "kind"))
case("file-event-before-start", *run1(F(MINI + '\n[[events]]\nkind = "scaling_plateau"\nmonth = "2020-02"\n')), words=("events.0.month", "before"))
case("file-200k-buyers", *run1(F(mini('kind = "lab"', 'kind = "lab"\ncount = 200000'))), words=("buyers", "200,000", "--allow-large"))
case("file-5000-providers", *run1(F(mini('kind = "neocloud"', 'kind = "neocloud"\ncount = 5000'))), words=("providers", "--allow-large"))
case("file-100000-months", *run1(F(mini("months = 3", "months = 100000"))), words=("market.months", "--allow-large"))
case("file-exploding-training", *run1(F(mini("months = 3", "months = 600") + '\n[buyers.training]\nfirst_start = "2026-02"\ncadence_months = 1\ngpus = 1000\ngrowth = 10.0\n')), words=("buyers.Lab.training.growth",))
case("file-duplicate-names", *run1(F(mini('name = "Lab"', 'name = "Cloudy"'))), words=("Cloudy",))
case("file-providers-not-a-list", *run1(F(mini('title = "A tiny market"', 'title = "A tiny market"\nproviders = 3').replace(
    MINI[MINI.index("[[providers]]"):MINI.index("[[buyers]]")], ""))),
     words=("bad.toml: providers: expected an array, got an integer 3",))
case("file-no-generations", *run1(F(mini('[[generations]]\nname = "H100"', '[[nothing]]\nname = "H100"'))), words=("bad.toml",))
case("file-a-folder", *run1(A_DIR), words=("adir", "folder"))
case("file-a-device", *run1("/dev/zero"), words=("/dev/zero", "not a regular file"))
case("file-missing", *run1("no/such/file.toml"), words=("no/such/file.toml", "no such scenario file"))
case("unknown-scenario-name", *run1("no-such-scenario"), words=("no-such-scenario", "unknown scenario", "baseline-2026"))

# ---------------------------------------------------------------------------- run: inheritance

case("base-unknown-name", *run1(F('base = "no-such-base"\nname = "c"\n')), words=("bad.toml", "base", "no-such-base"))
case("base-missing-file", *run1(F('base = "missing.toml"\nname = "c"\n')), words=("bad.toml", "base", "missing.toml"))
case("base-not-a-string", *run1(F('base = 3\nname = "c"\n')), words=("bad.toml", "base"))
case("base-cycle", *run1(FILES({"a.toml": 'base = "b.toml"\n', "b.toml": 'base = "a.toml"\n'}, "a.toml")), words=("base", "circle"))
case("base-self", *run1(FILES({"a.toml": 'base = "a.toml"\n'}, "a.toml")), words=("base", "circle"))
case("base-remove-unknown", *run1(F('base = "baseline-2026"\nname = "c"\n[[providers]]\nname = "Vultr"\nremove = true\n')), words=("providers.Vultr.remove", "no inherited item"))
case("base-remove-with-more", *run1(F('base = "baseline-2026"\nname = "c"\n[[providers]]\nname = "Lambda"\nremove = true\ncash = 1.0\n')), words=("providers.Lambda.remove",))
case("base-child-bad-value", *run1(F('base = "baseline-2026"\nname = "c"\n[[providers]]\nname = "Lambda"\ncash = -1.0\n')), words=("bad.toml: providers.Lambda.cash",))
case("base-bad-value-in-base", *run1(FILES({"p.toml": mini("powered_mw = 20", "powered_mw = -20"), "c.toml": 'base = "p.toml"\nname = "c"\n'}, "c.toml")), words=("p.toml (inherited by", "providers.Cloudy.powered_mw"))
case("base-child-unknown-key", *run1(F('base = "baseline-2026"\nname = "c"\n[market]\nmonhts = 3\n')), words=("bad.toml: market.monhts", "unknown key"))

# ---------------------------------------------------------------------------- run: overrides

B = "baseline-2026"
case("set-inf", *run1(B, "--set", "providers.CoreWeave.cash=inf"), words=("--set providers.CoreWeave.cash", "finite"))
case("set-nan", *run1(B, "--set", "market.base_rate=nan"), words=("market.base_rate", "finite"))
case("set-bool-for-rate", *run1(B, "--set", "market.base_rate=true"), words=("market.base_rate", "valid number"))
case("set-huge-rate", *run1(B, "--set", "market.base_rate=1e308"), words=("market.base_rate",))
case("set-huge-beta", *run1(B, "--set", "market.logit_beta=1e308"), words=("market.logit_beta",))
case("set-negative-cash", *run1(B, "--set", "providers.CoreWeave.cash=-5"), words=("providers.CoreWeave.cash", "greater than or equal to 0"))
case("set-string-for-int", *run1(B, "--set", "market.months=many"), words=("market.months", "many"))
case("set-no-item", *run1(B, "--set", "providers.99.cash=1"), words=("providers.99.cash", "no item"))
case("set-no-named-item", *run1(B, "--set", "providers.Vultr.cash=1"), words=("providers.Vultr", "no item"))
case("set-unknown-key", *run1(B, "--set", "market.nonsense=1"), words=("market.nonsense", "unknown key"))
case("set-below-a-value", *run1(B, "--set", "market.months.x=1"), words=("market.months is a value",))
case("set-no-equals", *run1(B, "--set", "market.months"), words=("--set", "KEY=VALUE"))
case("set-empty-key", *run1(B, "--set", "=5"), words=("--set",))
case("set-empty-part", *run1(B, "--set", "market..months=5"), words=("--set", "empty key path"))
case("set-deep-value", *run1(B, "--set", "title=" + "[" * 5000 + "]" * 5000), words=("--set", "nest"))
case("set-newline-in-key", *run1(B, "--set", "market.mon\nths=3"), words=("unknown key",))
case("set-control-in-title", *run1(B, "--set", "title=Oops\x07\nbell"), words=("title",))
case("set-event-huge-bps", *run1(B, "--set", 'events=[{kind="rate_change", month="2026-03", bps=1e308}]'), words=("events.0.bps",))
case("set-event-negative-bps", *run1(B, "--set", 'events=[{kind="rate_change", month="2026-03", bps=-100000}]'), words=("events.0.bps",))
case("set-negative-rate", *run1(B, "--set", 'events=[{kind="rate_change", month="2026-02", bps=-1000}]'),
     words=("events.0.bps", "base rate to -5.70%"))
case("set-negative-spread", *run1(B, "--set", 'events=[{kind="rate_change", month="2026-02", bps=0, spread_bps=-100}]'),
     words=("events.0.spread_bps", "spread"))
case("set-rate-cut-below-debt-rate", *run1(B, "--set", "market.base_rate=0.5", "--set",
                                           'events=[{kind="rate_change", month="2026-04", bps=-901}]'),
     words=("events.0.bps", "Crusoe's opening debt"))
case("set-long-run", *run1(B, "--set", "market.months=100000"), words=("market.months", "--allow-large"))
case("set-duplicate-name", *run1(B, "--set", "providers.Lambda.name=Nebius"), words=("Nebius", "twice"))
case("set-exploding-demand", "run", B, "--set", "buyers.OpenAI.inference_growth=1.0", "--months", "600", "--out", OUT,
     words=("--months 600", "buyers.OpenAI.inference_growth"))

# ---------------------------------------------------------------------------- run: flags

case("seed-word", *run1(B, "--seed", "abc"), words=("--seed", "whole number", "abc"))
case("seed-negative", *run1(B, "--seed", "-3"), words=("--seed",))
case("seed-2-64", *run1(B, "--seed", str(2**64)), words=("--seed", "2**63-1"))
case("seed-2-70", *run1(B, "--seed", str(2**70)), words=("--seed", "2**63-1"))
case("seed-float", *run1(B, "--seed", "1e3"), words=("--seed", "1e3"))
case("seed-enormous", *run1(B, "--seed", "9" * 5000), words=("--seed",))
case("months-zero", "run", B, "--months", "0", "--out", OUT, words=("--months",))
case("months-negative", "run", B, "--months", "-5", "--out", OUT, words=("--months",))
case("months-word", "run", B, "--months", "ten", "--out", OUT, words=("--months", "ten"))
case("months-100000", "run", B, "--months", "100000", "--out", OUT, words=("--months 100000", "--allow-large"))
case("unknown-flag", *run1(B, "--frobnicate"), words=("--frobnicate",))
case("unknown-command", "fly", words=("fly",))
case("run-without-scenario", "run", words=("scenario",))

# ---------------------------------------------------------------------------- run: where output goes

case("out-a-file", "run", B, "--months", "1", "--out", A_FILE, words=("--out", "not a folder"))
case("out-under-a-file", "run", B, "--months", "1", "--out", UNDER_A_FILE, words=("--out", "is a file"))
case("out-empty", "run", B, "--months", "1", "--out", "", words=("--out",))
case("out-working-dir", "run", B, "--months", "1", "--out", ".", words=("--out", "working directory"))
case("out-parent-of-working-dir", "run", B, "--months", "1", "--out", "..", words=("--out", "working directory"))
case("out-foreign-files", "run", B, "--months", "1", "--out", FOREIGN, words=("--out", "thesis.tex"))
case("out-dev-null", "run", B, "--months", "1", "--out", "/dev/null", words=("--out", "not a folder"))
case("out-unwritable-proc", "run", B, "--months", "1", "--out", "/proc/gpumarket-test-run", words=("--out", "cannot create"))

# ---------------------------------------------------------------------------- validate

case("validate-malformed", "validate", F(mini('title = "A tiny market"', "title = ")), words=("not valid TOML",))
case("validate-latin1", "validate", F("name = 'Marché'".encode("latin-1")), words=("not UTF-8",))
case("validate-missing", "validate", "nothere.toml", words=("nothere.toml", "no such scenario file"))
case("validate-folder", "validate", A_DIR, words=("folder",))
case("validate-set-inf", "validate", B, "--set", "nvidia.cash=inf", words=("nvidia.cash", "finite"))
case("validate-deep", "validate", F("a = " + "[" * 100 + "]" * 100), words=("nest deeper",))
case("validate-cycle", "validate", FILES({"a.toml": 'base = "b.toml"\n', "b.toml": 'base = "c.toml"\n', "c.toml": 'base = "a.toml"\n'}, "a.toml"), words=("circle",))
case("validate-unknown-key", "validate", B, "--set", "nvidia.colour=1", words=("nvidia.colour", "unknown key"))
case("validate-huge-file", "validate", F("# x\n" * 1_200_000), words=("larger than",))

# ---------------------------------------------------------------------------- sweep


def sweep(*args: Arg) -> tuple[Arg, ...]:
    return ("sweep", B, "--months", "2", "--workers", "1", "--progress", "none", *args)


case("sweep-unknown-grid-key", *sweep("--grid", "market.no_such_key=1,2", "--out", OUT), words=("market.no_such_key",))
case("sweep-range-reversed", *sweep("--lhs", "4", "--range", "market.logit_beta=9:2", "--out", OUT), words=("above HIGH",))
case("sweep-range-inf", *sweep("--lhs", "4", "--range", "market.logit_beta=1:inf", "--out", OUT), words=("finite",))
case("sweep-range-words", *sweep("--lhs", "4", "--range", "market.logit_beta=a:b", "--out", OUT), words=("numbers",))
case("sweep-grid-inf", *sweep("--grid", "market.base_rate=0.01,inf", "--out", OUT), words=("market.base_rate",))
case("sweep-grid-empty-value", *sweep("--grid", "market.base_rate=0.01,", "--out", OUT), words=("--grid",))
case("sweep-seeds-zero", *sweep("--seeds", "0", "--out", OUT), words=("--seeds 0",))
case("sweep-seed-2-64", *sweep("--seed", str(2**64), "--out", OUT), words=("--seed", "2**63-1"))
case("sweep-seed-negative", *sweep("--seed", "-1", "--out", OUT), words=("--seed",))
case("sweep-months-zero", "sweep", B, "--months", "0", "--out", OUT, words=("--months",))
case("sweep-months-700", "sweep", B, "--months", "700", "--out", OUT, words=("--months 700", "--allow-large"))
case("sweep-workers-zero", *sweep("--workers", "0", "--out", OUT), words=("--workers",))
case("sweep-chunk-zero", *sweep("--chunk-size", "0", "--out", OUT), words=("--chunk-size",))
case("sweep-retries-negative", *sweep("--max-retries", "-1", "--out", OUT), words=("--max-retries",))
case("sweep-two-designs", *sweep("--grid", "market.logit_beta=4,8", "--lhs", "4", "--out", OUT), words=("choose one design",))
case("sweep-range-alone", *sweep("--range", "market.logit_beta=1:2", "--out", OUT), words=("--range",))
case("sweep-sobol-not-power", *sweep("--sobol", "3", "--range", "market.logit_beta=1:2", "--out", OUT), words=("power of 2",))
case("sweep-levels-odd", *sweep("--morris", "2", "--levels", "3", "--range", "market.logit_beta=1:2", "--out", OUT), words=("--levels",))
case("sweep-too-many-runs", *sweep("--lhs", "1000000", "--range", "market.logit_beta=1:2", "--out", OUT), words=("1,000,000 runs", "--allow-large"))
case("sweep-huge-grid", *sweep("--grid", "market.logit_beta=" + ",".join(map(str, range(1, 1001))),
                               "--grid", "market.base_rate=" + ",".join(f"0.0{i:03d}" for i in range(1000)), "--out", OUT),
     words=("runs", "--allow-large"))
case("sweep-set-inf", *sweep("--set", "providers.CoreWeave.cash=inf", "--out", OUT), words=("providers.CoreWeave.cash", "finite"))
case("sweep-bad-file", "sweep", F(b"\xff\xfe\x00garbage"), "--out", OUT, words=("not UTF-8",))
case("sweep-scheduler-without-dask", *sweep("--scheduler", "tcp://127.0.0.1:8786", "--out", OUT), words=("--scheduler", "--engine dask"))
case("sweep-scheduler-malformed", *sweep("--engine", "dask", "--scheduler", "not an address", "--out", OUT), words=("--scheduler", "expected"))
case("sweep-scheduler-port-range", *sweep("--engine", "dask", "--scheduler", "tcp://127.0.0.1:99999", "--out", OUT), words=("--scheduler", "port"))
case("sweep-scheduler-other-protocol", *sweep("--engine", "dask", "--scheduler", "ucx://10.0.0.1:8786", "--out", OUT), words=("--scheduler",))
case("sweep-scheduler-refused", *sweep("--engine", "dask", "--scheduler", "tcp://127.0.0.1:1", "--out", OUT), words=("--scheduler", "cannot connect"))
case("sweep-scheduler-http", *sweep("--engine", "dask", "--scheduler", PORT("http"), "--out", OUT), words=("--scheduler", "not a Dask scheduler"))
case("sweep-scheduler-silent", *sweep("--engine", "dask", "--scheduler", PORT("silent"), "--connect-timeout", "0.5", "--out", OUT),
     words=("--scheduler", "no Dask scheduler answered"))
case("sweep-connect-timeout-nan", *sweep("--engine", "dask", "--connect-timeout", "nan", "--out", OUT), words=("--connect-timeout",))
case("sweep-dashboard-without-dask", *sweep("--dashboard", "--out", OUT), words=("--dashboard",))
case("sweep-out-a-file", *sweep("--out", A_FILE), words=("--out", "not a folder"))
case("sweep-out-dev-null", *sweep("--out", "/dev/null"), words=("--out", "not a folder"))
case("sweep-out-under-a-file", *sweep("--out", UNDER_A_FILE), words=("--out", "is a file"))
case("sweep-out-working-dir", *sweep("--out", "."), words=("--out", "working directory"))
case("sweep-out-foreign", *sweep("--out", FOREIGN), words=("--out", "not empty"))
case("sweep-out-other-sweep", *sweep("--out", SWEEP()), words=("--out", "different sweep"))


def _manifest_list(d: Path) -> None:
    (d / "manifest.json").write_bytes(b"[1, 2, 3]")


def _manifest_dir(d: Path) -> None:
    (d / "manifest.json").unlink()
    (d / "manifest.json").mkdir()


def _manifest_without_design(d: Path) -> None:
    m = orjson.loads((d / "manifest.json").read_bytes())
    del m["design"]
    (d / "manifest.json").write_bytes(orjson.dumps(m))


def _manifest_bad_design(d: Path) -> None:
    m = orjson.loads((d / "manifest.json").read_bytes())
    m["design"]["points"] = 7
    (d / "manifest.json").write_bytes(orjson.dumps(m))


def _manifest_not_json(d: Path) -> None:
    (d / "manifest.json").write_bytes(b"{not json")


def _manifest_deep(d: Path) -> None:
    (d / "manifest.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)


def _truncated_part(d: Path) -> None:
    (d / "runs.parquet").unlink()
    part = d / "runs" / "part-00000.parquet"
    part.write_bytes(part.read_bytes()[:40])


def _damaged_runs_file(d: Path) -> None:
    (d / "runs.parquet").write_bytes(b"PAR1 this is not parquet")


case("sweep-into-manifest-list", *sweep("--out", SWEEP(_manifest_list)), words=("manifest.json", "start the sweep over"))
case("sweep-into-manifest-dir", *sweep("--out", SWEEP(_manifest_dir)), words=("manifest.json", "not a file"))
case("sweep-into-manifest-no-design", *sweep("--out", SWEEP(_manifest_without_design)), words=("manifest.json", "design"))

# ---------------------------------------------------------------------------- report

case("report-missing", "report", "nothere", words=("nothere", "no such sweep folder"))
case("report-a-file", "report", A_FILE, words=("not a sweep directory",))
case("report-no-manifest", "report", A_DIR, words=("not a sweep directory",))
case("report-manifest-list", "report", SWEEP(_manifest_list), words=("manifest.json", "JSON object"))
case("report-manifest-dir", "report", SWEEP(_manifest_dir), words=("manifest.json", "not a file"))
case("report-manifest-no-design", "report", SWEEP(_manifest_without_design), words=("manifest.json", "design", "missing"))
case("report-manifest-bad-design", "report", SWEEP(_manifest_bad_design), words=("manifest.json", "design", "damaged"))
case("report-manifest-not-json", "report", SWEEP(_manifest_not_json), words=("manifest.json", "not a readable"))
case("report-manifest-deep", "report", SWEEP(_manifest_deep), words=("manifest.json",))
case("report-truncated-part", "report", SWEEP(_truncated_part), words=("part-00000.parquet", "damaged", "delete"))
case("report-damaged-runs-file", "report", SWEEP(_damaged_runs_file), words=("runs.parquet", "damaged"))
case("report-csv-a-file", "report", SWEEP(), "--csv", A_FILE, words=("--csv", "not a folder"))
case("report-csv-under-a-file", "report", SWEEP(), "--csv", UNDER_A_FILE, words=("--csv", "is a file"))
case("report-png-suffix", "report", SWEEP(), "--png", "c.xyz", words=("--png", ".png"))
case("report-png-no-suffix", "report", SWEEP(), "--png", "chart", words=("--png", ".png"))
case("report-png-a-dir", "report", SWEEP(), "--png", A_DIR, words=("--png",))
case("report-png-dir-with-suffix", "report", SWEEP(), "--png", lambda tmp: (tmp / "d.png").mkdir() or str(tmp / "d.png"), words=("--png", "is a folder"))
case("report-max-points-negative", "report", SWEEP(), "--max-points", "-1", words=("--max-points",))
case("report-max-points-zero", "report", SWEEP(), "--max-points", "0", words=("--max-points",))
case("report-unknown-outcome", "report", SWEEP(), "--outcome", "nosuch", words=("--outcome nosuch", "no such outcome"))


def _runs_name_a_point_the_design_lacks(d: Path) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(d / "runs.parquet")
    t = t.set_column(t.column_names.index("point"), "point", pc.multiply(pc.add(t.column("point"), 1), 99))
    pq.write_table(t, d / "runs.parquet")


case("report-runs-beyond-the-design", "report", SWEEP(_runs_name_a_point_the_design_lacks),
     words=("but the manifest's design has 2", "damaged"))


# ---------------------------------------------------------------------------- helpers


_SWEEP_CACHE: dict[str, Path] = {}


def _sweep_folder() -> Path:
    """A small complete sweep folder (the fake engine's), made once per session."""
    if "dir" not in _SWEEP_CACHE:
        import tempfile

        from sweep_fake_engine import HOOKS

        from market.sweep.design import build_design
        from market.sweep.runner import SweepConfig, run_sweep

        d = Path(tempfile.mkdtemp(prefix="gpumarket-bad-input-")) / "sweep"
        cfg = SweepConfig("fake", build_design(grid=["growth=0.01,0.02"], seeds=2), out=d, months=4, workers=1,
                          hooks=HOOKS, progress="none")
        assert run_sweep(cfg).complete
        _SWEEP_CACHE["dir"] = d
    return _SWEEP_CACHE["dir"]


_SERVERS: dict[str, int] = {}


def _server(kind: str) -> int:
    """A local TCP server that is not a Dask scheduler: ``http`` answers like a web server, ``silent``
    accepts and says nothing."""
    if kind not in _SERVERS:
        srv = socket.create_server(("127.0.0.1", 0))
        conns: list[socket.socket] = []

        def serve() -> None:
            while True:
                c, _ = srv.accept()
                conns.append(c)  # kept open (and silent) until the process ends
                if kind == "http":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

        threading.Thread(target=serve, daemon=True).start()
        _SERVERS[kind] = srv.getsockname()[1]
    return _SERVERS[kind]


def snapshot(root: Path) -> list[tuple[str, int, int]]:
    out = []
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out.append((str(p.relative_to(root)), st.st_size if p.is_file() else -1, st.st_mtime_ns))
    return out


def build(c: Case, tmp: Path) -> list[str]:
    return [a(tmp) if callable(a) else a for a in c.args]


def check(c: Case, code: int, out: str, err: str) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gpumarket: error: "), lines[0]
    for w in c.words:
        assert w in lines[0], (w, lines[0])
    assert out == "", out


# ---------------------------------------------------------------------------- the tests


def test_the_corpus_is_large_and_covers_every_command():
    by = {}
    for c in CASES:
        by[c.args[0]] = by.get(c.args[0], 0) + 1
    assert len(CASES) >= 80, len(CASES)
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    assert {"run", "validate", "sweep", "report"} <= set(by), by


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(c, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # default output folders (runs/, sweeps/) would land here
    argv = build(c, tmp_path)
    before = snapshot(tmp_path)
    code = cli.main(argv)
    captured = capsys.readouterr()
    check(c, code, captured.out, captured.err)
    assert snapshot(tmp_path) == before, "nothing may be written on bad input"


SUBPROCESS = ["file-latin1", "file-deep-arrays", "set-inf", "seed-2-64", "out-under-a-file", "validate-cycle",
              "sweep-scheduler-http", "report-truncated-part"]


@pytest.mark.parametrize("case_id", SUBPROCESS)
def test_bad_input_through_the_real_command(case_id, tmp_path):
    c = next(c for c in CASES if c.id == case_id)
    work = tmp_path / "work"
    work.mkdir()
    argv = build(c, tmp_path)
    before = snapshot(tmp_path)
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "market", *argv], capture_output=True, text=True, cwd=work,
                          env=env, timeout=120)
    check(c, proc.returncode, proc.stdout, proc.stderr)
    assert snapshot(tmp_path) == before



# ---------------------------------------------------------------------------- play --load
# A saved game is checked before the UI starts, so these run the real command (a subprocess, so
# that a save the checks wrongly accepted would start the app and time out, not hang the suite).


def _save_doc() -> dict:
    if "save" not in _SWEEP_CACHE:
        import tempfile

        from market.game import Game

        p = Path(tempfile.mkdtemp(prefix="gpumarket-bad-save-")) / "game.json"
        Game.new("baseline-2026", 0).save(p)
        _SWEEP_CACHE["save"] = p
    return orjson.loads(_SWEEP_CACHE["save"].read_bytes())


def _patched(**changes) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        doc = _save_doc()
        for key, value in changes.items():
            node = doc
            *parents, last = key.split("__")
            for k in parents:
                node = node[k]
            node[last] = value
        p = tmp / "save.json"
        p.write_text(json.dumps(doc))  # the stdlib writes integers past 64 bits; orjson refuses
        return str(p)

    return make


SAVES: dict[str, tuple[Arg, tuple[str, ...]]] = {
    "not-json": (F("{not json", "save.json"), ("save.json", "JSON")),
    "a-list": (F("[1, 2]", "save.json"), ("save.json",)),
    "not-utf8": (F(b"\xff\xfe{}", "save.json"), ("save.json",)),
    "deep": (F("[" * 100_000 + "]" * 100_000, "save.json"), ("save.json",)),
    "missing-file": ("no-such-save.json", ("no-such-save.json",)),
    "a-folder": (A_DIR, ("adir",)),
    "seed-true": (_patched(seed=True), ("seed",)),
    "seed-2-64": (_patched(seed=2**64), ("seed",)),
    "player-list": (_patched(player=["x"]), ("player",)),
    "unknown-player": (_patched(player="Nobody Inc"), ("Nobody Inc",)),
    "scenario-inf": (_patched(scenario__market__base_rate="inf"), ("market.base_rate",)),
    "scenario-bool": (_patched(scenario__market__base_rate=True), ("market.base_rate",)),
}


@pytest.mark.parametrize("name", sorted(SAVES))
def test_play_load_of_a_bad_save_is_refused_in_one_line(name, tmp_path):
    make, words = SAVES[name]
    work = tmp_path / "work"
    work.mkdir()
    path = make(tmp_path) if callable(make) else make
    before = snapshot(tmp_path)
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    proc = subprocess.run([sys.executable, "-m", "market", "play", "--load", path], capture_output=True, text=True,
                          cwd=work, env=env, timeout=60, stdin=subprocess.DEVNULL)
    check(Case(name, (), words), proc.returncode, proc.stdout, proc.stderr)
    assert snapshot(tmp_path) == before
