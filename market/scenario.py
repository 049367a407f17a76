"""The scenario schema (pydantic) and the loading of scenario files, bundled names and overrides.

Every field is a parameter of a rule in the engine; ``docs/model.md`` says which rule uses which.
Errors a user can cause are raised as :class:`market.errors.UserError` with one line naming the
file, the field path and what was expected.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from market.errors import UserError, shown

# Every number has a stated range, wide enough for any sensible scenario and narrow enough that a
# run stays finite; every float is finite (no inf, no NaN) and booleans are not numbers (strict).
YearMonth = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: money in US dollars: cash, debt, costs per month ($10 trillion at most)
Money = Annotated[float, Field(ge=0.0, le=1e13)]
#: $ per GPU (or per chip, per MW's share): at most $10 million
UnitCost = Annotated[float, Field(gt=0.0, le=1e7)]
#: $ per GPU-hour
Price = Annotated[float, Field(gt=0.0, le=1e3)]
#: an annual interest rate or spread
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
#: markups, weights, sensitivities and multipliers
Factor = Annotated[float, Field(ge=0.0, le=100.0)]
PosFactor = Annotated[float, Field(ge=1e-6, le=100.0)]
Gpus = Annotated[int, Field(ge=0, le=100_000_000)]
PosGpus = Annotated[int, Field(ge=1, le=100_000_000)]
Months = Annotated[int, Field(ge=0, le=1200)]
PosMonths = Annotated[int, Field(ge=1, le=1200)]
Years = Annotated[float, Field(ge=0.1, le=100.0)]
Copies = Annotated[int, Field(ge=1, le=1_000_000)]
#: a monthly growth rate
Growth = Annotated[float, Field(ge=-0.5, le=1.0)]
#: a name or a one-line text shown in a terminal: no control characters
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Line = Annotated[str, Field(max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$")]
#: several lines of text (newlines and tabs allowed, other control characters not)
Paragraphs = Annotated[str, Field(max_length=20_000, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")]


class Spec(BaseModel):
    """Base of every scenario section: unknown keys are errors, every float is finite, a boolean
    is not a number and a number is not a string (strict), assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


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

    name: Name
    vendor: Literal["nvidia", "custom"] = "nvidia"
    launch: YearMonth
    list_price: UnitCost = Field(description="NVIDIA list price per GPU, $ (custom: build cost per chip)")
    unit_cost: UnitCost = Field(description="manufacturing cost per GPU, $ (NVIDIA's cost of goods)")
    system_cost: Annotated[float, Field(ge=0.0, le=1e7)] = Field(0.0, description="servers, network and install per GPU, $")
    training_perf: Annotated[float, Field(ge=1e-3, le=1e3)] = Field(description="training throughput relative to H100 = 1")
    inference_perf: Annotated[float, Field(ge=1e-3, le=1e3)] = Field(description="inference tokens per GPU-hour relative to H100 = 1")
    power_kw: Annotated[float, Field(ge=1e-3, le=100.0)] = Field(description="power per GPU at the wall, kW")
    memory_gb: Annotated[int, Field(ge=1, le=1_000_000)] = Field(description="memory per GPU, GB (descriptive: shown, not used by a rule)")
    monthly_output: Annotated[float, Field(ge=0.0, le=1e8)] = Field(0.0, description="units NVIDIA makes per month at full ramp")
    output_growth: float = Field(0.0, ge=-0.5, le=0.5, description="monthly growth of output")
    ramp_months: Months = 6
    end_of_production: YearMonth | None = None
    useful_life_months: PosMonths = Field(72, description="months a GPU of this generation stays in service after it was first installed; then it retires (leaves the fleet, its power freed, any book value left written off)")


# --------------------------------------------------------------------------- market-wide


class MarketSpec(Spec):
    """Market-wide parameters: the clock, rates, and the short-term market's choice rule."""

    start: YearMonth = "2026-01"
    months: Annotated[int, Field(ge=1, le=100_000)] = Field(36, description="length of the run (at most 600 without --allow-large)")
    hours_per_month: Annotated[float, Field(ge=1.0, le=744.0)] = 730.0
    base_rate: Rate = Field(0.043, description="annual base rate (SOFR-like)")
    logit_beta: PosFactor = Field(6.0, description="price sensitivity of buyers' provider choice")
    trust_scale: Factor = Field(1.0, description="weight of provider trust in the choice, per unit of buyer trust weight")
    consider: Annotated[int, Field(ge=1, le=1000)] = Field(12, description="offers each buyer considers in the short-term market")
    clearing_rounds: Annotated[int, Field(ge=1, le=1000)] = Field(10, description="at most this many re-allocation rounds of unmet demand (stops early when no progress)")
    economic_life_months: PosMonths = Field(48, description="life used to value a GPU for collateral")
    residual_value: Share = Field(0.2, description="market value share of a GPU at end of economic life")
    obsolescence: Share = Field(0.25, description="market value lost by a GPU generation per newer NVIDIA generation shipped")
    trust_price: Annotated[float, Field(ge=0.0, le=1e3)] = Field(0.5, description="$ per GPU-hour a buyer of trust weight 1 gives a provider of full trust")
    sentiment_persistence: Share = Field(0.8, description="share of investor sentiment's gap from 1 that lasts to the next month")
    contract_news: Factor = Field(0.2, description="sentiment news of a contract signed: this x its value over the seller's market value")
    contract_news_cap: Share = Field(0.1, description="the most one signature's news raises sentiment")
    contract_loss_news: Factor = Field(0.5, description="sentiment news of a contract lost (cancelled or defaulted): this x the value it had left over the seller's market value (bad news moves a share price more than good)")
    contract_loss_cap: Share = Field(0.2, description="the most one lost contract's news lowers sentiment")
    expectation_speed: Share = Field(0.2, description="share of the gap between the growth and margin investors observe and what they expected that they close each month, in valuations")
    equity_risk_premium: Rate = Field(0.05, description="return investors ask of equities above the base rate (times a company's beta)")
    terminal_growth: Annotated[float, Field(ge=-0.05, le=0.1)] = Field(0.03, description="revenue growth of a company in the long run, in valuations")
    leverage_premium: Rate = Field(0.01, description="cost of equity added per turn of debt / EBITDA above 3")
    backlog_discount: Rate = Field(0.02, description="cost of equity taken off for a year of revenue contracted with investment-grade customers")
    idle_power_draw: Share = Field(0.3, description="share of full power a powered but idle GPU still draws")
    delay_penalty: Factor = Field(0.03, description="a buyer's penalty on an offer per month of later start, as a share of price")
    second_life_premium: PosFactor = Field(1.4, description="how much more per unit of inference work an older generation can charge than the cheapest newer one")
    tax_rate: Share = Field(0.21, description="income tax on a company's positive pre-tax profit, after the losses it carries forward")


