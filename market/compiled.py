"""The engine's compiled (Numba) kernels: loading them all ahead of the first month.

Each kernel is compiled on first use, from Numba's on-disk cache after the first time, so that
importing the engine does not import Numba. Loading them costs about half a second once per
process; a user interface calls :func:`warm_up` while its first screen is read.
"""

from __future__ import annotations


def warm_up() -> None:
    """Load every compiled kernel now: the portable exp, log, power and dot, NVIDIA's allocation,
    the short-term market's, the ledger's, pricing's and the loans'."""
    from market import ledger, portable
    from market.mechanisms import allocation, clearing, finance, pricing

    portable.warm_up()
    allocation.warm_up()
    clearing.warm_up()
    ledger.warm_up()
    pricing.warm_up()
    finance.warm_up()
