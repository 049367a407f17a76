"""Element-wise exp, log and power that give the same bits on every machine.

numpy picks its exp, log and power kernels by CPU when it starts (AVX-512 on one machine, AVX2
on another), and their results differ in the last bit. So does the order of the additions in numpy's ``dot``
(a BLAS kernel chosen by CPU). The model turns a last-bit difference
into a different run (a GPU floored one way rather than the other, a contract signed a month
later), so a run would not repeat across machines: a laptop, CI and a Dask cluster would
disagree. These functions call the C library's ``exp``, ``log`` and ``pow``, one element at a
time, compiled with Numba, and :func:`dot` adds in order; the engine uses them wherever it
takes one of these functions of an array, or a dot product. Python's ``math`` module and ``**`` on floats use the same C functions.
"""

from __future__ import annotations

import numpy as np

from market.compiled import kernels


def exp(x) -> np.ndarray:
    return _apply(_compiled().exp, x)


def log(x) -> np.ndarray:
    return _apply(_compiled().log, x)


def power(base, exponent) -> np.ndarray:
    """``base ** exponent`` element-wise, with numpy's broadcasting."""
    b = np.asarray(base, dtype=np.float64)
    e = np.asarray(exponent, dtype=np.float64)
    if b.shape != e.shape and b.size != 1 and e.size != 1:
        b, e = np.broadcast_arrays(b, e)
    out = np.empty(b.shape if b.size != 1 else e.shape)  # (one of them a single number: the other's shape)
    _compiled().power(np.ascontiguousarray(b).reshape(-1), np.ascontiguousarray(e).reshape(-1), out.reshape(-1))
    return out


def dot(a, b) -> float:
    """Sum of ``a * b`` over 1-D arrays, added in order (numpy's ``dot`` calls a BLAS whose kernel,
    and with it the order of the additions, depends on the CPU)."""
    return _compiled().dot(np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64))


def _apply(kernel, x) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(a.shape)
    kernel(a.reshape(-1), out.reshape(-1))
    return out


def _exp(x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


def _log(x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = np.log(x[i])


def _power(b, e, out):  # pragma: no cover - compiled
    """``b ** e`` into ``out``; ``b`` or ``e`` may hold a single number for every element."""
    one_b = b.shape[0] == 1
    one_e = e.shape[0] == 1
    for i in range(out.shape[0]):
        out[i] = b[0 if one_b else i] ** e[0 if one_e else i]


def _dot(a, b):  # pragma: no cover - compiled
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


def pairwise_sum(a, n):  # pragma: no cover - compiled (inlined into kernels)
    """numpy's sum of ``a[:n]`` (``add.reduce`` of a contiguous float64 array), to the bit, for n
    up to 128: its identity 0.0 plus the terms added pairwise (below 8 terms in order; up to 128
    in eight running sums combined pairwise, then the rest in order). The identity only turns a
    sum of -0.0s into 0.0. (numpy sums longer arrays as two halves, each so; NaN here
    flags a caller that passed more.) Kernels declare it inline: ``kernels((pairwise_sum,), ...)``."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
        r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
        i = 8
        stop = n - n % 8
        while i < stop:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return 0.0 + res
    return np.nan


def python_sum(a, n, exact):  # pragma: no cover - compiled (inlined into kernels)
    """Python's ``sum()`` of the numbers ``a[:n]``, to the bit. Since Python 3.12 it adds Python
    floats with Neumaier's compensation (a running correction, added at the end unless it is
    zero or not finite), not in plain order; from the first item that is not a Python float (a
    numpy float: ``exact[i]`` false), it adds the correction so far and then adds plainly.
    Kernels that repeat a rule using ``sum()`` declare it inline: ``kernels((python_sum,), ...)``."""
    f = 0.0
    c = 0.0
    plain = False
    for i in range(n):
        x = a[i]
        if plain:
            f += x
        elif exact[i]:
            t = f + x
            if abs(f) >= abs(x):
                c += (f - t) + x
            else:
                c += (x - t) + f
            f = t
        else:
            if c != 0.0 and np.isfinite(c):
                f += c
            f += x
            plain = True
    if not plain and c != 0.0 and np.isfinite(c):
        f += c
    return f


_compiled = kernels(exp=_exp, log=_log, power=_power, dot=_dot)


def warm_up() -> None:
    one = np.ones(1)
    exp(one)
    log(one)
    power(one, one)
    dot(one, one)