class NegotiationSpec(Spec):
    """Rounds, concession and the terms of take-or-pay contracts."""

    rounds: Annotated[int, Field(ge=1, le=100)] = 4
    ask_markup: Factor = Field(0.6, description="seller's opening ask above its reservation price")
    bid_discount: Share = Field(0.35, description="buyer's opening bid below its ceiling")
    tightness_weight: Factor = Field(1.0, description="how strongly market tightness slows seller concession")
    outside_option_weight: Factor = Field(0.5, description="how strongly rival offers slow buyer concession")
    min_margin: Factor = Field(0.15, description="seller's reservation margin over its full cost")
    prepay_share: Share = 0.15
    late_grace_months: Months = 3
    penalty_rate: Factor = Field(0.10, description="share of the undelivered fee a late seller pays")
    termination_fee: Share = Field(0.3, description="share of remaining value paid when a buyer cancels at will")
    award_max_sellers: Annotated[int, Field(ge=1, le=1000)] = Field(
        6, description="the most offers a buyer splits one request over at a time (labs spread a deal over a handful of clouds, not over every one)")
    award_min_share: Share = Field(0.05, description="an offer whose weight is under this share of the total gets no share of the request (unless the rest cannot fill it)")
    max_request_age: PosMonths = Field(3, description="months a request stays open before it lapses")
    bid_window: Months = Field(1, description="months a request is open for offers before sellers answer it (a human player answers in its turn)")
    spot_risk_premium: Factor = Field(0.3, description="a buyer's premium over the short-term (spot) price for capacity not guaranteed, in its reservation price")
    training_delay_cost: Factor = Field(0.1, description="a training buyer's cost of waiting for the next generation, share of price per month")
    inference_delay_cost: Factor = Field(0.04, description="an inference buyer's cost of waiting for the next generation, share of price per month")
    build_pue: Annotated[float, Field(ge=1.0, le=5.0)] = Field(1.3, description="PUE of a buyer's own data centre (building in-house)")
    build_power_price_kwh: Annotated[float, Field(ge=0.0, le=100.0)] = Field(0.07, description="$ per kWh a buyer building in-house pays")
    build_opex_per_gpu_hour: Annotated[float, Field(ge=0.0, le=1e3)] = Field(0.25, description="site operations per GPU-hour of a buyer building in-house")
    build_site_per_kw_month: Annotated[float, Field(ge=0.0, le=1e4)] = Field(130.0, description="the data centre a buyer building in-house needs, $ per kW of GPUs a month (a shell's capital recovery or colocation; DOMAIN.md: colocation $130-250)")


class BackstopSpec(Spec):
    """NVIDIA's commitment to buy a provider's unused capacity."""

    provider: str
    cap_per_month: Money = Field(description="$ per month at most")
    price_share: Share = Field(0.8, description="share of the provider's reserved price NVIDIA pays")
    until: YearMonth


class InvestmentSpec(Spec):
    """NVIDIA buys new shares of a provider in a month, at the provider's market value then."""

    provider: str
    month: YearMonth
    amount: Money = Field(description="cash NVIDIA pays in, $")


class ValuationSpec(Spec):
    """How investors value a public company (docs/model.md, 7.14): discounted free cash flow over
    a growth that fades."""

    expected_growth: Annotated[float, Field(ge=-0.9, le=10.0)] = Field(0.3, description="revenue growth investors expect before a year of history shows it (a year's, as a share)")
    growth_fade: Share = Field(0.7, description="share of the growth (and margin gap) above the long run that lasts to the next year")
    target_margin: Annotated[float, Field(ge=-1.0, le=1.0)] = Field(0.2, description="long-run operating margin after depreciation")
    return_on_capital: Annotated[float, Field(gt=0.0, le=10.0)] = Field(0.15, description="return on the capital growth needs: growth / this of the after-tax profit is reinvested")
    beta: Annotated[float, Field(ge=0.0, le=10.0)] = Field(1.5, description="sensitivity to the market: cost of equity = base rate + beta x equity risk premium")


class NvidiaSpec(Spec):
    """NVIDIA: supply, allocation, pricing and its own books."""

    name: Name = "NVIDIA"
    allocation: Literal["pro_rata", "partner_priority", "no_rival_silicon"] = "pro_rata"
    partner_weight: PosFactor = Field(2.0, description="weight multiplier of favoured buyers")
    seniority_weight: Annotated[float, Field(ge=0.0, le=1000.0)] = Field(0.0, description="an order's weight in the allocation grows by this for each month it has waited (0: every open order alike, pro rata; higher: nearer first come, first served)")
    partners: list[str] = Field(default_factory=list)
    lead_time_months: Months = Field(3, description="months from shipment to installation")
    price_sensitivity: Factor = Field(0.05, description="price change per month of backlog above target")
    target_backlog_months: Annotated[float, Field(ge=0.0, le=1200.0)] = 3.0
    price_floor: Annotated[float, Field(ge=0.01, le=100.0)] = 0.85
    price_cap: Annotated[float, Field(ge=0.01, le=100.0)] = 1.25
    opex_per_month: Money = 1.5e9
    rd_share: Share = Field(0.0, description="research and development, share of the month's revenue, on top of opex_per_month")
    tax_rate: Share | None = Field(None, description="its effective income-tax rate (default: market.tax_rate)")
    capital_return_share: Share = Field(0.0, description="share of the month's net income returned to shareholders (buybacks and dividends) while cash is above min_cash")
    min_cash: Money = Field(0.0, description="cash below which nothing is returned to shareholders, $")
    cash: Money = 6.0e10
    rest_of_world_share: Share = Field(0.8, description="share of output the rest of the world keeps on order")
    rest_of_world_backlog_months: Annotated[float, Field(ge=0.0, le=1200.0)] = 3.0
    equity_stakes: dict[str, Share] = Field(default_factory=dict)
    backstops: list[BackstopSpec] = Field(default_factory=list)
    investments: list[InvestmentSpec] = Field(default_factory=list, description="new shares NVIDIA buys during the run")
    valuation: ValuationSpec = Field(default_factory=ValuationSpec)


# --------------------------------------------------------------------------- providers


class DebtTrancheSpec(Spec):
    """A tranche of a provider's opening debt."""

    amount: Money
    coupon: Rate | None = Field(None, description="fixed annual coupon, kept until refinanced (none: floating at the base rate plus spread)")
    spread: Rate | None = Field(None, description="floating spread over the base rate (default: finance.spread)")
    amort_months: Annotated[int, Field(ge=0, le=1200)] | None = Field(None, description="level repayment over these months; 0: repaid whole at `matures` (default: finance.amort_months)")
    matures: YearMonth | None = Field(None, description="month a tranche with amort_months = 0 falls due (refinanced at the rate of the day as far as lenders allow)")

    @model_validator(mode="after")
    def _bullet_has_maturity(self) -> DebtTrancheSpec:
        if self.amort_months == 0 and self.matures is None:
            raise ValueError("a tranche repaid at maturity (amort_months = 0) needs `matures`")
        return self


class CohortSpec(Spec):
    """GPUs a provider already owns at the start."""

    generation: str
    gpus: Gpus
    installed: YearMonth
    unit_cost: UnitCost = Field(description="all-in capital cost per GPU, $")


class PowerBuildSpec(Spec):
    ready: YearMonth
    mw: Annotated[float, Field(ge=0.0, le=1e6)]


