"""Tests of kexue_book.runtime: scale switch, device choice, threads, seeding, provenance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue_book import runtime


def test_scale_default_is_ci(monkeypatch):
    monkeypatch.delenv("KEXUE_SCALE", raising=False)
    assert runtime.get_scale() == "ci"
    monkeypatch.setenv("KEXUE_SCALE", "  ")
    assert runtime.get_scale() == "ci"


@pytest.mark.parametrize("value", ["ci", "full", " full "])
def test_scale_accepts_known(monkeypatch, value):
    monkeypatch.setenv("KEXUE_SCALE", value)
    assert runtime.get_scale() == value.strip()


@pytest.mark.parametrize("value", ["FULL", "bogus", "small", "0"])
def test_scale_rejects_unknown(monkeypatch, value):
    monkeypatch.setenv("KEXUE_SCALE", value)
    with pytest.raises(ValueError, match="KEXUE_SCALE"):
        runtime.get_scale()


def test_pick(monkeypatch):
    monkeypatch.setenv("KEXUE_SCALE", "ci")
    assert runtime.pick(ci=1, full=2) == 1
    monkeypatch.setenv("KEXUE_SCALE", "full")
    assert runtime.pick(ci=1, full=2) == 2
    assert runtime.pick(ci=1, full=2, scale="ci") == 1
    with pytest.raises(ValueError, match="scale"):
        runtime.pick(ci=1, full=2, scale="huge")


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("KEXUE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert runtime.get_device().type == expected
    monkeypatch.setenv("KEXUE_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["gpu0", "tpu", "meta"])
def test_device_rejects_bad(monkeypatch, value):
    monkeypatch.setenv("KEXUE_DEVICE", value)
    with pytest.raises(ValueError, match="KEXUE_DEVICE"):
        runtime.get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_missing(monkeypatch):
    monkeypatch.setenv("KEXUE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.get_device()


def test_cpu_budget_positive():
    n = runtime.cpu_budget()
    assert isinstance(n, int) and n >= 1


def test_set_threads(monkeypatch):
    old = torch.get_num_threads()
    try:
        assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("KEXUE_THREADS", "2")
        assert runtime.set_threads() == 2
        monkeypatch.delenv("KEXUE_THREADS")
        assert 1 <= runtime.set_threads() <= 8
        monkeypatch.setenv("KEXUE_THREADS", "many")
        with pytest.raises(ValueError, match="KEXUE_THREADS"):
            runtime.set_threads()
        for bad in (0, -1, 2.5, True):
            with pytest.raises(ValueError, match="thread count"):
                runtime.set_threads(bad)
    finally:
        torch.set_num_threads(old)


def test_seed_everything_reproducible():
    runtime.seed_everything(123)
    a = (np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(123)
    b = (np.random.rand(), torch.rand(1).item())
    assert a == b
    for bad in (-1, 2**32, 1.5, "1", True):
        with pytest.raises(ValueError, match="seed"):
            runtime.seed_everything(bad)


def test_setup_and_runtime(monkeypatch):
    monkeypatch.setenv("KEXUE_SCALE", "ci")
    monkeypatch.setenv("KEXUE_DEVICE", "cpu")
    rt = runtime.setup("01-test", seed=7, style=False)
    assert rt.scale == "ci" and rt.device.type == "cpu" and rt.seed == 7
    assert rt.pick(ci="a", full="b") == "a"
    g1, g2 = rt.generator(3), rt.generator(3)
    assert torch.equal(torch.randn(5, generator=g1), torch.randn(5, generator=g2))
    assert not torch.equal(torch.randn(5, generator=rt.generator(4)), torch.randn(5, generator=rt.generator(3)))
    assert rt.rng(1).random() == np.random.default_rng(8).random()
    p = rt.provenance()
    for key in ("git_commit", "git_dirty", "python", "torch", "numpy", "device", "device_name",
                "scale", "date", "wall_time_s", "chapter"):
        assert key in p
    assert p["scale"] == "ci" and p["chapter"] == "01-test" and p["wall_time_s"] >= 0
    assert "scale=ci" in rt.describe()


@pytest.mark.parametrize("chapter", ["", "1-x", "angle", "01_x", 12, None])
def test_setup_rejects_bad_chapter(chapter):
    with pytest.raises(ValueError, match="chapter"):
        runtime.setup(chapter, style=False)


def test_setup_rejects_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        runtime.setup("01-x", seed=-3, style=False)


def test_provenance_commit_from_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # outside the repository: falls back to KEXUE_GIT_COMMIT
    monkeypatch.setattr(runtime, "repo_root", lambda start=None: None)
    monkeypatch.setenv("KEXUE_GIT_COMMIT", "abc123")
    p = runtime.provenance(torch.device("cpu"))
    assert p["git_commit"] == "abc123" and p["git_dirty"] is None and p["wall_time_s"] is None


def test_repo_root_found():
    root = runtime.repo_root()
    assert root is not None and (root / "_toc.yml").is_file()


def test_synchronize_is_a_no_op_on_cpu_and_waits_on_cuda(monkeypatch):
    monkeypatch.setenv("KEXUE_DEVICE", "cpu")
    rt = runtime.setup("99-test", style=False)
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: calls.append(a))
    rt.synchronize()
    assert calls == []
    rt.device = torch.device("cuda", 0)  # only the device type matters; no GPU is touched
    rt.synchronize()
    assert calls == [(torch.device("cuda", 0),)]
