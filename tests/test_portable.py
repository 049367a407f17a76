"""market.portable: exp, log, power and dot that give the C library's results (what Python's math
and ** give), whatever kernels numpy would pick on this CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest

from market import portable


@pytest.fixture(scope="module")
def values():
    rng = np.random.default_rng(7)
    return rng.normal(0.0, 6.0, 4000), rng.uniform(0.01, 5.0, 4000), rng.normal(0.0, 3.0, 4000)


def test_exp_and_log_are_the_c_library_s(values):
    x, pos, _ = values
    assert portable.exp(x).tolist() == [math.exp(v) for v in x.tolist()]
    assert portable.log(pos).tolist() == [math.log(v) for v in pos.tolist()]
    assert portable.exp(np.array([-np.inf, 0.0]))[0] == 0.0 and portable.exp(np.zeros(1))[0] == 1.0


def test_power_is_python_s_and_broadcasts(values):
    _, pos, e = values
    assert portable.power(pos, e).tolist() == [b ** k for b, k in zip(pos.tolist(), e.tolist(), strict=True)]
    # a scalar base over integer exponents, and a 2-D array over a scalar exponent
    assert portable.power(0.75, np.arange(5)).tolist() == [0.75 ** k for k in range(5)]
    grid = pos[:12].reshape(3, 4)
    out = portable.power(grid, 1.5)
    assert out.shape == (3, 4) and out.tolist() == [[v ** 1.5 for v in row] for row in grid.tolist()]


def test_dot_adds_in_order(values):
    x, pos, _ = values
    total = 0.0
    for a, b in zip(x.tolist(), pos.tolist(), strict=True):
        total += a * b
    assert portable.dot(x, pos) == total
    assert portable.dot(np.zeros(0), np.zeros(0)) == 0.0


@pytest.mark.parametrize("compiled", [False, True])
def test_pairwise_sum_is_numpy_s_sum_to_the_bit(values, compiled):
    # numpy's add.reduce of 1..128 terms; a plain running sum differs in the last bit for some of
    # them, so the test would catch a helper that added in order
    from market.mechanisms import allocation

    if compiled:
        allocation.warm_up()  # binds the compiled (inlined) helper in place of the Python one
    x = values[0] * 1e3
    in_order_differs = 0
    for n in range(0, 129):
        a = np.ascontiguousarray(x[n : 2 * n])
        got = portable.pairwise_sum(a, n)
        assert np.float64(got).tobytes() == a.sum().tobytes(), n
        running = 0.0
        for v in a.tolist():
            running += v
        in_order_differs += running != got
    assert in_order_differs > 10
    assert math.isnan(portable.pairwise_sum(np.ones(129), 129))
    for n in (1, 7, 8, 20):  # numpy's identity 0.0 turns a sum of -0.0s into 0.0
        assert math.copysign(1.0, portable.pairwise_sum(np.full(n, -0.0), n)) == 1.0