class PricingSpec(Spec):
    """A provider's price-setting rule."""

    strategy: Literal["cost_plus", "undercut", "utilisation", "sticky", "premium"] = "cost_plus"
    markup: Factor = Field(0.9, description="cost-plus markup over full cost per GPU-hour")
    undercut: Share = Field(0.03, description="gap below the cheapest rival (undercut)")
    target_utilisation: Share = 0.85
    step: Factor = Field(0.5, description="price change per unit of utilisation gap (utilisation)")
    min_margin: float = Field(0.05, ge=-0.5, le=100.0, description="floor over cash cost per GPU-hour")
    sticky_band: Share = Field(0.25, description="sticky: reprice only when the target moved this much")
    premium: Factor = Field(0.5, description="premium: the list's premium over the cheapest rival's price (trust, integration)")
    adjust: Share = Field(0.15, description="premium: share of the gap to that target the list closes each month")
    max_cut: Share = Field(1.0, description="the on-demand list falls at most this share in a month, whatever its strategy and caps (1: no limit)")
    max_markup: Factor = Field(2.5, description="no on-demand price above full cost x (1 + max_markup), whatever the strategy")
    scarcity_speed: Factor = Field(0.0, description="monthly move of the scarcity markup on the strategy's price per unit of the market's unmet share of demand (at or above target utilisation) or of the utilisation gap (below it)")
    scarcity_cap: Factor = Field(0.3, description="highest scarcity markup")
    scarcity_floor: Share = Field(0.3, description="largest scarcity discount")
    reserved_discount: Share = 0.2
    spot_discount: Share = 0.45
    spot_idle_sensitivity: Factor = Field(0.4, description="extra spot discount per unit of idle share")
    initial: dict[str, Price] = Field(default_factory=dict, description="on-demand $/GPU-hour at start")


class FinanceSpec(Spec):
    """A provider's borrowing terms, covenants and equity."""

    spread: Rate = 0.045
    ig_discount: Rate = Field(0.02, description="spread cut at a backlog fully from investment-grade buyers")
    leverage_penalty: Rate = Field(0.005, description="spread added per turn of leverage above 3x")
    ltv: Share = Field(0.7, description="debt at most this share of the fleet's market value")
    contract_ltv: Share = Field(0.4, description="and this share of investment-grade take-or-pay backlog")
    non_ig_weight: Share = Field(0.5, description="weight of backlog from buyers below investment grade in that collateral")
    amort_months: PosMonths = 60
    max_leverage: Annotated[float, Field(ge=1e-3, le=1000.0)] = Field(7.0, description="covenant: debt / annualised EBITDA")
    min_dscr: Factor = Field(1.1, description="covenant: EBITDA / debt service")
    min_cash_months: Annotated[float, Field(ge=0.0, le=1200.0)] = Field(2.0, description="cash buffer in months of operating cost")
    can_raise_equity: bool = True
    parent_funded: bool = Field(False, description="a segment of a larger company (a hyperscaler's cloud): its parent pays in what its spending needs, instead of lenders and new shares; so it has no segment debt, covenant test or default")
    restructure_spread: Rate = Field(0.02, description="spread added to every loan at a first covenant breach")
    restructure_months: Months = Field(6, description="months of halved principal repayments after restructuring")
    fire_sale_share: Share = Field(0.2, description="share of the fleet sold in a fire sale")
    fire_sale_discount: Share = Field(0.4, description="discount to market value in a fire sale")


class CapacitySpec(Spec):
    """A provider's capacity plan: how many GPUs and MW it wants."""

    growth_target: Annotated[float, Field(ge=0.0, le=1.0)] = Field(0.03, description="monthly growth of short-term capacity it plans for")
    target_utilisation: Share = 0.85
    max_order_share: Share = Field(0.3, description="orders per month at most this share of the fleet")
    short_term_share: Share = Field(1.0, description="growth orders keep the GPUs without a contract within this share of the fleet coming (1: no limit; a contract-first provider builds for its backlog)")
    mw_buffer: Annotated[float, Field(ge=0.0, le=10.0)] = Field(0.1, description="spare powered MW kept ahead of the fleet")
    generation: str = Field("newest", description="'newest' or a catalogue name")
    order_ahead_months: PosMonths = Field(10, description="orders GPUs for contracts starting within this many months")
    power_overbook: Annotated[float, Field(ge=0.0, le=10.0)] = Field(0.0, description="growth orders may exceed the MW ready by the GPUs' arrival by this share of it (0: no growth order waits dark for power)")


class CustomSiliconSpec(Spec):
    """In-house accelerators a hyperscaler offers (TPU-class)."""

    generation: str
    chips: Gpus
    monthly_build: Annotated[float, Field(ge=0.0, le=1e8)] = Field(0.0, description="chips built a month at the target utilisation (up to twice as many when sold out)")
    price_discount: Share = Field(0.4, description="price per inference unit below the provider's GPU offer")


class ProviderSpec(Spec):
    """A GPU cloud: a neocloud or a hyperscaler; the differences are these parameters."""

    name: Name
    kind: Literal["neocloud", "hyperscaler"]
    count: Copies = Field(1, description="copies generated (synthetic scenarios)")
    size_spread: Annotated[float, Field(ge=0.0, le=3.0)] = Field(0.0, description="lognormal spread of copies' sizes")
    public: bool = False
    active_from: YearMonth | None = None
    cash: Money
    debt: Money = 0.0
    debt_rate: Rate | None = None
    debt_tranches: list[DebtTrancheSpec] = Field(default_factory=list, description="opening debt beyond `debt`: notes, converts, term loans")
    power_infra: Money = Field(0.0, description="book value of data centres at the start, $")
    fleet: list[CohortSpec] = Field(default_factory=list)
    powered_mw: Annotated[float, Field(ge=0.0, le=1e6)]
    mw_pipeline: list[PowerBuildSpec] = Field(default_factory=list)
    mw_build_cost: Annotated[float, Field(ge=0.0, le=1e10)] = Field(12e6, description="$ per MW built")
    mw_lead_months: Months = 18
    pue: Annotated[float, Field(ge=1.0, le=3.0)] = 1.3
    power_price_kwh: Annotated[float, Field(ge=0.0, le=100.0)] = 0.07
    opex_per_gpu_hour: Annotated[float, Field(ge=0.0, le=1e3)] = 0.25
    sga_per_month: Money = 3e7
    sga_share: Share = Field(0.0, description="SG&A that grows with the company: share of the month's revenue, on top of sga_per_month")
    sbc_share: Share = Field(0.0, description="stock-based compensation, share of the month's revenue (paid in new shares: no cash)")
    lease_per_kw_month: Annotated[float, Field(ge=0.0, le=1e4)] = Field(0.0, description="data-centre lease or colocation, $ per kW of powered capacity a month: owed whether the GPUs are busy or idle, and part of the full cost its list prices recover")
    tax_losses: Money = Field(0.0, description="tax losses carried forward at the start, $")
    depreciation_years: Years = Field(6.0, description="book life of its GPUs (straight-line depreciation); an accounting choice: it moves earnings, book value and valuation, not prices, which recover capital over the generation's useful_life_months")
    power_infra_years: Years = 20.0
    trust: Share = Field(0.5, description="enterprise trust, compliance and bundling")
    rival_silicon: bool = False
    resells: bool = Field(False, description="contracts other providers' capacity to resell")
    resale_utilisation: Share = Field(0.95, description="buys capacity when projected utilisation is above this")
    pricing: PricingSpec = Field(default_factory=PricingSpec)
    finance: FinanceSpec = Field(default_factory=FinanceSpec)
    capacity: CapacitySpec = Field(default_factory=CapacitySpec)
    custom_silicon: CustomSiliconSpec | None = None
    max_contract_gpus: Annotated[float, Field(ge=0.0, le=1e9)] = Field(2e5, description="largest single contract it will take, GPUs")
    max_customer_share: Share = Field(
        1.0, description="most of its fleet (GPUs installed, coming and on order, with the offer's own) one buyer's "
        "live contracts may hold: it offers a buyer no more than keeps it within this (negotiation.customer_room); "
        "1: no limit")
    contract_margin: Factor | None = Field(None, description="reservation margin over full cost in negotiations (default: negotiation.min_margin)")
    purchases: list[OpeningContractSpec] = Field(default_factory=list, description="capacity it bought from other providers to resell")
    shares_outstanding: Annotated[float, Field(ge=1.0, le=1e13)] = 5e8
    valuation: ValuationSpec = Field(default_factory=ValuationSpec)
    sentiment: Annotated[float, Field(ge=1e-3, le=100.0)] = 1.0


