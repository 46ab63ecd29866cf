"""Sphinx extension for the Kexue Book site: chapter map, claims dashboard, build status.

Directives
----------
``kexue-chapter-map``
    The book's map from ``book/chapters.yml``: parts, and for each post its Chinese title,
    date, a one-line summary and whether the chapter is written (only written chapters
    are links). Option ``:part: <id>`` restricts it to one part.
``kexue-dashboard``
    Every written chapter's claims: the CI-scale verdict recorded by *this* build
    (``_build/claims/<slug>.json``) beside the full-scale verdict committed in
    ``results/<slug>.json`` (device, date, commit). A written chapter without a record
    from this build is a build warning (so ``-W`` fails).
``kexue-status``
    Per-chapter wall time in this build (from the same records) and the versions of the
    tools the build used.

The pages using the last two are read after every chapter (``env-before-read-docs``), so
the records they read are those the chapters just wrote.
"""

from __future__ import annotations

import html
import json
import platform
import time
from importlib import metadata
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOG = logging.getLogger(__name__)
LAST_DOCS = ("book/dashboard", "book/status")
_BUILD_START = {"t": time.time()}


def _root(env) -> Path:
    return Path(env.srcdir)


def load_map(env) -> dict:
    """``book/chapters.yml``; a chapter is *written* when its page is part of this build."""
    root = _root(env)
    data = yaml.safe_load((root / "book" / "chapters.yml").read_text(encoding="utf-8"))
    for ch in data["chapters"]:
        ch["path"] = f"book/{ch['part']}/{ch['slug']}"
        ch["written"] = ch["path"] in env.found_docs
    return data


def _rel(from_doc: str, to_doc: str, anchor: str = "") -> str:
    """Relative URL from one docname's HTML page to another's."""
    depth = from_doc.count("/")
    return "../" * depth + to_doc + ".html" + (f"#{anchor}" if anchor else "")


def _raw(markup: str) -> list[nodes.Node]:
    return [nodes.raw("", markup, format="html")]


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        LOG.warning(f"kexue: {path} is not valid JSON")
        return None


class ChapterMap(SphinxDirective):
    option_spec = {"part": directives.unchanged}

    def run(self):
        root = _root(self.env)
        data = load_map(self.env)
        self.env.note_dependency(str(root / "book" / "chapters.yml"))
        want = self.options.get("part")
        out = []
        for part in data["parts"]:
            if want and part["id"] != want:
                continue
            chs = [c for c in data["chapters"] if c["part"] == part["id"]]
            done = sum(c["written"] for c in chs)
            if not want:
                out.append(
                    f'<h3 class="kexue-part">{html.escape(part["title"])} '
                    f"<small>({done} of {len(chs)} chapters written)</small></h3>"
                )
                out.append(f"<p>{html.escape(part['blurb'])}</p>")
            out.append('<table class="kexue-map"><thead><tr><th>№</th><th>Chapter</th>'
                       "<th>Original post</th><th>Date</th><th>Status</th></tr></thead><tbody>")
            for c in chs:
                title = html.escape(c["en"])
                if c["written"]:
                    title = f'<a href="{_rel(self.env.docname, c["path"])}">{title}</a>'
                    status = '<span class="kexue-pass">written</span>'
                else:
                    status = '<span class="kexue-na">not yet written</span>'
                out.append(
                    f"<tr><td>{c['n']}</td><td>{title}<br><small>{html.escape(c['summary'])}</small></td>"
                    f'<td lang="zh"><a href="{html.escape(c["url"])}">{html.escape(c["zh"])}</a></td>'
                    f"<td>{c['date']}</td><td>{status}</td></tr>"
                )
            out.append("</tbody></table>")
        return _raw("\n".join(out))


