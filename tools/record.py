#!/usr/bin/env python
"""Run chapters at full scale as plain scripts and write their records to results/.

    python tools/record.py 01-angle-distribution [04-gaussian-divergences ...]
    python tools/record.py all                      # every chapter in book/
    python tools/record.py --convert-only all       # only write _build/record/NN-slug.py

Each chapter (a Jupytext MyST notebook) is converted to a py:percent script in
``_build/record/`` with jupytext, then run with ``KEXUE_SCALE=full`` (unless the caller set
the scale) from the chapter's own folder, as the site build runs it. The chapter's
``claims.finish()`` writes ``results/NN-slug.json``. On a machine without jupytext (a GPU
device machine), convert here first (``--convert-only``), carry ``_build/record`` along,
and run this script there: it uses the converted scripts it finds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "record"


def chapters(names: list[str]) -> list[Path]:
    found = {p.stem: p for p in sorted((ROOT / "book").glob("*/[0-9][0-9]-*.md"))}
    if names == ["all"]:
        return list(found.values())
    missing = [n for n in names if n not in found]
    if missing:
        sys.exit(f"unknown chapter(s) {missing}; known: {sorted(found)}")
    return [found[n] for n in names]


def convert(md: Path) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    script = OUT / f"{md.stem}.py"
    try:
        import jupytext
    except ImportError:
        if script.is_file():
            return script
        sys.exit(f"jupytext is not installed and {script} does not exist: convert elsewhere first")
    nb = jupytext.read(md)
    jupytext.write(nb, script, fmt="py:percent")
    return script


def run(md: Path, script: Path) -> int:
    env = dict(os.environ)
    env.setdefault("KEXUE_SCALE", "full")
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    print(f"== {md.stem} (KEXUE_SCALE={env['KEXUE_SCALE']})", flush=True)
    rc = subprocess.call([sys.executable, str(script)], cwd=md.parent, env=env)
    print(f"== {md.stem}: rc={rc} in {time.perf_counter() - t0:.1f} s", flush=True)
    return rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("chapters", nargs="+", help="chapter slugs (NN-slug) or 'all'")
    ap.add_argument("--convert-only", action="store_true", help="only write the scripts")
    args = ap.parse_args()
    failures = 0
    for md in chapters(args.chapters):
        script = convert(md)
        if not args.convert_only:
            failures += run(md, script) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