# --------------------------------------------------------------------------- buyers


class TrainingSpec(Spec):
    """A lab's frontier training programme: discrete projects."""

    first_start: YearMonth
    cadence_months: PosMonths = 9
    gpus: PosGpus
    duration_months: PosMonths = 4
    growth: Annotated[float, Field(ge=0.0, le=10.0)] = Field(1.6, description="size multiplier from one project to the next")
    lead_months: Months = 9
    term_months: PosMonths = 48
    contract_share: Share = Field(1.0, description="share of a project it tries to contract ahead")
    current_gpus: Gpus = Field(0, description="GPUs of a project already running at the start")
    current_generation: str | None = None
    current_months_left: Months = 0
    budget_share: Annotated[float, Field(ge=0.0, le=100.0)] | None = Field(
        None, description="at most this share of its monthly income (funding plus end-user revenue) goes to compute "
        "contract fees; a next project the rest cannot carry shrinks to what it can, or stalls (none: no limit)")


class OpeningContractSpec(Spec):
    """A contract signed before the scenario starts."""

    seller: str
    generation: str
    gpus: PosGpus
    start: YearMonth
    term_months: PosMonths
    price_per_gpu_hour: Price
    purpose: Literal["training", "inference"] = "training"


class PlannedRequestSpec(Spec):
    """A capacity request the buyer issues at a given month (a scripted deal in the making)."""

    month: YearMonth
    generation: str
    gpus: PosGpus
    start: YearMonth
    term_months: PosMonths
    purpose: Literal["training", "inference"] = "training"
    sellers: list[str] = Field(
        default_factory=list, description="the providers it asks (a deal negotiated with them alone); empty: every "
        "provider it knows")


class BuyerSpec(Spec):
    """An AI lab or an enterprise segment (``count`` > 1 generates a population)."""

    name: Name
    kind: Literal["lab", "enterprise"]
    count: Copies = 1
    size_spread: Annotated[float, Field(ge=0.0, le=3.0)] = 0.0
    investment_grade: bool = False
    cash: Money
    funding_per_month: Money = Field(0.0, description="investors' appetite: a funding round raises round_months of this (or of its burn, if more)")
    runway_months: Annotated[float, Field(ge=0.0, le=120.0)] = Field(
        9.0, description="it raises a round when its cash covers fewer months of its net burn than this")
    round_months: Annotated[float, Field(ge=0.0, le=120.0)] = Field(
        18.0, description="a round raises this many months of its funding appetite or burn, whichever is more")
    round_growth_weight: Factor = Field(
        1.0, description="a round's score and size rise this much per unit of its revenue growth over the last year")
    round_min_score: Factor = Field(
        0.5, description="a round fails when its score (investors' appetite x (1 + weight x growth)) is below this")
    round_retry_months: Months = Field(3, description="months after a failed round before it tries again")
    revenue_per_month: Money = 0.0
    revenue_growth: Growth = 0.03
    inference_demand: Annotated[float, Field(ge=0.0, le=1e15)] = Field(description="H100-equivalent GPU-hours per month at the start")
    inference_growth: Growth = Field(0.04, description="monthly growth of adoption at the start")
    adoption_ceiling: Annotated[float, Field(ge=1.0, le=1e6)] | None = Field(
        None, description="adoption saturates at this multiple of its month-0 level (logistic): inference demand and "
        "end-user revenue level off (none: no ceiling, growth compounds)")
    price_elasticity: Annotated[float, Field(ge=0.0, le=10.0)] = 0.6
    reference_price: Annotated[float, Field(ge=0.01, le=1e3)] = Field(2.5, description="$ per H100-equivalent hour the demand is quoted at")
    max_price_multiple: PosFactor = Field(2.5, description="buys no short-term offer above this multiple of its reference price")
    spot_fraction: Share = 0.15
    trust_weight: Factor = 0.2
    switching_cost: Annotated[float, Field(ge=0.0, le=10.0)] = Field(0.4, description="CUDA lock-in as a share of the price of custom silicon")
    switching_erosion: Share = Field(0.02, description="monthly erosion of the switching cost")
    reserve_share: Share = Field(0.0, description="share of inference demand it locks in by contract")
    max_share_per_provider: Share = 0.6
    partners: dict[str, Share] = Field(
        default_factory=dict, description="providers it has a strategic tie with (an investor, an integration), each with "
        "the share of a contract offer's price the tie is worth in its choice of seller (not in the price it pays)")
    award_sensitivity: Factor = Field(
        8.0, description="how sharply it splits a contract request towards its best-scored offers: weight "
        "exp(-s x (score / best - 1)); 0: evenly over every offer, 100: nearly all to the best (negotiation.award)")
    ceiling_markup: Factor = Field(0.4, description="ceiling over its reservation price (the cheapest outside option): willingness to pay for a contract")
    can_build: bool = Field(False, description="may build its own GPUs (an outside option in negotiations)")
    cost_of_capital: Rate = Field(0.10, description="annual cost of capital of a buyer building in-house")
    captive_to: str | None = None
    in_house_share: Share = 0.0
    training: TrainingSpec | None = None
    contracts: list[OpeningContractSpec] = Field(default_factory=list)
    requests: list[PlannedRequestSpec] = Field(default_factory=list)


# --------------------------------------------------------------------------- events


class _Event(Spec):
    month: YearMonth
    note: Line = ""
    name: Name | None = Field(None, description="lets a scenario that inherits this one change or remove the event")


class ComputeBusinessLaunch(_Event):
    kind: Literal["compute_business_launch"]
    provider: str = Field(description="the provider that starts selling")
    buyer: str | None = Field(None, description="its own buying arm, which brings work in-house")
    in_house_share: Share = Field(0.3, description="share of the buying arm's inference and new training contracts brought in-house")
    news_weight: Annotated[float, Field(ge=0.0, le=10.0)] = Field(0.5, description="sentiment shock per unit of a provider's backlog share from the buying arm times in_house_share")


class ComponentCostRise(_Event):
    kind: Literal["component_cost_rise"]
    pct: Annotated[float, Field(gt=-1.0, le=10.0)]


class GenerationShip(_Event):
    kind: Literal["generation_ship"]
    generation: str
    output_multiplier: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0


class GenerationDelay(_Event):
    kind: Literal["generation_delay"]
    generation: str = Field(description="the NVIDIA generation whose launch slips (no effect once it ships)")
    months: Annotated[int, Field(ge=1, le=120)] = Field(6, description="months its launch and end of production slip")
    successors: bool = Field(True, description="the later NVIDIA generations slip with it (the roadmap slips); false: they keep their dates")


class ScalingPlateau(_Event):
    kind: Literal["scaling_plateau"]
    growth: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0


class CustomSiliconCut(_Event):
    kind: Literal["custom_silicon_cut"]
    pct: Share


class RateChange(_Event):
    kind: Literal["rate_change"]
    bps: Annotated[float, Field(ge=-10_000.0, le=10_000.0)] = Field(description="change of the base rate, basis points")
    spread_bps: Annotated[float, Field(ge=-10_000.0, le=10_000.0)] = 0.0
    ltv_cut: Share = 0.0


