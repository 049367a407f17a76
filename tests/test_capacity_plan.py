"""``ProviderBook.plan_capacity`` (every provider's plan worked out in one compiled call) must
place exactly the orders and MW builds that ``Provider.plan_capacity`` (one provider, the rule as
Python) places: the orders in the same sequence, and the builds in the same sequence (the batch
places every order before the first build: an order moves no money, and a build touches no
order)."""

from __future__ import annotations

import numpy as np
import pytest

from market.agents.provider import Provider, ProviderBook


def recorded(pb, run, monkeypatch) -> tuple[list[tuple], list[tuple]]:
    """What ``run()`` orders and builds (two lists, each in sequence), without moving money:
    orders still count as on order (the MW plan reads them); the book is put back afterwards."""
    calls: list[tuple] = []
    on_order = pb.on_order.copy()

    def place_order(self, g, units):
        calls.append((self.name, "order", g, units))
        self.on_order[g] += units

    def build_mw(self, t, mw):
        calls.append((self.name, "build", mw))
        return mw

    def build_all(self, t, builds, fin):  # (the batch's builds, each as build_mw would be called)
        for i, mw in builds:
            build_mw(self.providers[i], t, mw)

    with monkeypatch.context() as mp:
        mp.setattr(Provider, "place_order", place_order)
        mp.setattr(Provider, "build_mw", build_mw)
        mp.setattr(ProviderBook, "_build_all", build_all)
        run()
    pb.on_order[:] = on_order
    return [c for c in calls if c[1] == "order"], [c for c in calls if c[1] == "build"]


@pytest.mark.parametrize("seed", range(3))
def test_matches_one_provider_at_a_time(make_model, monkeypatch, seed):
    m = make_model(seed=seed)
    pb = m.pbook
    rng = np.random.default_rng(seed)
    kinds = set()
    for _ in range(14):
        m.step()
        t = m.month
        # perturb what the plans read: sales to grow from, GPUs on order and in transit
        for p in m.providers:
            p.st_sold_eq_prev *= rng.uniform(0.2, 3.0)
        pb.on_order[:] *= rng.uniform(size=pb.on_order.shape) < 0.7
        pb.in_transit[:] *= rng.uniform(0.0, 1.5, pb.in_transit.shape)
        order = [int(i) for i in rng.permutation(pb.n)]
        nv = m.nvidia.price.copy()
        batch = recorded(pb, lambda t=t, nv=nv, order=order: pb.plan_capacity(t, nv, order), monkeypatch)
        one_by_one = recorded(pb, lambda t=t, nv=nv, order=order: [m.providers[i].plan_capacity(t, nv) for i in order],
                              monkeypatch)
        assert batch == one_by_one, f"month {t}"
        kinds |= {c[1] for part in batch for c in part}
    assert kinds == {"order", "build"}  # both parts of the plan were exercised


def test_python_sum_is_python_s():
    # the plans add with Python's sum(), which is compensated since Python 3.12: a plain running
    # sum gives 0.0 here, sum() the exact 1.0
    from market import portable

    terms = np.array([1e16, 1.0, -1e16])
    floats = np.ones(3, dtype=bool)
    assert sum(terms.tolist()) == portable.python_sum(terms, 3, floats) == 1.0
    # from the first numpy float on, sum() adds plainly: 1e16 + 1.0 (compensated), then the numpy
    # -1e16 after the correction is added: 1e16 + 1 rounds to 1e16, so the result is 0.0
    items = [1e16, 1.0, np.float64(-1e16)]
    assert sum(items) == portable.python_sum(terms, 3, np.array([True, True, False])) == 0.0
    rng = np.random.default_rng(3)
    for _ in range(500):
        x = rng.normal(0, 1, 9) * 10.0 ** rng.integers(-3, 12, 9)
        exact = rng.uniform(size=9) < 0.8
        mixed = [float(v) if e else np.float64(v) for v, e in zip(x.tolist(), exact, strict=True)]
        assert portable.python_sum(x, 9, exact) == sum(mixed)