class Dashboard(SphinxDirective):
    def run(self):
        root = _root(self.env)
        data = load_map(self.env)
        rows = []
        totals = {"pass": 0, "FAIL": 0, "not checked": 0}
        for c in data["chapters"]:
            if not c["written"]:
                continue
            live_path = root / "_build" / "claims" / f"{c['slug']}.json"
            live = _read_json(live_path)
            if live is None or live_path.stat().st_mtime < _BUILD_START["t"]:
                LOG.warning(f"kexue-dashboard: {c['slug']} wrote no claims record in this build "
                            f"(expected {live_path})")
                live = None
            full = _read_json(root / "results" / f"{c['slug']}.json")
            full_rows = {r["id"]: r for r in full["claims"]} if full else {}
            link = _rel(self.env.docname, c["path"], "claims-checked")
            if full:
                p = full["provenance"]
                fprov = (f"{html.escape(str(p.get('device_name')))}, {html.escape(str(p.get('date', ''))[:10])}, "
                         f"commit {html.escape((p.get('git_commit') or 'unknown')[:10])}")
            else:
                fprov = "no full-scale record yet"
            claims = live["claims"] if live else []
            rows.append(
                f'<tr class="kexue-chapter-row"><td colspan="5"><a href="{link}"><b>{c["n"]} · '
                f'{html.escape(c["en"])}</b></a> <small>— {len(claims)} claims; full scale: {fprov}</small></td></tr>'
            )
            for r in claims:
                totals[r["verdict"]] = totals.get(r["verdict"], 0) + 1
                fr = full_rows.get(r["id"])
                fv = fr["verdict"] if fr else "—"
                rows.append(
                    f"<tr><td>{html.escape(r['id'])}</td><td>{html.escape(r['claim'])}</td>"
                    f"<td>{self._verdict(r['verdict'])}</td><td>{self._verdict(fv)}</td>"
                    f"<td><small>{html.escape(str(r.get('tolerance', '')))}</small></td></tr>"
                )
        head = (
            f"<p>This build checked <b>{totals['pass']}</b> claims that hold, "
            f"<b>{totals['FAIL']}</b> that failed, and lists <b>{totals['not checked']}</b> that cannot be "
            "checked here (with the reason in the chapter).</p>"
            '<table class="kexue-claims kexue-dashboard"><thead><tr><th>Claim</th><th></th>'
            "<th>CI scale (this build)</th><th>Full scale (recorded)</th><th>Tolerance</th></tr></thead><tbody>"
        )
        return _raw(head + "\n".join(rows) + "</tbody></table>")

    @staticmethod
    def _verdict(v: str) -> str:
        cls = {"pass": "kexue-pass", "FAIL": "kexue-fail"}.get(v, "kexue-na")
        return f'<span class="{cls}">{html.escape(v)}</span>'


class Status(SphinxDirective):
    def run(self):
        root = _root(self.env)
        data = load_map(self.env)
        out = ['<table class="kexue-table"><thead><tr><th>Chapter</th><th>Scale</th>'
               "<th>Device</th><th>Wall time, setup to last claim (s)</th></tr></thead><tbody>"]
        total = 0.0
        for c in data["chapters"]:
            if not c["written"]:
                continue
            live = _read_json(root / "_build" / "claims" / f"{c['slug']}.json")
            p = live["provenance"] if live else {}
            wt = p.get("wall_time_s")
            total += wt or 0.0
            out.append(
                f'<tr><td><a href="{_rel(self.env.docname, c["path"])}">{c["n"]} · {html.escape(c["en"])}</a></td>'
                f"<td>{html.escape(str(p.get('scale', '—')))}</td><td>{html.escape(str(p.get('device_name', '—')))}</td>"
                f"<td>{'—' if wt is None else f'{wt:.1f}'}</td></tr>"
            )
        out.append(f"<tr><td><b>Total</b></td><td></td><td></td><td><b>{total:.1f}</b></td></tr></tbody></table>")
        out.append('<h3>Versions used by this build</h3><table class="kexue-table"><tbody>')
        out.append(f"<tr><td>python</td><td>{platform.python_version()}</td></tr>")
        for pkg in ("torch", "numpy", "scipy", "scikit-learn", "matplotlib", "jupyter-book", "sphinx",
                    "myst-nb", "jupytext", "nbval", "kexue-book"):
            try:
                v = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                v = "not installed"
            out.append(f"<tr><td>{pkg}</td><td>{html.escape(v)}</td></tr>")
        out.append("</tbody></table>")
        return _raw("\n".join(out))


def _read_last(app, env, docnames: list[str]) -> None:
    for doc in LAST_DOCS:
        if doc in docnames:
            docnames.remove(doc)
            docnames.append(doc)


def _started(app) -> None:
    _BUILD_START["t"] = time.time()


def setup(app):
    # Load MathJax on every page, not only on pages whose body has math: chapter titles
    # with math appear in the navigation sidebar of every page and must be typeset there too.
    app.set_html_assets_policy("always")
    app.add_directive("kexue-chapter-map", ChapterMap)
    app.add_directive("kexue-dashboard", Dashboard)
    app.add_directive("kexue-status", Status)
    app.connect("builder-inited", _started)
    app.connect("env-before-read-docs", _read_last)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