class PowerShortage(_Event):
    kind: Literal["power_shortage"]
    extra_lead_months: Months = 6
    cost_pct: Annotated[float, Field(ge=0.0, le=10.0)] = 0.3


class CustomerCancel(_Event):
    kind: Literal["customer_cancel"]
    buyer: str
    seller: str | None = None
    in_house_share: Share = 0.0
    exclude_months: Months = Field(12, description="months the buyer will not contract with the seller(s) again")


class AllocationChange(_Event):
    kind: Literal["allocation_change"]
    policy: Literal["pro_rata", "partner_priority", "no_rival_silicon"]


class SupplyGrowth(_Event):
    kind: Literal["supply_growth"]
    pct: Annotated[float, Field(gt=-1.0, le=10.0)]


class DemandBoom(_Event):
    kind: Literal["demand_boom"]
    pct: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        description="inference demand and end-user revenue (their level and their ceiling) rise this share")
    funding_pct: Annotated[float, Field(ge=0.0, le=10.0)] = Field(0.0, description="investors' monthly funding rises this share")
    buyers: list[str] = Field(default_factory=list, description="the buyers it reaches (names of [[buyers]] entries); empty: all")


class DemandBust(_Event):
    kind: Literal["demand_bust"]
    pct: Share = Field(description="inference demand and end-user revenue (their level and their ceiling) fall this share")
    funding_pct: Share = Field(0.0, description="investors' monthly funding falls this share")
    buyers: list[str] = Field(default_factory=list, description="the buyers it reaches (names of [[buyers]] entries); empty: all")


class FundingFreeze(_Event):
    kind: Literal["funding_freeze"]
    months: Annotated[int, Field(ge=1, le=240)] = Field(12, description="months the freeze lasts")
    pct: Share = Field(1.0, description="share of investors' appetite that goes (1: every round fails)")
    buyers: list[str] = Field(default_factory=list, description="the buyers it reaches (names of [[buyers]] entries); empty: all")


class BuyerDefault(_Event):
    kind: Literal["buyer_default"]
    buyers: list[str] = Field(min_length=1, description="the buyers that stop paying (names of [[buyers]] entries)")
    recovery: Share = Field(1.0, description="share of its cash that reaches its compute sellers for the termination fees "
                            "(other creditors rank ahead)")


#: every kind of event, in the order error messages list them
EVENT_TYPES = (ComputeBusinessLaunch, ComponentCostRise, GenerationShip, GenerationDelay, ScalingPlateau,
               CustomSiliconCut, RateChange, PowerShortage, CustomerCancel, AllocationChange, SupplyGrowth, DemandBoom,
               DemandBust, FundingFreeze, BuyerDefault)
EventSpec = Annotated[functools.reduce(operator.or_, EVENT_TYPES), Field(discriminator="kind")]
EVENT_KINDS = tuple(get_args(t.model_fields["kind"].annotation)[0] for t in EVENT_TYPES)


ProviderSpec.model_rebuild()


# --------------------------------------------------------------------------- the scenario


