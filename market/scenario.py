"""The scenario schema (pydantic) and the loading of scenario files, bundled names and overrides.

Every field is a parameter of a rule in the engine; ``docs/model.md`` says which rule uses which.
Errors a user can cause are raised as :class:`market.errors.UserError` with one line naming the
file, the field path and what was expected.
"""

from __future__ import annotations

import copy
import functools
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from market.errors import UserError

YearMonth = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNeg = Annotated[float, Field(ge=0.0)]
Pos = Annotated[float, Field(gt=0.0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]


class Spec(BaseModel):
    """Base of every scenario section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def month_index(ym: str, start: str) -> int:
    """Months from ``start`` to ``ym`` (both 'YYYY-MM'); negative before the start."""
    y, m = int(ym[:4]), int(ym[5:7])
    y0, m0 = int(start[:4]), int(start[5:7])
    return (y - y0) * 12 + (m - m0)


@functools.lru_cache(maxsize=4096)
def month_label(index: int, start: str) -> str:
    """The 'YYYY-MM' label of month ``index`` counted from ``start``."""
    y0, m0 = int(start[:4]), int(start[5:7])
    total = y0 * 12 + (m0 - 1) + index
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


# --------------------------------------------------------------------------- catalogue


class GenerationSpec(Spec):
    """One accelerator generation in the catalogue."""

    name: str
    vendor: Literal["nvidia", "custom"] = "nvidia"
    launch: YearMonth
    list_price: Pos = Field(description="NVIDIA list price per GPU, $ (custom: build cost per chip)")
    unit_cost: Pos = Field(description="manufacturing cost per GPU, $ (NVIDIA's cost of goods)")
    system_cost: NonNeg = Field(0.0, description="servers, network and install per GPU, $")
    training_perf: Pos = Field(description="training throughput relative to H100 = 1")
    inference_perf: Pos = Field(description="inference tokens per GPU-hour relative to H100 = 1")
    power_kw: Pos = Field(description="power per GPU at the wall, kW")
    memory_gb: PosInt = Field(description="memory per GPU, GB (descriptive: shown, not used by a rule)")
    monthly_output: NonNeg = Field(0.0, description="units NVIDIA makes per month at full ramp")
    output_growth: float = Field(0.0, ge=-0.5, le=0.5, description="monthly growth of output")
    ramp_months: NonNegInt = 6
    end_of_production: YearMonth | None = None


# --------------------------------------------------------------------------- market-wide


class MarketSpec(Spec):
    """Market-wide parameters: the clock, rates, and the short-term market's choice rule."""

    start: YearMonth = "2026-01"
    months: PosInt = 36
    hours_per_month: Pos = 730.0
    base_rate: NonNeg = Field(0.043, description="annual base rate (SOFR-like)")
    logit_beta: Pos = Field(6.0, description="price sensitivity of buyers' provider choice")
    trust_scale: NonNeg = Field(1.0, description="weight of provider trust in the choice, per unit of buyer trust weight")
    consider: PosInt = Field(12, description="offers each buyer considers in the short-term market")
    clearing_rounds: PosInt = Field(10, description="at most this many re-allocation rounds of unmet demand (stops early when no progress)")
    economic_life_months: PosInt = Field(48, description="life used to value a GPU for collateral")
    residual_value: Share = Field(0.2, description="market value share of a GPU at end of economic life")
    obsolescence: Share = Field(0.25, description="market value lost by a GPU generation per newer NVIDIA generation shipped")
    trust_price: NonNeg = Field(0.5, description="$ per GPU-hour a buyer of trust weight 1 gives a provider of full trust")
    sentiment_persistence: Share = Field(0.8, description="share of investor sentiment's gap from 1 that lasts to the next month")
    idle_power_draw: Share = Field(0.3, description="share of full power a powered but idle GPU still draws")
    delay_penalty: NonNeg = Field(0.03, description="a buyer's penalty on an offer per month of later start, as a share of price")
    second_life_premium: Pos = Field(1.4, description="how much more per unit of inference work an older generation can charge than the cheapest newer one")


class NegotiationSpec(Spec):
    """Rounds, concession and the terms of take-or-pay contracts."""

    rounds: PosInt = 4
    ask_markup: NonNeg = Field(0.6, description="seller's opening ask above its reservation price")
    bid_discount: Share = Field(0.35, description="buyer's opening bid below its ceiling")
    tightness_weight: NonNeg = Field(1.0, description="how strongly market tightness slows seller concession")
    outside_option_weight: NonNeg = Field(0.5, description="how strongly rival offers slow buyer concession")
    min_margin: NonNeg = Field(0.15, description="seller's reservation margin over its full cost")
    prepay_share: Share = 0.15
    late_grace_months: NonNegInt = 3
    penalty_rate: NonNeg = Field(0.10, description="share of the undelivered fee a late seller pays")
    termination_fee: Share = Field(0.3, description="share of remaining value paid when a buyer cancels at will")
    max_request_age: PosInt = Field(3, description="months a request stays open before it lapses")


class BackstopSpec(Spec):
    """NVIDIA's commitment to buy a provider's unused capacity."""

    provider: str
    cap_per_month: NonNeg = Field(description="$ per month at most")
    price_share: Share = Field(0.8, description="share of the provider's reserved price NVIDIA pays")
    until: YearMonth


class NvidiaSpec(Spec):
    """NVIDIA: supply, allocation, pricing and its own books."""

    name: str = "NVIDIA"
    allocation: Literal["pro_rata", "partner_priority", "no_rival_silicon"] = "pro_rata"
    partner_weight: Pos = Field(2.0, description="weight multiplier of favoured buyers")
    partners: list[str] = Field(default_factory=list)
    lead_time_months: NonNegInt = Field(3, description="months from shipment to installation")
    price_sensitivity: NonNeg = Field(0.05, description="price change per month of backlog above target")
    target_backlog_months: NonNeg = 3.0
    price_floor: Pos = 0.85
    price_cap: Pos = 1.25
    opex_per_month: NonNeg = 1.5e9
    cash: NonNeg = 6.0e10
    rest_of_world_share: Share = Field(0.8, description="share of output the rest of the world keeps on order")
    rest_of_world_backlog_months: NonNeg = 3.0
    equity_stakes: dict[str, Share] = Field(default_factory=dict)
    backstops: list[BackstopSpec] = Field(default_factory=list)
    ev_revenue_multiple: Pos = 18.0


# --------------------------------------------------------------------------- providers


class CohortSpec(Spec):
    """GPUs a provider already owns at the start."""

    generation: str
    gpus: NonNegInt
    installed: YearMonth
    unit_cost: Pos = Field(description="all-in capital cost per GPU, $")


class PowerBuildSpec(Spec):
    ready: YearMonth
    mw: NonNeg


class PricingSpec(Spec):
    """A provider's price-setting rule."""

    strategy: Literal["cost_plus", "undercut", "utilisation", "sticky"] = "cost_plus"
    markup: NonNeg = Field(0.9, description="cost-plus markup over full cost per GPU-hour")
    undercut: Share = Field(0.03, description="gap below the cheapest rival (undercut)")
    target_utilisation: Share = 0.85
    step: NonNeg = Field(0.5, description="price change per unit of utilisation gap (utilisation)")
    min_margin: float = Field(0.05, ge=-0.5, description="floor over cash cost per GPU-hour")
    sticky_band: Share = Field(0.25, description="sticky: reprice only when the target moved this much")
    max_markup: NonNeg = Field(2.5, description="no on-demand price above full cost x (1 + max_markup), whatever the strategy")
    reserved_discount: Share = 0.2
    spot_discount: Share = 0.45
    spot_idle_sensitivity: NonNeg = Field(0.4, description="extra spot discount per unit of idle share")
    initial: dict[str, Pos] = Field(default_factory=dict, description="on-demand $/GPU-hour at start")


class FinanceSpec(Spec):
    """A provider's borrowing terms, covenants and equity."""

    spread: NonNeg = 0.045
    ig_discount: NonNeg = Field(0.02, description="spread cut at a backlog fully from investment-grade buyers")
    leverage_penalty: NonNeg = Field(0.005, description="spread added per turn of leverage above 3x")
    ltv: Share = Field(0.7, description="debt at most this share of the fleet's market value")
    contract_ltv: Share = Field(0.4, description="and this share of investment-grade take-or-pay backlog")
    non_ig_weight: Share = Field(0.5, description="weight of backlog from buyers below investment grade in that collateral")
    amort_months: PosInt = 60
    max_leverage: Pos = Field(7.0, description="covenant: debt / annualised EBITDA")
    min_dscr: NonNeg = Field(1.1, description="covenant: EBITDA / debt service")
    min_cash_months: NonNeg = Field(2.0, description="cash buffer in months of operating cost")
    can_raise_equity: bool = True
    restructure_spread: NonNeg = Field(0.02, description="spread added to every loan at a first covenant breach")
    restructure_months: NonNegInt = Field(6, description="months of halved principal repayments after restructuring")
    fire_sale_share: Share = Field(0.2, description="share of the fleet sold in a fire sale")
    fire_sale_discount: Share = Field(0.4, description="discount to market value in a fire sale")


class CapacitySpec(Spec):
    """A provider's capacity plan: how many GPUs and MW it wants."""

    growth_target: NonNeg = Field(0.03, description="monthly growth of short-term capacity it plans for")
    target_utilisation: Share = 0.85
    max_order_share: Share = Field(0.3, description="orders per month at most this share of the fleet")
    mw_buffer: NonNeg = Field(0.1, description="spare powered MW kept ahead of the fleet")
    generation: str = Field("newest", description="'newest' or a catalogue name")
    order_ahead_months: PosInt = Field(10, description="orders GPUs for contracts starting within this many months")


class CustomSiliconSpec(Spec):
    """In-house accelerators a hyperscaler offers (TPU-class)."""

    generation: str
    chips: NonNegInt
    monthly_build: NonNeg = Field(0.0, description="chips built a month at the target utilisation (up to twice as many when sold out)")
    price_discount: Share = Field(0.4, description="price per inference unit below the provider's GPU offer")


class ProviderSpec(Spec):
    """A GPU cloud: a neocloud or a hyperscaler; the differences are these parameters."""

    name: str
    kind: Literal["neocloud", "hyperscaler"]
    count: PosInt = Field(1, description="copies generated (synthetic scenarios)")
    size_spread: NonNeg = Field(0.0, description="lognormal spread of copies' sizes")
    public: bool = False
    active_from: YearMonth | None = None
    cash: NonNeg
    debt: NonNeg = 0.0
    debt_rate: NonNeg | None = None
    power_infra: NonNeg = Field(0.0, description="book value of data centres at the start, $")
    fleet: list[CohortSpec] = Field(default_factory=list)
    powered_mw: NonNeg
    mw_pipeline: list[PowerBuildSpec] = Field(default_factory=list)
    mw_build_cost: NonNeg = Field(12e6, description="$ per MW built")
    mw_lead_months: NonNegInt = 18
    pue: Annotated[float, Field(ge=1.0, le=3.0)] = 1.3
    power_price_kwh: NonNeg = 0.07
    opex_per_gpu_hour: NonNeg = 0.25
    sga_per_month: NonNeg = 3e7
    depreciation_years: Pos = 6.0
    power_infra_years: Pos = 20.0
    trust: Share = Field(0.5, description="enterprise trust, compliance and bundling")
    rival_silicon: bool = False
    resells: bool = Field(False, description="contracts other providers' capacity to resell")
    resale_utilisation: Share = Field(0.95, description="buys capacity when projected utilisation is above this")
    pricing: PricingSpec = Field(default_factory=PricingSpec)
    finance: FinanceSpec = Field(default_factory=FinanceSpec)
    capacity: CapacitySpec = Field(default_factory=CapacitySpec)
    custom_silicon: CustomSiliconSpec | None = None
    max_contract_gpus: NonNeg = Field(2e5, description="largest single contract it will take, GPUs")
    contract_margin: NonNeg | None = Field(None, description="reservation margin over full cost in negotiations (default: negotiation.min_margin)")
    purchases: list[OpeningContractSpec] = Field(default_factory=list, description="capacity it bought from other providers to resell")
    shares_outstanding: Pos = 5e8
    ev_revenue_multiple: Pos = 8.0
    sentiment: Pos = 1.0


# --------------------------------------------------------------------------- buyers


class TrainingSpec(Spec):
    """A lab's frontier training programme: discrete projects."""

    first_start: YearMonth
    cadence_months: PosInt = 9
    gpus: PosInt
    duration_months: PosInt = 4
    growth: NonNeg = Field(1.6, description="size multiplier from one project to the next")
    lead_months: NonNegInt = 9
    term_months: PosInt = 48
    contract_share: Share = Field(1.0, description="share of a project it tries to contract ahead")
    current_gpus: NonNegInt = Field(0, description="GPUs of a project already running at the start")
    current_generation: str | None = None
    current_months_left: NonNegInt = 0


class OpeningContractSpec(Spec):
    """A contract signed before the scenario starts."""

    seller: str
    generation: str
    gpus: PosInt
    start: YearMonth
    term_months: PosInt
    price_per_gpu_hour: Pos
    purpose: Literal["training", "inference"] = "training"


class PlannedRequestSpec(Spec):
    """A capacity request the buyer issues at a given month (a scripted deal in the making)."""

    month: YearMonth
    generation: str
    gpus: PosInt
    start: YearMonth
    term_months: PosInt
    purpose: Literal["training", "inference"] = "training"


class BuyerSpec(Spec):
    """An AI lab or an enterprise segment (``count`` > 1 generates a population)."""

    name: str
    kind: Literal["lab", "enterprise"]
    count: PosInt = 1
    size_spread: NonNeg = 0.0
    investment_grade: bool = False
    cash: NonNeg
    funding_per_month: NonNeg = 0.0
    revenue_per_month: NonNeg = 0.0
    revenue_growth: float = Field(0.03, ge=-0.5, le=1.0)
    inference_demand: NonNeg = Field(description="H100-equivalent GPU-hours per month at the start")
    inference_growth: float = Field(0.04, ge=-0.5, le=1.0)
    price_elasticity: NonNeg = 0.6
    reference_price: Pos = Field(2.5, description="$ per H100-equivalent hour the demand is quoted at")
    max_price_multiple: Pos = Field(2.5, description="buys no short-term offer above this multiple of its reference price")
    spot_fraction: Share = 0.15
    trust_weight: NonNeg = 0.2
    switching_cost: NonNeg = Field(0.4, description="CUDA lock-in as a share of the price of custom silicon")
    switching_erosion: Share = Field(0.02, description="monthly erosion of the switching cost")
    reserve_share: Share = Field(0.0, description="share of inference demand it locks in by contract")
    max_share_per_provider: Share = 0.6
    ceiling_markup: NonNeg = Field(0.4, description="ceiling price over the market's reserved price")
    captive_to: str | None = None
    in_house_share: Share = 0.0
    training: TrainingSpec | None = None
    contracts: list[OpeningContractSpec] = Field(default_factory=list)
    requests: list[PlannedRequestSpec] = Field(default_factory=list)


# --------------------------------------------------------------------------- events


class _Event(Spec):
    month: YearMonth
    note: str = ""


class ComputeBusinessLaunch(_Event):
    kind: Literal["compute_business_launch"]
    provider: str = Field(description="the provider that starts selling")
    buyer: str | None = Field(None, description="its own buying arm, which brings work in-house")
    in_house_share: Share = 0.3


class ComponentCostRise(_Event):
    kind: Literal["component_cost_rise"]
    pct: Annotated[float, Field(gt=-1.0)]


class GenerationShip(_Event):
    kind: Literal["generation_ship"]
    generation: str
    output_multiplier: Pos = 1.0


class ScalingPlateau(_Event):
    kind: Literal["scaling_plateau"]
    growth: NonNeg = 1.0


class CustomSiliconCut(_Event):
    kind: Literal["custom_silicon_cut"]
    pct: Share


class RateChange(_Event):
    kind: Literal["rate_change"]
    bps: float
    spread_bps: float = 0.0
    ltv_cut: Share = 0.0


class PowerShortage(_Event):
    kind: Literal["power_shortage"]
    extra_lead_months: NonNegInt = 6
    cost_pct: NonNeg = 0.3


class CustomerCancel(_Event):
    kind: Literal["customer_cancel"]
    buyer: str
    seller: str | None = None
    in_house_share: Share = 0.0
    exclude_months: NonNegInt = Field(12, description="months the buyer will not contract with the seller(s) again")


class AllocationChange(_Event):
    kind: Literal["allocation_change"]
    policy: Literal["pro_rata", "partner_priority", "no_rival_silicon"]


class SupplyGrowth(_Event):
    kind: Literal["supply_growth"]
    pct: Annotated[float, Field(gt=-1.0)]


EventSpec = Annotated[
    ComputeBusinessLaunch
    | ComponentCostRise
    | GenerationShip
    | ScalingPlateau
    | CustomSiliconCut
    | RateChange
    | PowerShortage
    | CustomerCancel
    | AllocationChange
    | SupplyGrowth,
    Field(discriminator="kind"),
]
EVENT_KINDS = (
    "compute_business_launch",
    "component_cost_rise",
    "generation_ship",
    "scaling_plateau",
    "custom_silicon_cut",
    "rate_change",
    "power_shortage",
    "customer_cancel",
    "allocation_change",
    "supply_growth",
)


ProviderSpec.model_rebuild()


# --------------------------------------------------------------------------- the scenario


class Scenario(Spec):
    """A whole scenario file."""

    name: str
    title: str
    summary: str = ""
    description: str = ""
    question: str = ""
    market: MarketSpec = Field(default_factory=MarketSpec)
    negotiation: NegotiationSpec = Field(default_factory=NegotiationSpec)
    nvidia: NvidiaSpec = Field(default_factory=NvidiaSpec)
    generations: list[GenerationSpec] = Field(min_length=1)
    providers: list[ProviderSpec] = Field(min_length=1)
    buyers: list[BuyerSpec] = Field(min_length=1)
    events: list[EventSpec] = Field(default_factory=list)

    @property
    def months(self) -> int:
        return self.market.months

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        gens = {g.name for g in self.generations}
        provs = {p.name for p in self.providers}
        buyers = {b.name for b in self.buyers}
        if len(gens) != len(self.generations):
            raise ValueError("generations: names must be unique")
        if len(provs) != len(self.providers):
            raise ValueError("providers: names must be unique")
        if len(buyers) != len(self.buyers):
            raise ValueError("buyers: names must be unique")
        if provs & buyers:
            raise ValueError(f"a name is both a provider and a buyer: {sorted(provs & buyers)[0]}")
        parties = provs | buyers
        for p in self.providers:
            i = _label(p.name)
            for j, c in enumerate(p.purchases):
                _known(c.seller, provs - {p.name}, f"providers.{i}.purchases.{j}.seller")
                _known(c.generation, gens, f"providers.{i}.purchases.{j}.generation")
            for j, c in enumerate(p.fleet):
                _known(c.generation, gens, f"providers.{i}.fleet.{j}.generation")
            if p.custom_silicon:
                _known(p.custom_silicon.generation, gens, f"providers.{i}.custom_silicon.generation")
            for g in p.pricing.initial:
                _known(g, gens, f"providers.{i}.pricing.initial")
            if p.capacity.generation != "newest":
                _known(p.capacity.generation, gens, f"providers.{i}.capacity.generation")
        for b in self.buyers:
            i = _label(b.name)
            if b.captive_to is not None:
                _known(b.captive_to, provs, f"buyers.{i}.captive_to")
            for j, c in enumerate(b.contracts):
                _known(c.seller, provs, f"buyers.{i}.contracts.{j}.seller")
                _known(c.generation, gens, f"buyers.{i}.contracts.{j}.generation")
            for j, r in enumerate(b.requests):
                _known(r.generation, gens, f"buyers.{i}.requests.{j}.generation")
            if b.training and b.training.current_gpus:
                if b.training.current_generation is None:
                    raise ValueError(f"buyers.{i}.training.current_generation: required when current_gpus > 0")
                _known(b.training.current_generation, gens, f"buyers.{i}.training.current_generation")
        for j, s in enumerate(self.nvidia.backstops):
            _known(s.provider, provs, f"nvidia.backstops.{j}.provider")
        for name in self.nvidia.equity_stakes:
            _known(name, provs, "nvidia.equity_stakes")
        for name in self.nvidia.partners:
            _known(name, provs, "nvidia.partners")
        for i, e in enumerate(self.events):
            if month_index(e.month, self.market.start) < 0:
                raise ValueError(f"events.{i}.month: {e.month} is before the scenario starts ({self.market.start})")
            for attr, pool in (("provider", provs), ("buyer", parties), ("seller", provs),
                               ("generation", gens)):
                v = getattr(e, attr, None)
                if v is not None:
                    _known(v, pool, f"events.{i}.{attr}")
        if not any(g.vendor == "nvidia" for g in self.generations):
            raise ValueError("generations: at least one NVIDIA generation is needed")
        return self


def _label(name: str) -> str:
    """How a named list item appears in a field path (and in ``--set``)."""
    return name if name and "." not in name else repr(name)


def _known(value: str, pool: set[str], path: str) -> None:
    if value not in pool:
        raise ValueError(f"{path}: unknown name {value!r} (expected one of {', '.join(sorted(pool))})")


# --------------------------------------------------------------------------- loading

SCENARIO_DIR = Path(os.environ.get("GPUMARKET_SCENARIOS", Path(__file__).resolve().parent.parent / "scenarios"))


def bundled_paths() -> dict[str, Path]:
    """Bundled scenario names and their files."""
    if not SCENARIO_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.toml"))}


def resolve(ref: str) -> Path:
    """A bundled name or a path to the file it names."""
    bundled = bundled_paths()
    if ref in bundled:
        return bundled[ref]
    path = Path(ref)
    if path.suffix == ".toml" or os.sep in ref or path.exists():
        if not path.is_file():
            raise UserError(f"{ref}: no such scenario file")
        return path
    names = ", ".join(bundled) or "none found"
    raise UserError(f"{ref}: unknown scenario (bundled: {names}; or give a path to a .toml file)")


def read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None


def _fmt_loc(loc: Sequence, data=None) -> str:
    """A dotted field path; list items that have a name are shown by it (``providers.CoreWeave.cash``),
    which is also how ``--set`` addresses them."""
    parts = []
    node = data
    for p in loc:
        if p in EVENT_KINDS:  # pydantic puts the discriminator tag into union members' locations
            continue
        label = str(p)
        if isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
            name = node.get("name") if isinstance(node, dict) else None
            if isinstance(name, str) and name and "." not in name:
                label = name
        elif isinstance(node, dict):
            node = node.get(p)
        else:
            node = None
        parts.append(label)
    return ".".join(parts) or "(top level)"


def validate_dict(data: Mapping, source: str) -> Scenario:
    """Validate raw data; a failure becomes one line: source, field path, what was expected."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _fmt_loc(err["loc"], data)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "union_tag_not_found":
            msg = f"missing 'kind' (expected one of {', '.join(EVENT_KINDS)})"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown kind {err['input'].get('kind')!r} (expected one of {', '.join(EVENT_KINDS)})" if isinstance(
                err.get("input"), dict) else f"unknown kind (expected one of {', '.join(EVENT_KINDS)})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        if err["type"] == "value_error" and loc == "(top level)":
            return _raise(f"{source}: {msg.removeprefix('Value error, ')}{more}")
        return _raise(f"{source}: {loc}: {msg.removeprefix('Value error, ')}{more}")


def _raise(message: str):
    raise UserError(message)


def parse_value(text: str):
    """An override's value: TOML syntax where it parses (numbers, booleans, arrays), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _find_named(items: list, key: str):
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == key:
            return i
    return None


def apply_override(data: dict, path: str, value, source: str) -> None:
    """Set ``value`` at dotted ``path`` (list items by index or by their ``name``) in ``data``."""
    if not path or any(not part for part in path.split(".")):
        raise UserError(f"--set {path}: empty key path")
    parts = path.split(".")
    node = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            idx = int(part) if part.isdigit() else _find_named(node, part)
            if idx is None or idx >= len(node):
                raise UserError(f"{source}: --set {path}: no item {part!r} at {where}")
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if part not in node:
                    # a section left to its defaults: create it so validation can judge the key
                    node[part] = {}
                node = node[part]
        else:
            raise UserError(f"{source}: --set {path}: {'.'.join(parts[:depth])} is a value, not a section")


def load_scenario(ref: str, overrides: Sequence[str] | Mapping[str, object] = ()) -> Scenario:
    """Load a bundled scenario or TOML file, apply ``--set`` overrides and validate it all."""
    path = resolve(ref)
    data = read_toml(path)
    return apply_and_validate(data, overrides, str(path))


def apply_and_validate(data: dict, overrides: Sequence[str] | Mapping[str, object], source: str) -> Scenario:
    data = copy.deepcopy(data)
    items: list[tuple[str, object]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for text in overrides:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise UserError(f"--set {text}: expected KEY=VALUE")
            items.append((key.strip(), parse_value(value.strip())))
    for key, value in items:
        apply_override(data, key, value, source)
    label = source + (" with --set " + ", ".join(k for k, _ in items) if items else "")
    return validate_dict(data, label)


def list_scenarios() -> list[Scenario]:
    """The bundled scenarios, validated."""
    return [load_scenario(str(p)) for p in bundled_paths().values()]
