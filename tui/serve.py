"""Serve ``gpumarket play`` to browsers (a class): ``python -m tui.serve [PLAY ARGUMENTS]``.

Each browser tab that opens the page starts its own ``gpumarket play`` process with the same
arguments (textual-serve's model: one process per session). The page opens with the app's own
title, where ``textual serve -c CMD`` shows the command line.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def command(play_args: list[str]) -> str:
    """The command line each session runs: this interpreter, ``-m market play`` and the args."""
    return " ".join([shlex.quote(sys.executable), "-m", "market", "play", *map(shlex.quote, play_args)])


def title(play_args: list[str]) -> str:
    """The page's title: the app's own, "gpumarket - <scenario title>" when the scenario is known."""
    scenario = next((a for a in play_args if not a.startswith("-")), "baseline-2026")
    try:
        from market.scenario import apply_and_validate, read_toml, resolve

        path = resolve(scenario)
        return f"gpumarket - {apply_and_validate(read_toml(path), (), str(path)).title}"
    except Exception:  # noqa: BLE001 - a bad scenario is reported by the session itself
        return "gpumarket"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui.serve", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="localhost", help="address to listen on (default: localhost only)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--public-url", default=None, help="the URL students open, if not http://HOST:PORT")
    ns, play_args = ap.parse_known_args(argv)
    try:
        from textual_serve.server import Server
    except ImportError:
        print("python -m tui.serve needs textual-serve: pip install -e '.[serve]'", file=sys.stderr)
        return 2
    Server(command(play_args), host=ns.host, port=ns.port, title=title(play_args), public_url=ns.public_url).serve()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