class Scenario(Spec):
    """A whole scenario file."""

    name: Name
    title: Name
    summary: Line = ""
    description: Paragraphs = ""
    question: Line = ""
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
    def _references(self, info: ValidationInfo) -> Scenario:
        """The checks across fields: unique names, every name a section refers to defined, events
        within the run and rates, booms and growth that keep it finite, and the size limits (unless
        ``allow_large`` is in the validation context)."""
        gens, provs, buyers = ({x.name for x in items} for items in (self.generations, self.providers, self.buyers))
        for key, items in (("generations", self.generations), ("providers", self.providers), ("buyers", self.buyers)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.name in seen:
                    raise FieldError((key, i, "name"), f"{key}: the name {item.name!r} is used twice; names must be unique")
                seen.add(item.name)
        for i, b in enumerate(self.buyers):
            if b.name in provs:
                raise FieldError(("buyers", i, "name"), f"a name is both a provider and a buyer: {b.name}")
        _provider_references(self, gens, provs)
        _buyer_references(self, gens, provs)
        for j, s in enumerate(self.nvidia.backstops):
            _known(s.provider, provs, ("nvidia", "backstops", j, "provider"))
        for name in self.nvidia.equity_stakes:
            _known(name, provs, ("nvidia", "equity_stakes"))
        for j, s in enumerate(self.nvidia.investments):
            _known(s.provider, provs, ("nvidia", "investments", j, "provider"))
        for name in self.nvidia.partners:
            _known(name, provs, ("nvidia", "partners"))
        _event_references(self, gens, provs, buyers)
        _rates_stay_positive(self)
        _booms_stay_finite(self)
        named = [e.name for e in self.events if e.name is not None]
        for i, e in enumerate(self.events):
            if e.name is not None and named.count(e.name) > 1:
                raise FieldError(("events", i, "name"), f"the name {e.name!r} is used twice; names must be unique")
        if not any(g.vendor == "nvidia" for g in self.generations):
            raise FieldError(("generations",), "at least one NVIDIA generation is needed")
        if not (info.context or {}).get("allow_large"):
            check_size(self)
        check_growth(self, self.market.months)
        return self


def _provider_references(scn: Scenario, gens: set[str], provs: set[str]) -> None:
    """The providers' purchases, fleets, custom silicon, prices and plans name known sellers and generations."""
    for i, p in enumerate(scn.providers):
        for j, c in enumerate(p.purchases):
            _known(c.seller, provs - {p.name}, ("providers", i, "purchases", j, "seller"))
            _known(c.generation, gens, ("providers", i, "purchases", j, "generation"))
        for j, c in enumerate(p.fleet):
            _known(c.generation, gens, ("providers", i, "fleet", j, "generation"))
        if p.custom_silicon:
            _known(p.custom_silicon.generation, gens, ("providers", i, "custom_silicon", "generation"))
        for g in p.pricing.initial:
            _known(g, gens, ("providers", i, "pricing", "initial"))
        if p.capacity.generation != "newest":
            _known(p.capacity.generation, gens, ("providers", i, "capacity", "generation"))


def _buyer_references(scn: Scenario, gens: set[str], provs: set[str]) -> None:
    """The buyers' ties, contracts, requests and running training name known providers and generations."""
    for i, b in enumerate(scn.buyers):
        if b.captive_to is not None:
            _known(b.captive_to, provs, ("buyers", i, "captive_to"))
        for name in b.partners:
            _known(name, provs, ("buyers", i, "partners", name))
        for j, c in enumerate(b.contracts):
            _known(c.seller, provs, ("buyers", i, "contracts", j, "seller"))
            _known(c.generation, gens, ("buyers", i, "contracts", j, "generation"))
        for j, r in enumerate(b.requests):
            _known(r.generation, gens, ("buyers", i, "requests", j, "generation"))
            for k, seller in enumerate(r.sellers):
                _known(seller, provs, ("buyers", i, "requests", j, "sellers", k))
        if b.training and b.training.current_gpus:
            if b.training.current_generation is None:
                raise FieldError(("buyers", i, "training", "current_generation"), "required when current_gpus > 0")
            _known(b.training.current_generation, gens, ("buyers", i, "training", "current_generation"))


def _event_references(scn: Scenario, gens: set[str], provs: set[str], buyers: set[str]) -> None:
    """Every event falls within the run and names known providers, buyers and generations."""
    for i, e in enumerate(scn.events):
        if month_index(e.month, scn.market.start) < 0:
            raise FieldError(("events", i, "month"), f"{e.month} is before the scenario starts ({scn.market.start})")
        for attr, pool in (("provider", provs), ("buyer", provs | buyers), ("seller", provs), ("generation", gens)):
            v = getattr(e, attr, None)
            if v is not None:
                _known(v, pool, ("events", i, attr))
        for j, name in enumerate(getattr(e, "buyers", ())):
            _known(name, buyers, ("events", i, "buyers", j))


class FieldError(ValueError):
    """A cross-field check that failed at ``loc`` (a field path as pydantic gives one)."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = loc


# Limits that keep a run within this machine's memory and time; --allow-large lifts them.
MAX_MONTHS = 600
MAX_PROVIDERS = 1_000
MAX_BUYERS = 20_000
MAX_EVENTS = 10_000
MAX_FILE_BYTES = 4 * 2**20
LARGE_FLAG = "--allow-large"
# Limits that keep every figure of a run finite, whatever the flags.
MAX_PROJECT_GPUS = 1e15
MAX_DEMAND = 1e30
MAX_OUTPUT = 1e12


def _limit(loc: tuple, what: str, limit: str) -> FieldError:
    return FieldError(loc, f"{what} is above the limit of {limit}, which keeps a run within this machine's "
                           f"memory; {LARGE_FLAG} lifts it")


def check_size(scn: Scenario, months: int | None = None) -> None:
    """The memory limits (lifted by ``--allow-large``): months, agents and events."""
    months = scn.market.months if months is None else months
    if months > MAX_MONTHS:
        raise _limit(("market", "months"), f"{months} months", f"{MAX_MONTHS}")
    n = sum(p.count for p in scn.providers)
    if n > MAX_PROVIDERS:
        raise _limit(("providers",), f"{n:,} providers (counts summed)", f"{MAX_PROVIDERS:,}")
    n = sum(b.count for b in scn.buyers)
    if n > MAX_BUYERS:
        raise _limit(("buyers",), f"{n:,} buyers (counts summed)", f"{MAX_BUYERS:,}")
    if len(scn.events) > MAX_EVENTS:
        raise _limit(("events",), f"{len(scn.events):,} events", f"{MAX_EVENTS:,}")


def _grows_past(value: float, factor: float, periods: float, limit: float) -> bool:
    """Whether ``value * factor ** periods`` passes ``limit`` (worked in logarithms: no overflow)."""
    if value <= 0 or factor <= 1 or periods <= 0:
        return value > limit
    return math.log10(value) + periods * math.log10(factor) > math.log10(limit)


def check_growth(scn: Scenario, months: int) -> None:
    """Growth rates compound: refuse those that would take a figure past what stays finite in ``months``."""
    for i, g in enumerate(scn.generations):
        if _grows_past(g.monthly_output, 1 + g.output_growth, months, MAX_OUTPUT):
            raise FieldError(("generations", i, "output_growth"),
                             f"{g.output_growth:g} a month over {months} months takes output past {MAX_OUTPUT:.0e} "
                             "GPUs a month; expected a smaller growth or a shorter run")
    for i, b in enumerate(scn.buyers):
        if _grows_past(b.inference_demand, 1 + b.inference_growth, months, MAX_DEMAND):
            raise FieldError(("buyers", i, "inference_growth"),
                             f"{b.inference_growth:g} a month over {months} months takes demand past "
                             f"{MAX_DEMAND:.0e} GPU-hours; expected a smaller growth or a shorter run")
        if _grows_past(max(b.revenue_per_month, 1.0), 1 + b.revenue_growth, months, MAX_DEMAND):
            raise FieldError(("buyers", i, "revenue_growth"),
                             f"{b.revenue_growth:g} a month over {months} months takes revenue past "
                             f"${MAX_DEMAND:.0e}; expected a smaller growth or a shorter run")
        t = b.training
        if t is not None and _grows_past(t.gpus, t.growth, months / t.cadence_months + 1, MAX_PROJECT_GPUS):
            raise FieldError(("buyers", i, "training", "growth"),
                             f"{t.growth:g} per project every {t.cadence_months} months over {months} months "
                             f"takes a project past {MAX_PROJECT_GPUS:.0e} GPUs; expected a smaller growth "
                             "or a shorter run")


def check_months(scn: Scenario, months: int, allow_large: bool = False, flag: str = "--months") -> None:
    """A run length given apart from the scenario (``--months``): within the limit and short enough
    that the scenario's growth rates keep every figure finite."""
    if not allow_large and months > MAX_MONTHS:
        raise UserError(f"{flag} {months}: above the limit of {MAX_MONTHS} months, which keeps a run within "
                        f"this machine's memory; {LARGE_FLAG} lifts it")
    try:
        check_growth(scn, months)
    except FieldError as exc:
        raise UserError(f"{flag} {months}: {_fmt_loc(exc.loc, scn.model_dump())}: {exc}") from None


MAX_BOOM = 1e6


def _booms_stay_finite(scn: Scenario) -> None:
    """Demand booms multiply one another: together they raise demand, revenue and funding at most
    ``MAX_BOOM`` times."""
    demand = funding = 1.0
    for i, e in enumerate(scn.events):
        if isinstance(e, DemandBoom):
            demand *= 1.0 + e.pct
            funding *= 1.0 + e.funding_pct
            if max(demand, funding) > MAX_BOOM:
                raise FieldError(("events", i, "pct" if demand > MAX_BOOM else "funding_pct"),
                                 f"the demand booms together multiply demand or funding more than {MAX_BOOM:.0e} "
                                 "times; expected fewer or smaller booms")


def _rates_stay_positive(scn: Scenario) -> None:
    """Rate changes add up, month by month: the base rate and every provider's spread stay at or
    above zero (the model has no negative interest)."""
    rate, extra = scn.market.base_rate, 0.0
    lowest = min(p.finance.spread for p in scn.providers)
    # opening debt at a stated rate moves with the base rate: its rate is debt_rate plus the changes
    fixed = [(p.debt_rate, p.name) for p in scn.providers if p.debt_rate is not None and p.debt > 0]
    lowest_fixed = min(fixed) if fixed else None
    order = sorted(range(len(scn.events)), key=lambda i: month_index(scn.events[i].month, scn.market.start))
    for i in order:
        e = scn.events[i]
        if not isinstance(e, RateChange):
            continue
        rate += e.bps / 1e4
        extra += e.spread_bps / 1e4
        if rate < -1e-12:
            raise FieldError(("events", i, "bps"), f"{e.bps:g} bp takes the base rate to {rate:.2%}; expected "
                                                   "changes that keep it at or above zero")
        moved = rate - scn.market.base_rate + extra
        if lowest_fixed is not None and lowest_fixed[0] + moved < -1e-12:
            raise FieldError(("events", i, "bps"), f"{e.bps:g} bp takes the rate of {lowest_fixed[1]}'s opening debt "
                                                   f"(debt_rate {lowest_fixed[0]:.2%}) to {lowest_fixed[0] + moved:.2%}; "
                                                   "expected changes that keep it at or above zero")
        if lowest + extra < -1e-12:
            raise FieldError(("events", i, "spread_bps"), f"{e.spread_bps:g} bp takes the lowest provider spread to "
                                                          f"{lowest + extra:.2%}; expected changes that keep spreads "
                                                          "at or above zero")


def _known(value: str, pool: set[str], loc: tuple) -> None:
    if value not in pool:
        raise FieldError(loc, f"unknown name {value!r} (expected one of {', '.join(sorted(pool))})")


# --------------------------------------------------------------------------- loading

SCENARIO_DIR = Path(os.environ.get("GPUMARKET_SCENARIOS", Path(__file__).resolve().parent.parent / "scenarios"))
#: tables and arrays nested deeper than this are refused before parsing (a scenario needs about 6)
MAX_DEPTH = 32
#: a scenario inherits through at most this many bases
MAX_BASES = 16
#: the top-level lists whose items merge by ``name`` when a scenario inherits
NAMED_LISTS = ("generations", "providers", "buyers", "events")


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
            what = ("is a folder, not a scenario file" if path.is_dir()
                    else "is not a regular file" if path.exists() else "no such scenario file")
            raise UserError(f"{shown(ref)}: {what}")
        return path
    names = ", ".join(bundled) or "none found"
    raise UserError(f"{shown(ref)}: unknown scenario (bundled: {names}; or give a path to a .toml file)")


def read_text(path: Path, limit: int | None = MAX_FILE_BYTES, what: str = "file") -> str:
    """A file's text, which must be UTF-8 (a UTF-8 byte-order mark is allowed) and at most
    ``limit`` bytes (None: no limit)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read() if limit is None else fh.read(limit + 1)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:
        raise UserError(f"{path}: the {what} is larger than {limit // 2**20} MB, the limit that keeps loading "
                        f"it within this machine's memory; {LARGE_FLAG} lifts it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
                        "save the file as UTF-8") from None


def nesting_depth(text: str) -> int:
    """How deeply arrays and inline tables nest in TOML ``text``, found without parsing it (so that a
    hostile file cannot exhaust the parser's recursion): brackets and braces outside strings and
    comments are counted."""
    depth = top = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "[{":
            depth += 1
            top = max(top, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n:
                if c == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                if len(quote) == 1 and text[j] == "\n":
                    break
                j += 1
            i = j + len(quote)
            continue
        i += 1
    return top


def _data_depth(data) -> int:
    """The nesting depth of parsed data, walked without recursion."""
    top, stack = 0, [(data, 1)]
    while stack:
        node, d = stack.pop()
        top = max(top, d)
        if d > MAX_DEPTH:
            return d
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return top


#: no table of a scenario has more keys than this (a file of thousands of unknown keys is refused fast)
MAX_KEYS = 5_000


def _widest_table(data) -> tuple[int, list]:
    """The most keys any table in ``data`` has, and the path to it (walked without recursion)."""
    top, where, stack = 0, [], [(data, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if len(node) > top:
                top, where = len(node), path
            stack.extend((v, [*path, k]) for k, v in node.items() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node) if isinstance(v, dict | list))
    return top, where


def parse_toml(text: str, source: str) -> dict:
    """TOML text as a dict; bad syntax or nesting deeper than MAX_DEPTH is one line naming ``source``."""
    if nesting_depth(text) > MAX_DEPTH:
        raise UserError(f"{source}: arrays or tables nest deeper than {MAX_DEPTH} levels; expected a scenario")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # a backstop: nesting_depth should have caught it
        raise UserError(f"{source}: arrays or tables nest too deeply; expected a scenario") from None
    if _data_depth(data) > MAX_DEPTH:
        raise UserError(f"{source}: keys nest deeper than {MAX_DEPTH} levels; expected a scenario")
    n, where = _widest_table(data)
    if n > MAX_KEYS:
        raise UserError(f"{source}: {_fmt_loc(where, data)}: a table of {n:,} keys; expected at most "
                        f"{MAX_KEYS:,} (a scenario's tables have a few dozen)")
    return data


# Where each value came from, so that an error names the file (or the --set) that gave the bad
# value: a tree shaped like the data, each node a [label, children] pair.
Origin = list  # [str, dict[str, Origin] | list[Origin] | None]


def _stamp(value, label: str) -> Origin:
    if isinstance(value, dict):
        return [label, {k: _stamp(v, label) for k, v in value.items()}]
    if isinstance(value, list):
        return [label, [_stamp(v, label) for v in value]]
    return [label, None]


def _copy(value):
    """A copy of plain TOML or JSON data (depth already bounded), or of an origin tree."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class ScenarioData(dict):
    """A scenario file's data merged with its bases, and where each value came from."""

    origin: Origin | None = None
    #: the files it inherits from, nearest first
    bases: tuple[Path, ...] = ()


def _merge(base: dict, bo: Origin, child: dict, co: Origin, path: str, label: str) -> tuple[dict, Origin]:
    """Tables merge key by key; the named lists item by item; any other value is replaced."""
    out, oo = dict(base), dict(bo[1])
    for key, value in child.items():
        here = f"{path}.{key}" if path else key
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key], oo[key] = _merge(out[key], oo[key], value, co[1][key], here, label)
        elif not path and key in NAMED_LISTS and isinstance(value, list) and isinstance(out.get(key), list):
            out[key], oo[key] = _merge_named(out[key], oo[key], value, co[1][key], key, label)
        else:
            out[key], oo[key] = value, co[1][key]
    return out, [co[0], oo]


def _merge_named(base: list, bo: Origin, child: list, co: Origin, key: str, label: str) -> tuple[list, Origin]:
    """Items of a named list: one with an inherited name is merged into it, ``remove = true`` drops
    it, any other (a new name, or no name) is appended."""
    out, oo = list(base), list(bo[1])
    index = {item["name"]: i for i, item in enumerate(out) if isinstance(item, dict) and isinstance(item.get("name"), str)}
    removed: set[int] = set()
    for j, item in enumerate(child):
        if not isinstance(item, dict):
            out.append(item)
            oo.append(co[1][j])
            continue
        name = item.get("name")
        where = f"{key}.{name if isinstance(name, str) and name else j}"
        if "remove" in item:
            if item["remove"] is not True or set(item) != {"name", "remove"}:
                raise UserError(f"{label}: {shown(where)}.remove: expected `remove = true` beside the name and "
                                "nothing else (it drops the inherited item of that name)")
            if name not in index:
                raise UserError(f"{label}: {shown(where)}.remove: no inherited item named {name!r} to remove")
            removed.add(index[name])
            continue
        if isinstance(name, str) and name in index:
            i = index[name]
            out[i], oo[i] = _merge(out[i], oo[i], item, co[1][j], where, label)
        else:
            out.append(item)
            oo.append(co[1][j])
    keep = [i for i in range(len(out)) if i not in removed]
    return [out[i] for i in keep], [co[0], [oo[i] for i in keep]]


def _base_path(ref, path: Path, label: str) -> Path:
    if not isinstance(ref, str) or not ref.strip():
        raise UserError(f"{label}: base: expected the name of a bundled scenario or a path to a .toml file "
                        f"(relative to this file), got {ref!r}")
    if ref.endswith(".toml") or "/" in ref or os.sep in ref:
        found = path.parent / ref
        if not found.is_file():
            raise UserError(f"{label}: base: no such scenario file {shown(str(found))}")
        return found
    bundled = bundled_paths()
    if ref not in bundled:
        raise UserError(f"{label}: base: unknown scenario {shown(ref)!r} (bundled: {', '.join(bundled)}; or a "
                        "path ending in .toml, relative to this file)")
    return bundled[ref]


def _load_layers(path: Path, limit: int | None, chain: tuple[Path, ...], found: list[Path] | None = None
                 ) -> tuple[dict, Origin]:
    label = str(path)
    raw = parse_toml(read_text(path, limit, "scenario file"), label)
    ref = raw.pop("base", None)
    if ref is None:
        return raw, _stamp(raw, label)
    base = _base_path(ref, path, label)
    key = base.resolve()
    if key in chain or key == path.resolve():
        names = " -> ".join(p.name for p in (*chain, path.resolve(), key))
        raise UserError(f"{label}: base: the scenarios inherit in a circle ({names})")
    if len(chain) >= MAX_BASES:
        raise UserError(f"{label}: base: more than {MAX_BASES} scenarios inherit one from another")
    if found is not None:
        found.append(base)
    data, origin = _load_layers(base, limit, (*chain, path.resolve()), found)
    data, origin = _merge(data, origin, raw, _stamp(raw, label), "", label)
    if "name" not in raw:  # a scenario's name is its own, never its base's
        data["name"] = path.stem
        origin[1]["name"] = [label, None]
    return data, origin


def read_toml(path: Path, allow_large: bool = False) -> ScenarioData:
    """A scenario file's data, merged with the scenarios it inherits from (``base = ...``)."""
    found: list[Path] = []
    data, origin = _load_layers(Path(path), None if allow_large else MAX_FILE_BYTES, (), found)
    out = ScenarioData(data)
    out.origin = origin
    out.bases = tuple(found)
    return out


def _fmt_loc(loc: Sequence, data=None) -> str:
    """A dotted field path; list items that have a name are shown by it (``providers.CoreWeave.cash``),
    which is also how ``--set`` addresses them."""
    parts = []
    node = data
    for p in _strip_tags(loc):
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
    return shown(".".join(parts)) or "(top level)"


def _strip_tags(loc: Sequence) -> list:
    # pydantic puts the discriminator tag into union members' locations
    return [p for p in loc if p not in EVENT_KINDS]


def _origin_of(loc: Sequence, origin: Origin | None) -> str | None:
    """The label of the file (or --set) that gave the value at ``loc``: the deepest node found."""
    if origin is None:
        return None
    node = origin
    for p in _strip_tags(loc):
        children = node[1]
        if isinstance(children, dict) and p in children:
            node = children[p]
        elif isinstance(children, list) and isinstance(p, int) and 0 <= p < len(children):
            node = children[p]
        else:
            break
    return node[0]


def validate_dict(data: Mapping, source: str, allow_large: bool = False, origin: Origin | None = None) -> Scenario:
    """Validate raw data; a failure becomes one line: the file the bad value came from, the field
    path, what was expected."""
    try:
        return Scenario.model_validate(data, context={"allow_large": allow_large})
    except ValidationError as exc:
        errors = exc.errors()
        err = errors[0]
        loc, msg = err["loc"], err["msg"]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc, msg = cause.loc, str(cause)
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "union_tag_not_found":
            msg = f"missing 'kind' (expected one of {', '.join(EVENT_KINDS)})"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown kind {err['input'].get('kind')!r} (expected one of {', '.join(EVENT_KINDS)})" if isinstance(
                err.get("input"), dict) else f"unknown kind (expected one of {', '.join(EVENT_KINDS)})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "model_type" or err["type"] == "dict_type":
            msg = f"expected a table, got {_kind(err.get('input'))}"
        elif err["type"] == "list_type":
            msg = f"expected an array, got {_kind(err.get('input'))}"
        elif "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {_short(err['input'])})"
        msg = shown(msg.removeprefix("Value error, "))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        where = _origin_of(loc, origin) or source
        if where.startswith("--set "):
            where = f"{source} with {where}"
        elif where != source:
            where = f"{where} (inherited by {source})"
        path = _fmt_loc(loc, data)
        if path == "(top level)":
            raise UserError(f"{where}: {msg}{more}") from None
        raise UserError(f"{where}: {path}: {msg}{more}") from None


