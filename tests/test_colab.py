"""The path a Colab reader takes, rehearsed offline: a chapter's ``.ipynb`` twin, opened in a
fresh environment without the package and outside a checkout, installs the package itself in
its first cell and runs to the end.

What differs from Colab: the package comes from a wheel built from this checkout (the
``KEXUE_BOOK_SOURCE`` override of the install cell) instead of the public repository, and
the other dependencies (torch, numpy, ...) are those of this virtual environment, seen through
a path file, since there is no network here. What is the same: a Python environment in which
``kexue_book`` cannot be imported, a working folder with nothing but the notebook, the
chapter's own install cell doing the install with pip, and every later cell run by a Jupyter
kernel of that environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "probability" / "05-entropy-normalization.ipynb"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(out), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("kexue_book-*.whl")
    return whl


def test_wheel_holds_every_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kexue_book").rglob("*.py")}
    assert modules, "no modules found"
    assert modules <= names, f"missing from the wheel: {sorted(modules - names)}"
    assert not any(n.startswith(("tests/", "book/", "benchmarks/")) for n in names)


def _fresh_env(base: Path) -> Path:
    """A virtual environment without kexue_book whose other packages are this one's."""
    env = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    deps = base / "deps"  # this environment's packages, minus kexue_book and its editable hook
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith(("kexue_book", "__editable__")) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    r = subprocess.run([str(env / "bin" / "python"), "-c",
                        "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       capture_output=True, text=True, check=True)
    Path(r.stdout.strip(), "deps.pth").write_text(f"{deps}\n")
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_chapter_installs_the_package_and_runs_outside_a_checkout(wheel, tmp_path):
    env = _fresh_env(tmp_path)
    py = str(env / "bin" / "python")
    probe = "import importlib.util as u; s = u.find_spec('kexue_book'); print(s.origin if s else None)"
    assert subprocess.run([py, "-c", probe], capture_output=True, text=True,
                          cwd=tmp_path).stdout.strip() == "None", "the fresh environment already sees kexue_book"

    work = tmp_path / "content"  # like Colab's working folder: the notebook alone
    work.mkdir()
    shutil.copy(CHAPTER, work / CHAPTER.name)
    run_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KEXUE_RECORD_DIR")}
    run_env.update(KEXUE_BOOK_SOURCE=wheel.as_uri(), KEXUE_SCALE="ci", PIP_NO_INDEX="1",
                   JUPYTER_DATA_DIR=str(tmp_path / "jupyter"), MPLBACKEND="Agg")
    r = subprocess.run([py, "-m", "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
                        "--ExecutePreprocessor.timeout=300", CHAPTER.name],
                       capture_output=True, text=True, cwd=work, env=run_env)
    assert r.returncode == 0, r.stderr[-3000:]

    origin = subprocess.run([py, "-c", probe], capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert origin.startswith(str(env)), f"kexue_book was not installed into the fresh environment: {origin}"

    nb = json.loads((work / "executed.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(o["output_type"] != "error" for c in code for o in c.get("outputs", []))
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in code[-1]["outputs"])
    assert "kexue-claims" in html and ">FAIL<" not in html
    assert "outside a checkout" in html
    assert not (work / "_build").exists() and not (work / "results").exists(), "wrote into the notebook's folder"
