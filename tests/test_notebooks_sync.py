"""The committed .ipynb twins (for Colab) match their MyST sources; each installs the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ipynb_twins_in_sync():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_notebooks.py"), "--check"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