def _kind(value) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "a table"}
    return names.get(type(value), type(value).__name__) + (f" {_short(value)}" if isinstance(value, int | float | str) else "")


def _short(value) -> str:
    text = repr(value)
    return shown(text if len(text) <= 60 else text[:57] + "...")


MAX_VALUE_CHARS = 1_000_000


def parse_value(text: str):
    """An override's value: TOML syntax where it parses (numbers, booleans, arrays), else a string."""
    if len(text) > MAX_VALUE_CHARS:
        raise UserError(f"--set: a value of more than {MAX_VALUE_CHARS:,} characters; expected a scenario value")
    if nesting_depth(text) > MAX_DEPTH:
        raise UserError(f"--set: the value nests deeper than {MAX_DEPTH} levels")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise UserError("--set: the value nests too deeply") from None


def _find_named(items: list, key: str):
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == key:
            return i
    return None


def apply_override(data: dict, path: str, value, source: str, origin: Origin | None = None) -> Origin:
    """Set ``value`` at dotted ``path`` (list items by index or by their ``name``) in ``data``; returns
    the origin tree, with that value marked as coming from ``--set path``."""
    label = f"--set {shown(path)}"
    if not path or any(not part for part in path.split(".")):
        raise UserError(f"{label}: empty key path")
    parts = path.split(".")
    if len(parts) > MAX_DEPTH:
        raise UserError(f"{label}: a key path of more than {MAX_DEPTH} parts")
    root = origin if origin is not None else _stamp(data, source)
    node, onode = data, root
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = shown(".".join(parts[: depth + 1]))
        if isinstance(node, list):
            key = int(part) if part.isdigit() else _find_named(node, part)
            if key is None or key >= len(node):
                raise UserError(f"{source}: {label}: no item {shown(part)!r} at {where}")
            if not isinstance(onode[1], list) or len(onode[1]) != len(node):
                onode[1] = [_stamp(v, onode[0]) for v in node]
        elif isinstance(node, dict):
            key = part
            if not isinstance(onode[1], dict):
                onode[1] = {k: _stamp(v, onode[0]) for k, v in node.items()}
            if not last and part not in node:
                # a section left to its defaults: create it so validation can judge the key
                node[part] = {}
                onode[1][part] = [label, {}]
        else:
            raise UserError(f"{source}: {label}: {shown('.'.join(parts[:depth]))} is a value, not a section")
        if last:
            node[key] = value
            onode[1][key] = _stamp(value, label)
        else:
            node = node[key]
            if isinstance(onode[1], dict) and key not in onode[1]:
                onode[1][key] = _stamp(node, onode[0])
            onode = onode[1][key]
    return root


