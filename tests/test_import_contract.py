"""The engine and the headless commands never import the terminal UI (Textual)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_engine_imports_without_textual():
    code = ("import gc; n0 = gc.get_freeze_count(); import market, market.cli, market.simulate, market.model, market.scenario; import sys; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')); "
            "assert not bad, bad; "
            # importing the engine leaves the garbage collector as Python sets it (market.runtime)
            "assert gc.get_freeze_count() == n0, (n0, gc.get_freeze_count())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_headless_run_does_not_load_textual(tmp_path):
    # the CLI's run path, in process: build the parser, run one month, write the files
    code = ("import gc, sys; n0 = gc.get_freeze_count(); from market.cli import main; "
            f"rc = main(['run', 'baseline-2026', '--months', '1', '--quiet', '--out', {str(tmp_path)!r}]); "
            "assert rc == 0, rc; "
            "assert 'textual' not in sys.modules and 'tui' not in sys.modules; "
            # the command settles its process: imports frozen out of the garbage collector's walks
            "assert gc.get_freeze_count() > n0 + 1000, (n0, gc.get_freeze_count())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "agents.parquet").is_file()


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is a dev dependency"
    proc = subprocess.run([exe, "--no-cache"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" in proc.stdout.lower() or "kept" in proc.stdout.lower()
