"""Hyperscalers (AWS, Azure, Google Cloud, Oracle, Meta's compute arm)."""

from __future__ import annotations

from market.agents.provider import Provider


class Hyperscaler(Provider):
    """A cloud with cheap capital, power, enterprise trust and (often) its own silicon, which it
    builds each month in step with its use; it may contract neocloud capacity to resell."""

    kind = "hyperscaler"

    def _build_custom(self, t: int) -> None:
        cs = self.spec.custom_silicon
        if cs is None or cs.monthly_build <= 0 or not self.active or self.defaulted:
            return
        m = self.model
        g = m.cat.index[cs.generation]
        if not m.cat.shipped(g, t):
            return
        # build in step with demand: monthly_build at the target utilisation, up to twice that
        target = max(self.spec.pricing.target_utilisation, 0.05)
        chips = cs.monthly_build * self.scale * min(2.0, float(self.util_g[g]) / target)
        # and, like a GPU order, only where power will run them (``Provider.power_room_kw``)
        chips = min(chips, self.power_room_kw() / m.cat.power_kw[g])
        unit = m.cat.capex(g, m.cat.list_price[g])
        paid = self.ensure_cash(chips * unit)
        chips = paid / unit
        if chips <= 0:
            return
        m.ledger.transfer(self.eid, m.party["suppliers"], chips * unit, "custom_chips")
        self.add_cohort(g, t, chips, unit)
        # power for more chips comes from the capacity plan like any other

    def plan_resale(self, t: int) -> None:
        """Quarterly, a reseller that ran above ``resale_utilisation`` last month asks neoclouds for
        six months of its planned growth in the newest generation, on a three-year term (the
        Microsoft-CoreWeave pattern: fast-depreciating GPUs on someone else's balance sheet)."""
        spec = self.spec
        if not spec.resells or not self.active or self.defaulted or self.player or t % 3:
            return
        if self.utilisation < spec.resale_utilisation:
            return
        ex = self.model.exchange
        if any(r.buyer == self.name for r in ex.open_requests()):
            return
        g = self.model.cat.newest(t)
        gpus = int(spec.capacity.growth_target * 6 * float(self.installed.sum()))
        if gpus >= 1000:
            ex.request(self, g, gpus, t + 3, 36, "inference")

