"""The engine's rules on small hand-built situations: baseline-2026 with ``--set``-style
overrides, a few months, and numbers worked out by hand where the rule allows it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from market.ledger import Acct

H = 730.0  # hours per month in baseline-2026

# Mistral's opening contract with Crusoe: 6,000 H200 at $2.40 from 2025-06 for 24 months.
MISTRAL_FEE = 6000 * H * 2.40  # 10,512,000 a month


def row(frame, agent: str, month: int):
    r = frame[(frame.agent == agent) & (frame.month == month)]
    assert len(r) == 1
    return r.iloc[0]


def mistral_contract(model):
    (c,) = [c for c in model.exchange.contracts if c.buyer == "Mistral" and c.seller == "Crusoe"
            and c.signed < 0]
    return c


def news(model, kind: str, agent: str | None = None) -> list[dict]:
    return [e for e in model.events_log if e["kind"] == kind and (agent is None or agent in e["agents"])]


# ============================================================================ contracts


class TestContracts:
    def test_take_or_pay_bills_the_full_fee_when_the_buyer_needs_nothing(self, make_model, agents_frame):
        # Mistral needs no compute at all (no inference, training only from 2026-10), yet it pays
        # the whole monthly fee of its Crusoe contract: 6,000 x 730 x 2.40 = 10,512,000.
        m = make_model({"buyers.Mistral.inference_demand": 0.0}, months=2)
        a = agents_frame(m)
        for month in (0, 1):
            r = row(a, "Mistral", month)
            assert r.compute_expense == pytest.approx(MISTRAL_FEE, rel=1e-12)
            assert r.other_expense == 0.0
        c = mistral_contract(m)
        assert c.status == "active" and c.delivered == 6000
        # Crusoe's revenue includes that fee
        assert row(a, "Crusoe", 0).revenue >= MISTRAL_FEE

    def test_late_delivery_charges_the_penalty_then_cancels_after_the_grace_period(self, make_model, agents_frame):
        # Crusoe has no powered MW (and no MW on the way) so none of its GPUs run: every month it
        # delivers nothing to Mistral, pays 10% of the undelivered fee (1,051,200), and after
        # the 3-month grace period (late 4 months running) the contract is cancelled.
        m = make_model({"providers.Crusoe.powered_mw": 0.0, "providers.Crusoe.mw_pipeline": []}, months=3)
        c = mistral_contract(m)
        assert c.status == "active" and c.late_months == 3 and c.delivered == 0
        m.step()  # month 3: the 4th late month
        assert c.status == "cancelled"
        m.step()
        a = agents_frame(m)
        for month in range(4):
            assert row(a, "Mistral", month).other_income == pytest.approx(0.10 * MISTRAL_FEE, rel=1e-12)
            assert row(a, "Crusoe", month).other_expense == pytest.approx(0.10 * MISTRAL_FEE, rel=1e-12)
        assert row(a, "Mistral", 4).other_income == 0.0  # cancelled: no more penalties
        (ev,) = [e for e in news(m, "cancelled", "Mistral") if e.get("contract_id") == c.contract_id]
        assert ev["month"] == 3 and "late delivery" in ev["text"]
        # a late cancellation costs the buyer nothing
        assert row(a, "Mistral", 3).other_expense == 0.0

    def test_a_short_seller_serves_its_contracts_in_signing_order(self, make_model):
        # Leave every seller only 60% of the GPUs its contracts due this month ask for, generation
        # by generation. Contracts are served in the order they were signed: each gets
        # min(its GPUs, what the earlier contracts of the same seller and generation left).
        m = make_model(months=3)
        ex = m.exchange
        t = m.month
        due = [c for c in ex.contracts if c.status in ("pending", "active") and c.start <= t < c.end]
        asked = defaultdict(float)
        for c in due:
            asked[c.seller, c.generation] += c.gpus
        left = {}
        for (seller, g), gpus in asked.items():
            m.provider_by_name[seller].running[g] = left[seller, g] = 0.6 * gpus
        ex.serve_contracts(t)
        short = 0
        for c in due:
            expect = min(float(c.gpus), max(0.0, left[c.seller, c.generation]))
            left[c.seller, c.generation] -= expect
            assert c.delivered == int(expect), (c.contract_id, c.seller)
            short += expect < c.gpus
        assert short > 0 and len(due) >= 10

    def test_prepayments_match_the_books(self, make_model):
        # every unearned prepayment sits in the buyer's PREPAID and the seller's DEFERRED_REVENUE
        m = make_model({"negotiation.prepay_share": 0.25}, months=8)
        signed = [c for c in m.exchange.contracts if c.signed >= 0]
        assert signed, "baseline-2026 signs contracts in its first months"
        assert all(c.prepay_share == 0.25 for c in signed)
        buyer, seller = defaultdict(float), defaultdict(float)
        for c in m.exchange.contracts:
            buyer[c.buyer] += c.prepaid_left
            seller[c.seller] += c.prepaid_left
        L = m.ledger
        for name, i in L.index.items():
            assert L.balances[i, Acct.PREPAID] == pytest.approx(buyer[name], abs=1.0), name
            assert -L.balances[i, Acct.DEFERRED_REVENUE] == pytest.approx(seller[name], abs=1.0), name
        # a contract that has not started yet holds its whole prepayment
        for c in signed:
            if c.start >= m.month:
                assert c.prepaid_left == pytest.approx(0.25 * c.total_value)


# ============================================================================ power


class TestPower:
    def test_gpus_without_powered_mw_do_not_run(self, make_model, agents_frame):
        m = make_model({"providers.Crusoe.powered_mw": 0.0, "providers.Crusoe.mw_pipeline": []}, months=1)
        crusoe = m.provider_by_name["Crusoe"]
        assert crusoe.installed.sum() == 35000 and crusoe.running.sum() == 0
        r = row(agents_frame(m), "Crusoe", 0)
        assert r.gpu_hours_sold == 0 and r.revenue == 0 and r.utilization == 0
        assert r.cost_of_revenue == 0  # no power, no site operations for GPUs that do not run
        assert r.gpus_installed == 35000 and r.powered_mw == 0

    def test_power_goes_to_the_newest_generations_first(self, make_model, agents_frame):
        # Lambda: 7,000 B200 x 1.6 kW = 11.2 MW, 8,000 H200 x 1.4 kW = 11.2 MW, 25,000 H100 x 1.3 kW.
        # With 35.4 MW the B200 and H200 run in full and 13 MW power 10,000 of the H100.
        m = make_model({"providers.Lambda.powered_mw": 35.4}, months=1)
        lam = m.provider_by_name["Lambda"]
        idx = m.cat.index
        assert lam.running[idx["B200"]] == pytest.approx(7000)
        assert lam.running[idx["H200"]] == pytest.approx(8000)
        assert lam.running[idx["H100"]] == pytest.approx(10000)
        r = row(agents_frame(m), "Lambda", 0)
        assert r.gpu_hours_sold <= 25000 * H + 1e-6


# ============================================================================ distress

TIGHT = {"providers.CoreWeave.finance.max_leverage": 0.01}  # every quarterly test is breached


class TestDistress:
    @pytest.fixture
    def run(self, make_model):
        return make_model(TIGHT, months=11)

    def test_breach_escalates_restructuring_fire_sale_default(self, run, agents_frame):
        m = run
        breaches = [e["month"] for e in news(m, "covenant_breach", "CoreWeave")]
        assert breaches == [2, 5, 8]  # quarterly tests at the end of months 2, 5, 8
        assert [e["month"] for e in news(m, "restructuring", "CoreWeave")] == [2]
        assert [e["month"] for e in news(m, "default", "CoreWeave")] == [8]
        assert 5 in [e["month"] for e in news(m, "fire_sale", "CoreWeave")]
        a = agents_frame(m)
        cw = a[a.agent == "CoreWeave"].set_index("month")
        assert list(cw.status) == ["ok"] * 2 + ["restructuring"] * 3 + ["fire_sale"] * 3 + ["defaulted"] * 3
        assert list(cw.defaulted) == [False] * 8 + [True] * 3
        p = m.provider_by_name["CoreWeave"]
        assert p.spread_extra == pytest.approx(0.02)  # restructuring adds 200 bp

    def test_fire_sale_sells_a_fifth_of_the_fleet(self, make_model):
        m = make_model(TIGHT, months=6)  # the second breach, at the end of month 5, sells 20%
        p = m.provider_by_name["CoreWeave"]
        (ev,) = news(m, "fire_sale", "CoreWeave")
        assert ev["month"] == 5
        sold = float(ev["text"].split("sells ")[1].split(" GPUs")[0].replace(",", ""))
        # nothing arrives after the sale in the same month: what is left is the other 80%
        left = float(p.c_units.sum())
        assert sold / (sold + left) == pytest.approx(0.2, abs=1e-5)
        a_month = m.recorder.agent_months[5]
        assert a_month["gpus_installed"][p.eid] == pytest.approx(left)

    def test_defaulted_provider_stays_in_the_outputs_flagged(self, run, agents_frame):
        m = run
        a = agents_frame(m)
        cw = a[a.agent == "CoreWeave"]
        assert len(cw) == 11  # one row a month, before and after the default
        after = cw[cw.month >= 8]
        assert after.defaulted.all()
        assert (after.market_value == 0).all()  # a public company worth nothing
        assert (after.debt.abs() < 1.0).all()  # repaid from the sale or written off
        assert (after.revenue == 0).sum() == 2  # no sales after the default month
        p = m.provider_by_name["CoreWeave"]
        assert not p.active
        # its NVIDIA orders are cancelled and its contracts passed on or cancelled
        for orders in m.nvidia.book:
            assert all(o[1] <= 1e-9 for o in orders if o[0] is p)
        assert all(c.status not in ("pending", "active") for c in m.exchange.by_seller["CoreWeave"])

    def test_defaulted_provider_owns_and_runs_nothing(self, run, agents_frame):
        # After the default (month 8) the fleet has been sold. GPUs still in transit from NVIDIA must
        # not turn up afterwards in a defaulted company's fleet, and it pays no power or site costs.
        a = agents_frame(run)
        after = a[(a.agent == "CoreWeave") & (a.month > 8)]
        assert (after.gpus_installed == 0).all(), after[["month", "gpus_installed"]]
        assert (after.cost_of_revenue == 0).all(), after[["month", "cost_of_revenue"]]
        # and its books hold no fleet: cost and depreciation closed to exactly zero, no debt left
        assert (after.fleet_book == 0.0).all() and (after.debt == 0.0).all(), after[["month", "fleet_book", "debt"]]

    def test_defaulted_provider_cash_does_not_go_negative(self, run, agents_frame):
        a = agents_frame(run)
        after = a[(a.agent == "CoreWeave") & (a.month >= 8)]
        assert (after.cash >= 0).all(), after[["month", "cash"]]

    def test_defaulted_provider_quotes_no_prices(self, run):
        rows = [r for r in run.recorder.price_rows if r[1] == "CoreWeave" and r[0] > 8]
        assert rows == []

    def test_reassigned_contracts_do_not_overcommit(self, make_model):
        m = make_model(TIGHT, months=9)  # the default happens at the end of month 8
        t = 8
        ex = m.exchange
        ids = {e["contract_id"] for e in news(m, "reassigned")}
        assert ids
        taken = defaultdict(float)
        for c in ex.contracts:
            if c.contract_id in ids:
                taken[(c.seller, c.generation)] += c.gpus
        for (seller, g), gpus in taken.items():
            q = m.provider_by_name[seller]
            idle = q.installed[g] - ex.committed_ahead(seller, t, 0)[g]
            assert gpus <= idle + 1e-6, f"{seller} took {gpus:,.0f} {m.cat.names[g]} GPUs with {idle:,.0f} idle"


# ============================================================================ scenario events


class TestFleetAggregates:
    """The fleet's market value and book depreciation come from running aggregates; they must
    equal the cohort-by-cohort rules (``depreciation.market_value_per_gpu``, ``accumulated``)
    in every month: as cohorts arrive, age past a life, and are sold in a fire sale."""

    @pytest.mark.parametrize("overrides", [
        TIGHT,  # CoreWeave's fire sale (month 5) and default (month 8) remove cohorts; rivals buy them
        {"market.economic_life_months": 14, "providers.Lambda.depreciation_years": 1.5},  # cohorts age out
    ])
    def test_fleet_book_is_the_cohorts_cost_less_their_depreciation(self, make_model, overrides):
        # the identity: the ledger's fleet at cost less accumulated depreciation is, for every
        # provider and month, the sum over its cohorts of cost less the depreciation booked on them,
        # plus the GPUs paid for and still in transit, never negative, through fire sales, a
        # default and cohorts ageing past their book life
        from market.ledger import Acct

        m = make_model(overrides)
        checked = 0
        for _ in range(14):
            m.step()
            for p in m.providers:
                b = m.ledger.balances[p.eid]
                fleet_book = b[Acct.GPU_ASSETS] + b[Acct.ACCUM_DEP]
                cohorts = float(np.sum(p.c_units * p.c_cost - p.c_acc))
                cohorts += sum(u * c for items in p.transit.values() for _, u, c in items)
                assert fleet_book == pytest.approx(cohorts, rel=1e-9, abs=1.0), (m.month, p.name)
                assert fleet_book >= -1.0 and (p.c_acc <= p.c_units * p.c_cost + 1e-6).all()
                checked += p.c_units.size > 0
        assert checked > 100

    def test_a_cohort_depreciates_straight_line_until_its_book_value_is_gone(self, make_model):
        # 100 GPUs at $30,000 over a 2-year life: $125,000 a month, 24 months, then nothing
        m = make_model()
        p = m.provider_by_name["Lambda"]
        p.keep_cohorts(np.zeros(p.c_units.size, dtype=bool))
        p._book_life = 24.0
        p.add_cohort(0, 0, 100.0, 30_000.0)
        months = [p.depreciation_due(t) for t in range(26)]
        assert months[:24] == pytest.approx([125_000.0] * 24)
        assert months[24:] == [0.0, 0.0]


def with_events(*events) -> dict:
    return {"events": list(events)}


class TestEvents:
    def test_rate_change(self, make_model):
        ev = {"kind": "rate_change", "month": "2026-03", "bps": 150, "spread_bps": 50, "ltv_cut": 0.1}
        m = make_model(with_events(ev), months=4)
        base = make_model(months=4)
        rates = [r["base_rate"] for r in m.recorder.model_rows]
        assert rates == pytest.approx([0.043, 0.043, 0.058, 0.058])
        assert m.base_rate == pytest.approx(0.058)
        assert m.ltv_cut == pytest.approx(0.1)
        for p in m.providers:  # +50 bp for all (and 200 bp more for any that restructured)
            assert p.spread_extra == pytest.approx(0.005 + (0.02 if p.breaches else 0.0)), p.name
        assert news(m, "event:rate_change")[0]["month"] == 2

        def interest(model, month):
            return model.recorder.agent_months[month]["interest_expense"][model.provider_by_name["Lambda"].eid]

        # Lambda's opening loan of 1.4B now costs 200 bp more a year: +2.33M a month, roughly
        assert interest(m, 1) == pytest.approx(interest(base, 1))
        assert interest(m, 2) > interest(base, 2) + 1.5e6

    def test_power_shortage_lengthens_lead_times_and_raises_costs(self, make_model):
        ev = {"kind": "power_shortage", "month": "2026-02", "extra_lead_months": 6, "cost_pct": 0.3}
        m = make_model(with_events(ev), months=2)
        base = make_model(months=2)
        for p, q in zip(m.providers, base.providers):
            assert p.mw_lead == q.mw_lead + 6 == p.spec.mw_lead_months + 6
            assert p.mw_cost == pytest.approx(1.3 * q.mw_cost)
        # a build started now: Lambda's 15 months become 21, 12M/MW become 15.6M/MW
        for model, lead, cost in ((m, 21, 15.6e6), (base, 15, 12e6)):
            lam = model.provider_by_name["Lambda"]
            before = model.ledger.capex[lam.eid]
            assert lam.build_mw(model.month, 2.0) == pytest.approx(2.0)
            assert lam.builds[-1] == (model.month + lead, 2.0)
            assert model.ledger.capex[lam.eid] - before == pytest.approx(2.0 * cost)

    def test_scaling_plateau_freezes_project_growth(self, make_model):
        # OpenAI plans its first new project (``training.gpus`` from 2026-08) in month 0 and the next
        # one 9 months later, ``growth`` times bigger, unless scaling plateaus (growth 1.0): then
        # the next is the same size. (Growth pinned at 1.6 so the numbers do not follow recalibration,
        # and its budget unbound so that its commitments to the clouds do not cut the project.)
        pin = {"buyers.OpenAI.training.growth": 1.6, "buyers.OpenAI.training.gpus": 100_000,
               "buyers.OpenAI.training.budget_share": 100.0}
        ev = {"kind": "scaling_plateau", "month": "2026-01", "growth": 1.0}
        m = make_model({**pin, **with_events(ev)}, months=10)
        base = make_model(pin, months=10)

        def new_projects(model):
            first = model.agent_by_name["OpenAI"].spec.training.first_start
            start = model.scn.market.start
            from market.scenario import month_index

            return [p[2] for p in model.agent_by_name["OpenAI"].projects if p[0] >= month_index(first, start)]

        assert new_projects(base) == pytest.approx([100_000, 160_000])
        assert new_projects(m) == pytest.approx([100_000, 100_000])
        assert m.training_growth == 1.0

    def test_customer_cancel_pays_the_termination_fee(self, make_model, agents_frame):
        # In month 1 Mistral cancels its Crusoe contract, which has 24 - 8 = 16 months left after
        # month 0: remaining value 16 x 10,512,000 = 168,192,000; the fee is 30% = 50,457,600.
        ev = {"kind": "customer_cancel", "month": "2026-02", "buyer": "Mistral", "seller": "Crusoe",
              "in_house_share": 0.5}
        m = make_model(with_events(ev), months=2)
        c = mistral_contract(m)
        assert c.status == "cancelled"
        assert c.remaining_value() == 0.0
        a = agents_frame(m)
        fee = 0.3 * 16 * MISTRAL_FEE
        assert fee == pytest.approx(50_457_600)
        assert row(a, "Mistral", 1).other_expense == pytest.approx(fee, rel=1e-12)
        assert row(a, "Crusoe", 1).other_income == pytest.approx(fee, rel=1e-12)
        assert row(a, "Mistral", 0).other_expense == 0.0
        assert m.buyers.in_house[m.agent_by_name["Mistral"].idx] == 0.5
        assert "Mistral" in news(m, "event:customer_cancel")[0]["agents"]

    def test_compute_business_launch_activates_the_provider(self, make_model, agents_frame):
        # Meta Compute would open in 2026-07; the event opens it in 2026-02
        ev = {"kind": "compute_business_launch", "month": "2026-02", "provider": "Meta Compute",
              "buyer": "Meta AI", "in_house_share": 0.3}
        m = make_model(with_events(ev), months=2)
        base = make_model(months=2)
        assert not base.provider_by_name["Meta Compute"].active
        assert m.provider_by_name["Meta Compute"].active
        a, b = agents_frame(m), agents_frame(base)
        assert row(a, "Meta Compute", 0).revenue == 0
        assert row(b, "Meta Compute", 1).revenue == 0
        assert row(a, "Meta Compute", 1).revenue > 0
        assert row(a, "Meta Compute", 1).gpu_hours_sold > 0
        assert m.buyers.in_house[m.agent_by_name["Meta AI"].idx] == pytest.approx(0.3)

    def test_a_launch_hits_each_providers_sentiment_by_its_exposure_to_the_buyer(self, make_model):
        """news_weight x in_house_share x the buying arm's share of the provider's backlog: CoreWeave
        and Nebius (which sell to Meta AI) take the news, providers that do not sell to it none."""
        from market import events
        from market.scenario import ComputeBusinessLaunch

        m = make_model(months=1)
        e = ComputeBusinessLaunch(kind="compute_business_launch", month="2026-02", provider="Meta Compute",
                                  buyer="Meta AI", in_house_share=0.4, news_weight=0.5)
        expect = {}
        for q in m.providers:
            total, _, by_buyer = m.exchange.backlog(q.name)
            expect[q.name] = q.shock - 0.5 * 0.4 * (dict(by_buyer).get("Meta AI", 0.0) / total if total else 0.0)
        events.compute_business_launch(m, e, m.month)
        assert {q.name: q.shock for q in m.providers} == pytest.approx(expect, abs=1e-15)
        assert expect["CoreWeave"] < 0.0 and expect["Nebius"] < 0.0
        assert expect["Lambda"] == 0.0 and expect["Crusoe"] == 0.0

    def test_a_buyer_that_brings_work_in_house_asks_the_market_for_less_training(self, make_model):
        ev = {"kind": "compute_business_launch", "month": "2026-02", "provider": "Meta Compute",
              "buyer": "Meta AI", "in_house_share": 0.4}
        m, base = make_model(with_events(ev), months=16), make_model(months=16)

        def training_asks(model):
            return [r.gpus for r in model.exchange.requests if r.buyer == "Meta AI" and r.purpose == "training"
                    and r.issued >= 2]  # (its scripted deal of 2026-02 stands)

        asked, asked0 = training_asks(m), training_asks(base)
        assert asked0 and len(asked) == len(asked0)
        # the same projects (the same GPUs planned), 60% of the contracted share asked of the market
        assert all(abs(a - 0.6 * a0) <= 1 for a, a0 in zip(asked, asked0, strict=True)), (asked, asked0)

    def test_allocation_change_switches_the_policy(self, make_model):
        ev = {"kind": "allocation_change", "month": "2026-02", "policy": "no_rival_silicon"}
        m = make_model(with_events(ev), months=1)
        assert m.nvidia.policy == "partner_priority"
        m.step()
        assert m.nvidia.policy == "no_rival_silicon"
        assert news(m, "event:allocation_change")[0]["month"] == 1

    def test_supply_growth_raises_output(self, make_model):
        ev = {"kind": "supply_growth", "month": "2026-01", "pct": 0.5}
        m = make_model(with_events(ev), months=1)
        base = make_model(months=1)
        assert base.nvidia.output.sum() > 0
        np.testing.assert_allclose(m.nvidia.output, 1.5 * base.nvidia.output)

    def test_generation_ship_moves_a_launch(self, make_model):
        # VR200 would launch in 2026-10 (month 9); shipped in 2026-03 (month 2) it ramps over 6
        # months: 250,000 x 1/6 = 41,666.7 units in month 2
        ev = {"kind": "generation_ship", "month": "2026-03", "generation": "VR200"}
        m = make_model(with_events(ev), months=3)
        base = make_model(months=3)
        g = m.cat.index["VR200"]
        assert base.nvidia.output[g] == 0
        assert m.cat.launch[g] == 2
        assert m.nvidia.output[g] == pytest.approx(250_000 / 6)
        assert m.cat.newest(2) == g

    def test_component_cost_rise(self, make_model):
        ev = {"kind": "component_cost_rise", "month": "2026-02", "pct": 0.2}
        m = make_model(with_events(ev), months=2)
        base = make_model(months=2)
        np.testing.assert_allclose(m.cat.system_cost, 1.2 * base.cat.system_cost)
        assert m.cat.system_cost[m.cat.index["GB300"]] == pytest.approx(36_000)
        for p, q in zip(m.providers, base.providers):
            assert p.mw_cost == pytest.approx(1.2 * q.mw_cost)

    def test_custom_silicon_cut_lowers_custom_prices(self, make_model):
        ev = {"kind": "custom_silicon_cut", "month": "2026-02", "pct": 0.3}
        m = make_model(with_events(ev), months=2)
        base = make_model(months=2)
        for name, gen in (("AWS", "Trainium2"), ("Google Cloud", "TPU-v7")):
            g = m.cat.index[gen]
            assert m.provider_by_name[name].custom_price_factor == pytest.approx(0.7)
            assert m.provider_by_name[name].od[g] == pytest.approx(0.7 * base.provider_by_name[name].od[g])

    @pytest.mark.parametrize("strategy, band", [("sticky", 0.02), ("utilisation", 0.15)])
    def test_custom_silicon_cut_is_a_one_off_cut(self, make_model, strategy, band):
        # A 30% cut makes TPU-class prices 30% lower than without it, month after month; it must not
        # compound (0.7, 0.49, 0.34...) by cutting again the previous month's already-cut price.
        # Sticky list prices stay at 0.7x; the utilisation rule may drift a little as cheaper
        # chips sell more, hence the wider band.
        ev = {"kind": "custom_silicon_cut", "month": "2026-02", "pct": 0.3}
        over = {"providers.Google Cloud.pricing.strategy": strategy}
        m = make_model({**over, **with_events(ev)})
        base = make_model(over)
        g = m.cat.index["TPU-v7"]
        ratios = []
        for _ in range(8):
            m.step()
            base.step()
            ratios.append(m.provider_by_name["Google Cloud"].od[g] / base.provider_by_name["Google Cloud"].od[g])
        assert ratios[0] == pytest.approx(1.0)
        assert ratios[1] == pytest.approx(0.7)
        assert ratios[2:] == pytest.approx([0.7] * 6, abs=band), np.round(ratios, 3)


# ============================================================================ NVIDIA


class TestNvidia:
    def test_backstop_pays_for_idle_capacity_up_to_its_cap(self, make_model, agents_frame):
        # NVIDIA buys CoreWeave's idle GPU-hours at 80% of its reserved price, at most 75M a month.
        m = make_model(months=1)
        p = m.provider_by_name["CoreWeave"]
        idle = np.maximum(0.0, p.running * H - p.own_sold_hours_g)
        expected = min(7.5e7, float(np.sum(idle * np.nan_to_num(p.res * 0.8))))
        assert m.nvidia.backstop_paid == pytest.approx(expected)
        a = agents_frame(m)
        assert row(a, "CoreWeave", 0).other_income == pytest.approx(expected)

    def test_equity_stake_is_on_the_books_and_in_the_value(self, make_model):
        # NVIDIA holds 6% of CoreWeave: at the opening its INVESTMENTS hold 6% of CoreWeave's book
        # equity; from the first month end the stake is marked to 6% of CoreWeave's market value
        # (the gain in the revaluation reserve), and NVIDIA's market value is its own plus the stake
        from market.ledger import Acct

        with_stake = make_model(months=2)
        without = make_model({"nvidia.equity_stakes": {}}, months=2)
        nv, cw = with_stake.nvidia, with_stake.provider_by_name["CoreWeave"]
        opening = make_model()  # not stepped: the opening books
        cw_equity = -opening.ledger.balances[opening.provider_by_name["CoreWeave"].eid, Acct.PAID_IN:].sum()
        assert cw_equity > 0
        assert opening.ledger.balances[opening.nvidia.eid, Acct.INVESTMENTS] == pytest.approx(0.06 * cw_equity)
        invested = with_stake.ledger.balances[nv.eid, Acct.INVESTMENTS]
        assert invested == pytest.approx(0.06 * cw.market_value)  # marked to market
        assert -with_stake.ledger.balances[nv.eid, Acct.REVALUATION] == pytest.approx(invested - 0.06 * cw_equity)
        assert without.ledger.balances[without.nvidia.eid, Acct.INVESTMENTS] == 0
        assert nv.market_value - without.nvidia.market_value == pytest.approx(0.06 * cw.market_value, rel=1e-9)

    def test_deliveries_arrive_after_the_lead_time(self, make_model):
        # providers order after NVIDIA allocates, so the first shipments go out in month 1; they
        # are paid on shipment and installed ``lead_time_months`` (3) later, in month 4
        m = make_model(months=2)
        shipped = {name: n for name, n in m.nvidia.shipped_to.items() if n > 0}
        assert shipped, "NVIDIA ships to providers in month 1"
        lead = m.scn.nvidia.lead_time_months
        for name, units in shipped.items():
            p = m.provider_by_name[name]
            arriving = sum(u for _, u, _ in p.transit.get(1 + lead, ()))
            assert arriving == pytest.approx(units)
        name = max(shipped, key=shipped.get)
        p = m.provider_by_name[name]
        for _ in range(lead - 1):
            m.step()
        assert 1 + lead in p.transit  # not yet installed at the end of month lead
        m.step()
        assert 1 + lead not in p.transit
        assert m.month == 2 + lead


# ============================================================================ the market row


class TestMarketRecord:
    @staticmethod
    def physical_hours_sold(model) -> float:
        return sum(float(p.own_sold_hours_g.sum()) for p in model.providers)

    def test_served_hours_are_the_physical_hours_sold(self, make_model):
        # Without resale, every GPU-hour served is one of a provider's own GPUs, sold once.
        m = make_model({"providers.Azure.purchases": [], "providers.Azure.resells": False})
        for _ in range(2):
            m.step()
            served = m.recorder.model_rows[-1]["served_gpu_hours"]
            assert served == pytest.approx(self.physical_hours_sold(m), rel=1e-9)

    def test_resold_hours_are_served_once(self, make_model):
        # Azure buys CoreWeave capacity (50,000 H100 + 30,000 GB200) and resells it. Each of those
        # GPU-hours reaches one end user: it must be counted once in served_gpu_hours, not once
        # as CoreWeave's delivery to Azure and again as Azure's sale.
        m = make_model()
        for _ in range(2):
            m.step()
            assert m.provider_by_name["Azure"].resale.sum() > 0
            served = m.recorder.model_rows[-1]["served_gpu_hours"]
            assert served == pytest.approx(self.physical_hours_sold(m), rel=1e-9)


def test_every_kind_of_event_has_its_rule():
    import typing

    from market import events
    from market import scenario as S

    kinds = typing.get_args(typing.get_args(S.EventSpec)[0])
    assert set(events.RULES) == set(kinds) and len(kinds) >= 10


class TestBidWindow:
    def test_a_request_is_answered_after_its_bid_window_and_lapses_after_its_age(self, make_model):
        # a request issued in month 2 draws no offer in month 2 (bid window 1), offers from month 3;
        # at a ceiling no seller can meet it stays unfilled and lapses in month 2 + max_request_age
        m = make_model(months=2)
        buyer = m.agent_by_name["Mistral"]
        g = m.cat.index["H100"]
        r = m.exchange.request(buyer, g, 500, m.month + 6, 12, "inference")
        r.ceiling = 0.01  # below every seller's reservation price: nobody signs
        issued, age = r.issued, m.scn.negotiation.max_request_age

        def offers(month):
            return [e for e in m.events_log if e["month"] == month and e["kind"] in ("offer", "walk_away")
                    and e.get("request_id") == r.request_id]

        m.step()
        assert r.open and offers(issued) == []
        m.step()
        assert r.open and len(offers(issued + 1)) > 0
        while m.month <= issued + age:
            m.step()
        assert not r.open and r.remaining == 500
        assert any(e["kind"] == "request_lapsed" and e["month"] == issued + age for e in m.events_log)
