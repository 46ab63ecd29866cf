"""Tests of kexue_book.claims: every form of check passes and fails as documented."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from kexue_book import runtime
from kexue_book.claims import ClaimFailed, Claims, load_record


@pytest.fixture()
def claims(monkeypatch, tmp_path):
    monkeypatch.setenv("KEXUE_SCALE", "ci")
    monkeypatch.setenv("KEXUE_DEVICE", "cpu")
    monkeypatch.setenv("KEXUE_RECORD_DIR", str(tmp_path))
    return Claims(runtime.setup("99-test", style=False))


def test_numeric_pass_and_fail(claims):
    row = claims.check("C1", "pi", math.pi, expected=3.14159265, rtol=1e-8)
    assert row.verdict == "pass" and "rtol" in row.tolerance
    with pytest.raises(ClaimFailed, match=r"C2.*measured 3\.1.*expected 3"):
        claims.check("C2", "pi is three", math.pi, expected=3.0, atol=0.1)
    assert claims.rows[-1].verdict == "FAIL"


def test_changing_expected_fails(claims):
    claims.check("C1", "value", 0.110661, expected=0.110661, rtol=1e-5)
    with pytest.raises(ClaimFailed):
        claims.check("C2", "value", 0.110661, expected=0.110671, rtol=1e-5)


def test_arrays_and_tensors(claims):
    claims.check("C1", "array", np.array([1.0, 2.0]), expected=[1.0, 2.0 + 1e-12], atol=1e-9)
    claims.check("C2", "tensor", torch.tensor([1.0, 2.0], dtype=torch.float64), expected=1.5, atol=0.5)
    with pytest.raises(ClaimFailed):
        claims.check("C3", "array", np.arange(20.0), expected=np.arange(20.0) + 1e-3, atol=1e-6)
    with pytest.raises(ValueError, match="broadcast"):
        claims.check("C4", "shapes", np.ones(3), expected=np.ones(2), atol=1)


def test_nan_never_passes(claims):
    with pytest.raises(ClaimFailed):
        claims.check("C1", "nan", float("nan"), expected=0.0, atol=1e300)
    with pytest.raises(ClaimFailed):
        claims.check("C2", "nan bound", float("nan"), at_most=1.0)


def test_bounds(claims):
    claims.check("C1", "z small", 1.3, at_most=5.0)
    claims.check("C2", "p big", 0.3, at_least=1e-3)
    claims.check("C3", "in range", [0.2, 0.4], at_least=0.0, at_most=1.0)
    with pytest.raises(ClaimFailed, match="≤ 5"):
        claims.check("C4", "z small", 6.0, at_most=5.0)
    with pytest.raises(ValueError, match="exceeds"):
        claims.check("C5", "bad range", 0.5, at_least=1.0, at_most=0.0)


def test_predicate(claims):
    claims.check("C1", "KS accepts", 0.4, holds=0.4 > 1e-3, expected_text="p > 1e-3")
    with pytest.raises(ClaimFailed, match="p > 1e-3"):
        claims.check("C2", "KS accepts", 1e-5, holds=False, expected_text="p > 1e-3")
    with pytest.raises(ValueError, match="expected_text"):
        claims.check("C3", "no text", 1, holds=True)
    with pytest.raises(TypeError, match="bool"):
        claims.check("C4", "not bool", 1, holds=1, expected_text="x")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"expected": 1.0}, ValueError, "tolerance"),
        ({"expected": 1.0, "rtol": -1}, ValueError, "rtol"),
        ({"expected": 1.0, "atol": float("nan")}, ValueError, "atol"),
        ({"expected": 1.0, "atol": "1"}, TypeError, "atol"),
        ({}, ValueError, "exactly one"),
        ({"expected": 1.0, "at_most": 2.0, "atol": 1}, ValueError, "exactly one"),
        ({"at_most": 2.0, "rtol": 0.1}, ValueError, "rtol"),
        ({"holds": True, "expected_text": "x", "atol": 1}, ValueError, "rtol"),
    ],
)
def test_bad_arguments(claims, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        claims.check("C9", "bad", 1.0, **kwargs)


def test_bad_ids_and_measured(claims):
    with pytest.raises(ValueError, match="cid"):
        claims.check("", "x", 1.0, expected=1.0, atol=0)
    with pytest.raises(ValueError, match="claim"):
        claims.check("C1", " ", 1.0, expected=1.0, atol=0)
    claims.check("C1", "x", 1.0, expected=1.0, atol=0)
    with pytest.raises(ValueError, match="already used"):
        claims.check("C1", "x", 1.0, expected=1.0, atol=0)
    with pytest.raises(TypeError, match="not numeric"):
        claims.check("C2", "x", "abc", expected=1.0, atol=0)
    with pytest.raises(TypeError, match="bool"):
        claims.check("C3", "x", True, expected=1.0, atol=0)
    with pytest.raises(ValueError, match="reason"):
        claims.not_checkable("C4", "x", "")


def test_constructor_errors():
    with pytest.raises(ValueError, match="Runtime"):
        Claims()
    with pytest.raises(TypeError, match="Runtime"):
        Claims("01-x")  # type: ignore[arg-type]


def test_record_and_tables(claims, tmp_path):
    claims.check("C1", "one", 1.0, expected=1.0, atol=1e-12)
    claims.not_checkable("C2", "needs weights", "no pretrained model offline")
    path = claims.record()
    data = json.loads(path.read_text())
    assert path == tmp_path / "99-test.json"
    assert [c["verdict"] for c in data["claims"]] == ["pass", "not checked"]
    assert data["provenance"]["scale"] == "ci"
    html = claims.html()
    assert "kexue-claims" in html and "not checked" in html and "No full-scale record" in html
    assert "C2" in claims.text()


def test_outside_a_checkout_says_where_the_record_is(claims, monkeypatch):
    # Colab: the package is installed, the repository (and results/) is not there.
    monkeypatch.setattr("kexue_book.claims.repo_root", lambda *a, **k: None)
    monkeypatch.setattr("kexue_book.claims.load_record", lambda chapter, directory=None: None)
    claims.check("C1", "one", 1.0, expected=1.0, atol=1e-12)
    html = claims.html()
    assert "outside a checkout" in html and "results/99-test.json" in html
    assert "No full-scale record has been committed" not in html


def test_record_requires_rows(claims):
    with pytest.raises(ValueError, match="no claims"):
        claims.record()


def test_full_record_shown_beside_live(claims, tmp_path, monkeypatch):
    claims.check("C1", "one", 1.0, expected=1.0, atol=1e-12)
    rec = {"chapter": "99-test", "provenance": {"device_name": "NVIDIA H100", "date": "2026-01-01",
                                                 "git_commit": "deadbeefcafe", "torch": "2.13.0",
                                                 "wall_time_s": 12.0},
           "claims": [{"id": "C1", "measured": 1.0000001, "verdict": "pass"}]}
    (tmp_path / "99-test.json").write_text(json.dumps(rec))
    monkeypatch.setattr("kexue_book.claims.load_record",
                        lambda ch: load_record(ch, directory=tmp_path))
    html = claims.html()
    assert "NVIDIA H100" in html and "deadbeefca" in html and "full scale" in html


def test_load_record(tmp_path):
    assert load_record("00-none", directory=tmp_path) is None
    (tmp_path / "00-bad.json").write_text("[]")
    with pytest.raises(ValueError, match="not a claims record"):
        load_record("00-bad", directory=tmp_path)


def test_full_scale_writes_results(monkeypatch, tmp_path):
    monkeypatch.setenv("KEXUE_SCALE", "full")
    monkeypatch.delenv("KEXUE_RECORD_DIR", raising=False)
    monkeypatch.setenv("KEXUE_DEVICE", "cpu")
    c = Claims(runtime.setup("99-test", style=False))
    assert c.record_path().parent.name == "results"
