"""The engine's compiled (Numba) kernels: loading them all ahead of the first month.

:func:`kernels` makes the loader each module uses. Each kernel is compiled on first use, from Numba's on-disk cache after the first time, so that
importing the engine does not import Numba. Loading them costs about half a second once per
process; a user interface calls :func:`warm_up` while its first screen is read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace


def kernels(inline: tuple[Callable, ...] = (), /, **funcs: Callable) -> Callable[[], SimpleNamespace]:
    """A loader of ``funcs`` compiled with Numba: calling it the first time compiles them (from
    Numba's on-disk cache after the first run) and returns them as attributes by their keyword
    names. A kernel must be a module-level function; one that calls another function gets it
    ``inline`` (each is compiled to be inlined and takes its own module name), since Numba cannot
    cache a kernel that calls a separately compiled function reliably."""

    @functools.cache
    def load() -> SimpleNamespace:
        from numba import njit

        for f in inline:
            f.__globals__[f.__name__] = njit(inline="always")(f)
        jit = njit(cache=True, nogil=True)
        return SimpleNamespace(**{name: jit(f) for name, f in funcs.items()})

    return load


def warm_up() -> None:
    """Load every compiled kernel now: the portable exp, log, power and dot, NVIDIA's allocation,
    the short-term market's, the ledger's, pricing's, the loans' and contract service's."""
    from market import ledger, portable
    from market.mechanisms import allocation, clearing, finance, pricing, service

    portable.warm_up()
    allocation.warm_up()
    clearing.warm_up()
    ledger.warm_up()
    pricing.warm_up()
    finance.warm_up()
    service.warm_up()
