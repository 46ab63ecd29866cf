"""Tables in chapters: HTML in a notebook, aligned plain text in a script or log.

Chapters never import IPython themselves (full-scale records run them as plain scripts on
machines without Jupyter); they call :func:`show_table` and :func:`show_html` instead.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

__all__ = ["format_value", "show_html", "show_table", "table_html", "table_text"]


def format_value(v: Any, floatfmt: str = ".6g") -> str:
    """Format one cell: floats with ``floatfmt``, everything else with ``str``."""
    try:
        import numpy as np

        if isinstance(v, np.generic):
            v = v.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, float):
        return format(v, floatfmt) if math.isfinite(v) else str(v)
    return str(v)


def _validate(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
    if not columns:
        raise ValueError("columns must name at least one column")
    for i, r in enumerate(rows):
        if len(r) != len(columns):
            raise ValueError(f"rows[{i}] has {len(r)} cells but there are {len(columns)} columns")


def table_html(rows: Sequence[Sequence[Any]], columns: Sequence[str], *, floatfmt: str = ".6g",
               caption: str | None = None) -> str:
    """An HTML table of ``rows`` under the header ``columns``."""
    _validate(rows, columns)
    out = ['<table class="kexue-table">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in columns) + "</tr></thead>")
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(format_value(v, floatfmt))}</td>" for v in r) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def table_text(rows: Sequence[Sequence[Any]], columns: Sequence[str], *, floatfmt: str = ".6g",
               caption: str | None = None) -> str:
    """The same table as aligned plain text."""
    _validate(rows, columns)
    cells = [[str(c) for c in columns]] + [[format_value(v, floatfmt) for v in r] for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(columns))]
    lines = [caption] if caption else []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show_html(markup: str, text: str) -> None:
    """Display ``markup`` as HTML in a notebook, print ``text`` elsewhere."""
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(markup))
    else:
        print(text)


def show_table(rows: Sequence[Sequence[Any]], columns: Sequence[str], *, floatfmt: str = ".6g",
               caption: str | None = None) -> None:
    """Display a table (HTML in a notebook, text elsewhere).

    Raises
    ------
    ValueError
        If ``columns`` is empty or a row's length differs from it.
    """
    show_html(table_html(rows, columns, floatfmt=floatfmt, caption=caption),
              table_text(rows, columns, floatfmt=floatfmt, caption=caption))
