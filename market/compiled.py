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
    ``inline`` (each is compiled to be inlined and takes its name in its own module and in the
    kernels' modules), since Numba cannot cache a kernel that calls a separately compiled function
    reliably. Numba's on-disk cache of a kernel is renewed when the kernel's own file changes, not
    when an inlined helper from another file does (``portable.pairwise_sum``): after changing one,
    delete the ``__pycache__/*.nbi`` files of the modules that inline it."""

    @functools.cache
    def load() -> SimpleNamespace:
        from numba import njit

        for f in inline:
            # (a module imported after another loader bound a helper imports the compiled one)
            f = getattr(f, "py_func", f)
            compiled = njit(inline="always")(f)
            # bound where it is defined and where the kernels find it (it may be imported)
            for module in {id(g.__globals__): g.__globals__ for g in (f, *funcs.values())}.values():
                module[f.__name__] = compiled
        jit = njit(cache=True, nogil=True)
        return SimpleNamespace(**{name: jit(f) for name, f in funcs.items()})

    return load


def warm_up() -> None:
    """Load every compiled kernel now: the portable exp, log, power and dot, NVIDIA's allocation,
    the short-term market's, the ledger's, pricing's, the loans', contract service's, negotiation's quotes, the providers' book's, the buyers' and NVIDIA's shipping."""
    from market import ledger, portable
    from market.agents import buyer, nvidia, provider
    from market.mechanisms import allocation, clearing, finance, negotiation, pricing, service

    portable.warm_up()
    allocation.warm_up()
    clearing.warm_up()
    ledger.warm_up()
    pricing.warm_up()
    finance.warm_up()
    service.warm_up()
    negotiation.warm_up()
    provider.warm_up()
    buyer.warm_up()
    nvidia.warm_up()
