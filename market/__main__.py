"""``python -m market`` is the ``gpumarket`` command."""

from market.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
