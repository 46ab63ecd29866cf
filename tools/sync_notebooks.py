#!/usr/bin/env python
"""Keep the paired ``.ipynb`` of every chapter in sync with its MyST source (for Colab).

Colab opens only ``.ipynb`` files, so each ``book/<part>/NN-slug.md`` has a committed twin
``book/<part>/NN-slug.ipynb`` without outputs (Sphinx ignores it: see ``exclude_patterns``).

    python tools/sync_notebooks.py          # write/refresh every twin (and install cell)
    python tools/sync_notebooks.py --check  # exit 1, naming the files, if any twin is stale

A chapter's first code cell must be exactly ``INSTALL_CELL`` below (it installs the package
when it is missing, as on Colab), with the repository URL of ``_config.yml``; the check
enforces that too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jupytext
import yaml

ROOT = Path(__file__).resolve().parents[1]

# The first code cell of every chapter (tagged remove-cell: it is not shown on the site).
INSTALL_CELL = """\
# Colab or a fresh environment: install the book's package when it is missing.
# KEXUE_BOOK_SOURCE overrides where pip takes it from (a fork, a local checkout, a wheel).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("kexue_book") is None:
    source = os.environ.get("KEXUE_BOOK_SOURCE", "git+{repository_url}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"kexue-book @ {{source}}"],
                   check=True)"""


def repository_url() -> str:
    """``repository: url:`` of ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    try:
        return config["repository"]["url"]
    except (KeyError, TypeError):
        raise SystemExit("_config.yml has no repository: url:") from None


def install_cell() -> str:
    return INSTALL_CELL.format(repository_url=repository_url())


def chapters() -> list[Path]:
    return sorted(p for p in (ROOT / "book").glob("*/[0-9][0-9]-*.md"))


def render(md: Path) -> str:
    nb = jupytext.read(md)
    nb.metadata.pop("jupytext", None)  # the twin is a plain notebook, not a paired file
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"  # stable ids: a re-sync of an unchanged chapter changes nothing
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return jupytext.writes(nb, fmt="ipynb")


def _cells(text: str) -> list:
    nb = json.loads(text)
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
             c.get("metadata", {}), c.get("outputs", [])) for c in nb["cells"]]


def _rewrite_install_cell(md: Path, cell: str) -> None:
    """Replace the body of the first code cell of ``md`` by ``cell`` (tagged remove-cell)."""
    text = md.read_text(encoding="utf-8")
    start = text.index("```{code-cell}")
    end = text.index("\n```\n", start) + len("\n```\n")
    new = "```{code-cell} ipython3\n:tags: [remove-cell]\n\n" + cell + "\n```\n"
    md.write_text(text[:start] + new + text[end:], encoding="utf-8")
    print(f"rewrote the install cell of {md.relative_to(ROOT)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check; do not write")
    args = ap.parse_args()
    problems = []
    cell = install_cell()
    for md in chapters():
        nb = jupytext.read(md)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if (not args.check and code and code[0].source.strip() != cell
                and 'find_spec("kexue_book")' in code[0].source):
            _rewrite_install_cell(md, cell)  # e.g. after a change of the repository url
            nb = jupytext.read(md)
            code = [c for c in nb.cells if c.cell_type == "code"]
        if not code or code[0].source.strip() != cell or "remove-cell" not in code[0].metadata.get("tags", []):
            problems.append(f"{md.relative_to(ROOT)}: the first code cell must be tools/sync_notebooks.py's "
                            "INSTALL_CELL (tagged remove-cell), with _config.yml's repository url")
        twin = md.with_suffix(".ipynb")
        want = render(md)
        if args.check:
            if not twin.is_file():
                problems.append(f"{twin.relative_to(ROOT)} is missing (run tools/sync_notebooks.py)")
            elif _cells(twin.read_text(encoding="utf-8")) != _cells(want):
                problems.append(f"{twin.relative_to(ROOT)} is out of sync with {md.name} (run tools/sync_notebooks.py)")
        elif not twin.is_file() or twin.read_text(encoding="utf-8") != want:
            twin.write_text(want, encoding="utf-8")
            print(f"wrote {twin.relative_to(ROOT)}")
    for md in sorted((ROOT / "book").glob("*/*.ipynb")):
        if not md.with_suffix(".md").is_file():
            problems.append(f"{md.relative_to(ROOT)} has no MyST source")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