def load_scenario(ref: str, overrides: Sequence[str] | Mapping[str, object] = (), allow_large: bool = False) -> Scenario:
    """Load a bundled scenario or TOML file (merged with its bases), apply ``--set`` overrides and
    validate it all."""
    path = resolve(ref)
    data = read_toml(path, allow_large=allow_large)
    return apply_and_validate(data, overrides, str(path), allow_large=allow_large)


def apply_and_validate(data: dict, overrides: Sequence[str] | Mapping[str, object], source: str,
                       allow_large: bool = False) -> Scenario:
    origin = getattr(data, "origin", None)
    if _data_depth(data) > MAX_DEPTH:
        raise UserError(f"{source}: tables nest deeper than {MAX_DEPTH} levels; expected a scenario")
    data = _copy(data)
    origin = _copy(origin) if origin is not None else _stamp(data, source)
    items: list[tuple[str, object]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for text in overrides:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise UserError(f"--set {shown(text)}: expected KEY=VALUE")
            items.append((key.strip(), parse_value(value.strip())))
    for key, value in items:
        origin = apply_override(data, key, value, source, origin)
    return validate_dict(data, source, allow_large=allow_large, origin=origin)


def list_scenarios() -> list[Scenario]:
    """The bundled scenarios, validated."""
    return [load_scenario(str(p)) for p in bundled_paths().values()]
