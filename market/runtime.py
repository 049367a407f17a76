"""Process-wide settings for programs that run the engine (the CLI, sweep workers, the UI).

The engine allocates many short-lived objects every month. Python's cyclic garbage collector
now and then walks every object the process holds, and most of those are the imported
libraries' (numpy, pyarrow, pydantic, Mesa): about a twentieth of a month's time on
``baseline-2026``. :func:`settle` moves everything alive at that moment out of the collector's
view (``gc.freeze``), so later collections walk only what the runs create. Objects created
afterwards are collected as usual; frozen ones are still freed when nothing refers to them.
It is for programs, not for libraries: a notebook that imports ``market`` keeps Python's defaults.
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> None:
    """Freeze the objects alive now (imports, the scenario) out of the garbage collector's
    walks; once per process."""
    global _settled
    if not _settled:
        gc.freeze()
        _settled = True
