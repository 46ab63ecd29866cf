"""The book's figure style: opaque white figures with labelled axes, readable in dark mode.

The site has a light and a dark theme. A transparent figure drawn for one of them is
unreadable in the other (black tick labels on a dark page), so every figure is drawn on
an opaque white card with a thin border; the colour cycle is the Okabe–Ito palette,
which stays distinguishable for colour-blind readers.
"""

from __future__ import annotations

import matplotlib

__all__ = ["PALETTE", "BOOK_STYLE", "use_book_style"]

PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # green
    "#CC79A7",  # purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
"""Okabe–Ito colour cycle used by every figure."""

BOOK_STYLE: dict[str, object] = {
    "figure.facecolor": "white",
    "figure.dpi": 100,
    "figure.figsize": (7.0, 3.6),
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "axes.facecolor": "white",
    "axes.edgecolor": "#333333",
    "axes.labelcolor": "#111111",
    "axes.titlesize": "medium",
    "axes.labelsize": "medium",
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
    "xtick.color": "#111111",
    "ytick.color": "#111111",
    "text.color": "#111111",
    "legend.frameon": True,
    "legend.framealpha": 0.9,
    "legend.fontsize": "small",
    "lines.linewidth": 1.6,
}
"""rcParams applied by :func:`use_book_style`."""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib's global rcParams (idempotent)."""
    matplotlib.rcParams.update(BOOK_STYLE)
