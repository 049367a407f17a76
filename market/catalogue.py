"""The catalogue of accelerator generations as arrays, and NVIDIA's output schedule."""

from __future__ import annotations

import bisect

import numpy as np

from market.scenario import Scenario, month_index

NEVER = 10**6


class Catalogue:
    """Per-generation parameters as numpy arrays, indexed in scenario order."""

    def __init__(self, scn: Scenario) -> None:
        gens = scn.generations
        start = scn.market.start
        self.n = len(gens)
        self.names = [g.name for g in gens]
        self.index = {g.name: i for i, g in enumerate(gens)}
        self.nvidia = np.array([g.vendor == "nvidia" for g in gens])
        self.nvidia_list = self.nvidia.tolist()
        self.launch = np.array([month_index(g.launch, start) for g in gens])
        self.end = np.array([month_index(g.end_of_production, start) if g.end_of_production else NEVER for g in gens])
        self.list_price = np.array([g.list_price for g in gens], dtype=float)
        self.unit_cost = np.array([g.unit_cost for g in gens], dtype=float)
        self.system_cost = np.array([g.system_cost for g in gens], dtype=float)
        self.train = np.array([g.training_perf for g in gens], dtype=float)
        self.inf = np.array([g.inference_perf for g in gens], dtype=float)
        self.power_kw = np.array([g.power_kw for g in gens], dtype=float)
        self.power_kw_list = self.power_kw.tolist()  # for loops over generations (fixed for a run)
        self.base_output = np.array([g.monthly_output for g in gens], dtype=float)
        self.output_growth = np.array([g.output_growth for g in gens], dtype=float)
        self.ramp = np.array([g.ramp_months for g in gens])
        self.useful_life = np.array([g.useful_life_months for g in gens], dtype=np.int64)
        self.output_multiplier = np.ones(self.n)
        self._newer_key: tuple | None = None
        self._newest: dict[tuple, int] = {}
        self._newest_key = -1  # plan_version of _plan_lists
        self._plan_lists: tuple[list, list] = ([], [])
        self._newer = np.zeros(self.n, dtype=np.int64)
        self.plan_version = 0  # launch plans seen (events can move a launch)
        self._capex_key = b""
        self._capex_list: list[float] = []
        self._sched_key = -1  # plan_version of _sched, the output schedules as plain numbers
        self._sched: list[tuple] = []
        self._ahead_key: tuple | None = None
        self._rows_key: tuple | None = None  # (plan_version, output multipliers) of _rows
        self._rows: dict[int, list[float]] = {}  # output_list by month (output_ahead)
        self._ahead = np.zeros((0, self.n))
        self.reorder()

    def reorder(self) -> None:
        """Orders that follow launch dates (called again when an event moves a launch)."""
        self.plan_version += 1  # the caches below key on it
        # NVIDIA's launch months in order: how many have come by a month says which have shipped
        self._launches = sorted(self.launch[self.nvidia].tolist())
        # newest first: power goes to the newest GPUs first
        self.newest_first = [int(g) for g in np.argsort(-self.launch, kind="stable")]
        # NVIDIA generations newest first, so an older one can be capped by the newer ones'
        # prices; then custom silicon, which is priced off the GPUs
        self.price_order = [g for g in self.newest_first if self.nvidia[g]] + [
            g for g in range(self.n) if not self.nvidia[g]]

    def output(self, t: int) -> np.ndarray:
        """Units NVIDIA makes of each generation in month ``t``: ramps linearly over ``ramp_months``
        from launch, then grows at ``output_growth`` a month, until the end of production."""
        return np.array(self.output_list(t))

    def output_list(self, t: int) -> list[float]:
        """:meth:`output` as a list (plain numbers: numpy's calls cost more than the work on a few
        generations). The schedules are read once per launch plan (launches move only with
        :meth:`reorder`); the output multiplier, which events change, every month."""
        if self._sched_key != self.plan_version:
            self._sched = list(zip(self.launch.tolist(), self.end.tolist(), self.ramp.tolist(),
                                   self.base_output.tolist(), self.output_growth.tolist(), self.nvidia_list,
                                   strict=True))
            self._sched_key = self.plan_version
        out = [0.0] * self.n
        for g, ((launch, end, ramp_months, base, growth, nvidia), mult) in enumerate(zip(
                self._sched, self.output_multiplier.tolist(), strict=True)):
            age = t - launch
            if age < 0 or t >= end or not nvidia:
                continue
            ramp = min(max((age + 1) / max(ramp_months, 1), 0.0), 1.0)
            out[g] = base * ramp * (1.0 + growth) ** max(0, t - max(launch, 0)) * mult
        return out

    def output_ahead(self, t: int, months: int) -> np.ndarray:
        """Cumulative output of each generation over months ``t+1 .. t+months`` (months x
        generations), kept for the month, the launch plan and the output multipliers; each month's
        :meth:`output_list` is kept while the launch plan and the multipliers stay the same (the
        next month's window shares all but one of its months)."""
        plan = (self.plan_version, self.output_multiplier.tobytes())
        key = (t, months, *plan)
        if self._ahead_key != key:
            if self._rows_key != plan:
                self._rows, self._rows_key = {}, plan
            rows = self._rows
            for s in range(t + 1, t + 1 + months):
                if s not in rows:
                    rows[s] = self.output_list(s)
            self._ahead = np.cumsum([rows[s] for s in range(t + 1, t + 1 + months)], axis=0)
            self._ahead_key = key
        return self._ahead

    def shipped(self, g: int, t: int) -> bool:
        return bool(self.launch[g] <= t)

    def newest(self, t: int) -> int:
        """The newest NVIDIA generation shipping in month ``t`` (cached per month and launch plan)."""
        key = (t, self.plan_version)
        hit = self._newest.get(key)
        if hit is None:
            if self._newest_key != self.plan_version:  # the launch plan as plain numbers
                self._plan_lists = (self.launch.tolist(), self.end.tolist())
                self._newest_key = self.plan_version
            launch, end = self._plan_lists
            live = [g for g in range(self.n) if self.nvidia_list[g] and launch[g] <= t < end[g]]
            hit = self._newest[key] = max(live, key=launch.__getitem__)
        return hit

    def unit_capex(self, nvidia_price: np.ndarray) -> list[float]:
        """``capex`` of every generation at once, as plain floats: NVIDIA's price (custom silicon:
        its build cost) plus servers, network and install (kept while NVIDIA's prices hold)."""
        key = nvidia_price.tobytes()
        if key != self._capex_key:
            self._capex_list = (np.where(self.nvidia, nvidia_price, self.list_price) + self.system_cost).tolist()
            self._capex_key = key
        return self._capex_list

    def newer_counts(self, t: int) -> np.ndarray:
        """``newer_count`` of every generation in month ``t`` (cached while the launch plan and
        the NVIDIA generations launched by ``t`` stay the same)."""
        key = (bisect.bisect_right(self._launches, t), self.plan_version)
        if self._newer_key != key:
            shipped = self.nvidia & (self.launch <= t)
            self._newer = (shipped[None, :] & (self.launch[None, :] > self.launch[:, None])).sum(axis=1)
            self._newer_key = key
        return self._newer

    def capex(self, g: int, nvidia_price: float) -> float:
        """All-in capital cost of one GPU today: NVIDIA's price plus servers, network and install."""
        return nvidia_price + self.system_cost[g]
