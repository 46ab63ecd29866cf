"""Let nbval collect the book's Jupytext MyST notebooks (``book/**/*.md``) directly.

    KEXUE_SCALE=ci pytest --nbval-lax book/

nbval only collects ``*.ipynb``. Here a ``.md`` file holding ``{code-cell}`` blocks is read
with jupytext and handed to nbval's own collector; the kernel runs with the ``.md`` file's
folder as working directory, as in the jupyter-book build. Relies on nbval 0.11 reading
the notebook through ``nbformat.read`` (nbval is pinned in pyproject.toml).
"""

from __future__ import annotations

from unittest import mock

import jupytext
from nbval.plugin import IPyNbFile


class MystNotebookFile(IPyNbFile):
    """An nbval notebook item read from a MyST markdown file."""

    def collect(self):
        nb = jupytext.read(self.path)
        with mock.patch("nbformat.read", return_value=nb):
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False):
        if file_path.suffix == ".md" and "```{code-cell}" in file_path.read_text(encoding="utf-8"):
            return MystNotebookFile.from_parent(parent, path=file_path)
    return None
