"""One headless run: the model stepped for N months, its tables, and the files of CONTRACT.md."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

import market
from market.errors import UserError
from market.files import StagedDir, write_bytes, write_parquet
from market.ledger import ACCT_NAMES, MEMOS
from market.model import MarketModel
from market.scenario import Scenario

CONTRACT_COLUMNS = ["contract_id", "buyer", "seller", "generation", "gpus", "signed_month", "start_month",
                    "term_months", "price_per_gpu_hour", "total_value", "status", "purpose", "prepay_share",
                    "remaining_value"]


class RunResult:
    """Everything one run produced, as Arrow tables and plain objects, each built from the stepped
    model when first read: a sweep reads only ``model`` and ``agents``. Read what you need before
    stepping the model further (the tables show the model as it is when they are read)."""

    def __init__(self, model: MarketModel) -> None:
        self.market = model
        self.scenario: str = model.scn.name
        self.seed: int = model.seed
        self.months: int = model.month
        self.extra: dict = {}

    @cached_property
    def model(self) -> pa.Table:
        return pa.table(self.market.recorder.model_table())

    @cached_property
    def agents(self) -> pa.Table:
        cols = self.market.recorder.agent_table()
        mv = np.asarray(cols["market_value"], dtype=float)
        # market value is empty (null), not NaN, for companies that are not public
        cols["market_value"] = pa.array(mv, mask=np.isnan(mv), type=pa.float64())
        return pa.table(cols)

    @cached_property
    def prices(self) -> pa.Table:
        return pa.table(self.market.recorder.price_table(), schema=pa.schema([
            ("month", pa.int64()), ("agent", pa.string()), ("generation", pa.string()), ("on_demand", pa.float64()),
            ("reserved", pa.float64()), ("spot", pa.float64())]))

    @cached_property
    def contracts(self) -> pa.Table:
        return contracts_table(self.market)

    @cached_property
    def events(self) -> list[dict]:
        return self.market.events_log

    @cached_property
    def summary(self) -> dict:
        model, rec = self.market, self.market.recorder
        scn = model.scn
        return {
            "scenario": scn.name,
            "title": scn.title,
            "seed": model.seed,
            "months": model.month,
            "start": scn.market.start,
            "version": market.__version__,
            "final_month": model.month - 1,
            "final_date": model.label(model.month - 1) if model.month else None,
            "market": rec.model_rows[-1] if rec.model_rows else {},
            "agents": rec.last(),
        }

    @cached_property
    def ledger(self) -> pa.Table | None:
        """The postings, when the model kept them (``ledger=True``)."""
        return ledger_table(self.market) if self.market.ledger.keep else None


def simulate(scenario: Scenario, seed: int, months: int | None = None, ledger: bool = False,
             progress=None) -> RunResult:
    """Run ``scenario`` with ``seed`` for ``months`` (default: the scenario's length)."""
    n = scenario.months if months is None else months
    if n <= 0:
        raise UserError(f"--months {n}: expected a whole number of months above zero")
    model = MarketModel(scenario, seed=seed, keep_ledger=ledger)
    for i in range(n):
        model.step()
        if progress is not None:
            progress(i + 1, n)
    return collect(model)


def collect(model: MarketModel) -> RunResult:
    """The tables of a model that has been stepped (built as they are read: :class:`RunResult`)."""
    return RunResult(model)


def contracts_table(model: MarketModel) -> pa.Table:
    cs = model.exchange.contracts
    cat = model.cat
    cols = {
        "contract_id": [c.contract_id for c in cs],
        "buyer": [c.buyer for c in cs],
        "seller": [c.seller for c in cs],
        "generation": [cat.names[c.generation] for c in cs],
        "gpus": [c.gpus for c in cs],
        "signed_month": [c.signed for c in cs],
        "start_month": [c.start for c in cs],
        "term_months": [c.term for c in cs],
        "price_per_gpu_hour": [c.price for c in cs],
        "total_value": [c.total_value for c in cs],
        "status": [c.status for c in cs],
        "purpose": [c.purpose for c in cs],
        "prepay_share": [c.prepay_share for c in cs],
        "remaining_value": [c.remaining_value() for c in cs],
    }
    types = [pa.int64(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.int64(),
             pa.float64(), pa.float64(), pa.string(), pa.string(), pa.float64(), pa.float64()]
    return pa.table(cols, schema=pa.schema(list(zip(CONTRACT_COLUMNS, types))))


def ledger_table(model: MarketModel) -> pa.Table:
    p = model.ledger.postings()
    names = np.array(model.ledger.names, dtype=object)
    accts = np.array(ACCT_NAMES, dtype=object)
    memos = np.array(MEMOS, dtype=object)
    ent = p["entity"].astype(np.int64)
    return pa.table({
        "month": p["month"].astype(np.int64),
        "debit": names[ent] + ":" + accts[p["debit"].astype(np.int64)],
        "credit": names[ent] + ":" + accts[p["credit"].astype(np.int64)],
        "amount": p["amount"].astype(np.float64),
        "memo": memos[p["memo"].astype(np.int64)],
        "entity": names[ent],
        "transfer_id": p["transfer_id"].astype(np.int64),
    })


# ---------------------------------------------------------------------------- writing files

def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError


#: the files a run writes (CONTRACT.md); a folder holding only these may be replaced by a new run
RUN_FILES = ("model.parquet", "agents.parquet", "prices.parquet", "contracts.parquet", "events.jsonl",
             "summary.json", "ledger.parquet")


def write_run(result: RunResult, out: Path | StagedDir) -> Path:
    """Write the run's files as one folder: into a temporary folder beside ``out``, renamed into
    place when complete, so that ``out`` holds this run's files and nothing else, or is left as it
    was. ``out`` may be a :class:`StagedDir` made before simulating (which checks ``out`` early)."""
    staged = out if isinstance(out, StagedDir) else StagedDir(Path(out))
    with staged:
        try:
            write_outputs(result, staged.path)
        except OSError as exc:
            raise UserError(f"{staged.flag} {staged.shown}: cannot write: {exc.strerror or exc}") from None
        staged.commit()
    return staged.target


def write_outputs(result: RunResult, out: Path) -> list[Path]:
    """Write every file of CONTRACT.md below ``out``; each appears only when complete."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in (("model", result.model), ("agents", result.agents), ("prices", result.prices),
                        ("contracts", result.contracts)):
        p = out / f"{name}.parquet"
        write_parquet(table, p)
        written.append(p)
    opts = orjson.OPT_SERIALIZE_NUMPY
    lines = b"".join(orjson.dumps(e, default=_json_default, option=opts) + b"\n" for e in result.events)
    write_bytes(lines, out / "events.jsonl")
    written.append(out / "events.jsonl")
    write_bytes(orjson.dumps(result.summary, default=_json_default, option=opts | orjson.OPT_INDENT_2),
                out / "summary.json")
    written.append(out / "summary.json")
    if result.ledger is not None:
        write_parquet(result.ledger, out / "ledger.parquet")
        written.append(out / "ledger.parquet")
    return written
