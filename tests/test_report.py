"""Tests of kexue_book.report and kexue_book.plotting."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from kexue_book import plotting, report


def test_tables():
    rows = [("n=3", 0.4674011002723395, np.float64(1.5)), ("n=10", 0.11066, 2)]
    html = report.table_html(rows, ["n", "var", "x"], caption="cap")
    assert "<caption>cap</caption>" in html and "0.467401" in html and "1.5" in html
    text = report.table_text(rows, ["n", "var", "x"])
    assert text.splitlines()[1].startswith("-") and "0.11066" in text


def test_table_errors():
    with pytest.raises(ValueError, match="columns"):
        report.table_text([], [])
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        report.table_html([(1, 2)], ["a"])


def test_show_table_prints_outside_notebook(capsys):
    report.show_table([(1, 2.0)], ["a", "b"])
    assert "a" in capsys.readouterr().out


def test_format_value():
    assert report.format_value(float("inf")) == "inf"
    assert report.format_value(np.float32(0.5)) == "0.5"
    assert report.format_value("x") == "x"


def test_book_style_opaque():
    plotting.use_book_style()
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.transparent"] is False
    assert len(plotting.PALETTE) == 8
