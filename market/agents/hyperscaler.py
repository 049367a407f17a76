"""Hyperscalers (AWS, Azure, Google Cloud, Meta's compute arm)."""

from __future__ import annotations

from market.agents.provider import Provider


class Hyperscaler(Provider):
    """A cloud with cheap capital, power, enterprise trust and (often) its own silicon, which
    it adds every month; it may contract neocloud capacity to resell."""

    kind = "hyperscaler"

    def _build_custom(self, t: int) -> None:
        cs = self.spec.custom_silicon
        if cs is None or cs.monthly_build <= 0 or not self.active or self.defaulted:
            return
        m = self.model
        g = m.cat.index[cs.generation]
        if not m.cat.shipped(g, t):
            return
        chips = cs.monthly_build * self.scale
        unit = m.cat.capex(g, m.cat.list_price[g])
        paid = self.ensure_cash(chips * unit)
        chips = paid / unit
        if chips <= 0:
            return
        m.ledger.transfer(self.eid, m.party["suppliers"], chips * unit, "custom_chips")
        self._add_cohort(g, t, chips, unit)
        self.custom_chips += chips
        # power for the new chips comes from the capacity plan like any other
