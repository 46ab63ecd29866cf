"""Claims as assertions: every claim a chapter checks goes through :meth:`Claims.check`.

A check compares a *measured* value with what the claim *expects*, under an explicit
tolerance, and raises :class:`ClaimFailed` (an :class:`AssertionError`) when it does not
hold, so a wrong claim fails the notebook under nbval and the strict site build. Each
check is also recorded (measured, expected, tolerance, verdict) and rendered as the
chapter's "Claims checked" table; :meth:`Claims.finish` writes the JSON record with
provenance and shows the live table beside the full-scale record, when one exists.

Three forms of check::

    claims.check("C1", "the density integrates to 1", total, expected=1.0, atol=1e-10)
    claims.check("C4", "MC z-score of the variance", abs(z), at_most=5.0)
    claims.check("C2", "KS test accepts U[0, pi]", p_value, holds=p_value > 1e-3,
                 expected_text="p > 1e-3")

Where records go: at ``full`` scale ``results/<chapter>.json`` (committed); at ``ci``
scale ``_build/claims/<chapter>.json`` (read by the site's dashboard). Set
``KEXUE_RECORD_DIR`` to write elsewhere.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kexue_book.runtime import Runtime, get_scale, provenance, repo_root

__all__ = ["Claim", "ClaimFailed", "Claims", "load_record"]


class ClaimFailed(AssertionError):
    """Raised when a checked claim does not hold; the message has measured vs expected."""


@dataclass(frozen=True)
class Claim:
    """One row of a chapter's claims table.

    ``measured`` and ``expected`` are JSON-friendly (numbers, short lists, strings);
    ``verdict`` is ``"pass"``, ``"FAIL"`` or ``"not checked"``.
    """

    id: str
    claim: str
    measured: Any
    expected: Any
    tolerance: str
    verdict: str
    note: str = ""


def _to_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} is a bool; use holds=... for a yes/no claim")
    try:
        import torch

        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}={x!r} is not numeric") from exc
    return arr


def _fmt_num(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e6:
        s = f"{v:.6g}"
    else:
        s = f"{v:.4e}"
    return s


def _summarise(arr: np.ndarray) -> Any:
    """JSON-friendly form of a measured/expected array (small arrays in full)."""
    if arr.ndim == 0:
        v = float(arr)
        return v if math.isfinite(v) else str(v)
    if arr.size <= 8:
        return [float(v) if math.isfinite(v) else str(v) for v in arr.ravel()]
    return {"shape": list(arr.shape), "min": float(np.nanmin(arr)), "max": float(np.nanmax(arr))}


def _display(v: Any) -> str:
    if isinstance(v, float):
        return _fmt_num(v)
    if isinstance(v, list):
        return "[" + ", ".join(_display(x) for x in v) + "]"
    if isinstance(v, dict) and "shape" in v:
        return f"array{tuple(v['shape'])} in [{_fmt_num(v['min'])}, {_fmt_num(v['max'])}]"
    return str(v)


def _check_tol(name: str, v: float | None) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name}={v!r} must be a number")
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name}={v!r} must be finite and >= 0")
    return float(v)


class Claims:
    """The ledger of one chapter's checked claims.

    Parameters
    ----------
    rt
        The chapter's :class:`~kexue_book.runtime.Runtime` (gives slug, scale,
        provenance). Alternatively pass ``chapter`` alone.
    chapter
        The chapter slug when no runtime is given.
    """

    def __init__(self, rt: Runtime | None = None, *, chapter: str | None = None) -> None:
        if rt is None and chapter is None:
            raise ValueError("give the chapter's Runtime (rt=...) or its slug (chapter=...)")
        if rt is not None and not isinstance(rt, Runtime):
            raise TypeError(f"rt must be a kexue_book.runtime.Runtime, got {type(rt).__name__}")
        self.rt = rt
        self.chapter = rt.chapter if rt is not None else str(chapter)
        self.scale = rt.scale if rt is not None else get_scale()
        self._rows: list[Claim] = []

    # ------------------------------------------------------------------ checks
    @property
    def rows(self) -> list[Claim]:
        """The claims recorded so far, in order."""
        return list(self._rows)

    def _new_id(self, cid: str, claim: str) -> None:
        if not isinstance(cid, str) or not cid.strip():
            raise ValueError(f"cid={cid!r}: a claim needs a non-empty id such as 'C3'")
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError(f"claim={claim!r}: describe the claim in words")
        if any(r.id == cid for r in self._rows):
            raise ValueError(f"cid={cid!r} is already used in this chapter; ids must be unique")

    def check(
        self,
        cid: str,
        claim: str,
        measured: Any,
        expected: Any = None,
        *,
        rtol: float | None = None,
        atol: float | None = None,
        at_most: float | None = None,
        at_least: float | None = None,
        holds: bool | None = None,
        expected_text: str | None = None,
        note: str = "",
    ) -> Claim:
        """Check one claim; record it; raise :class:`ClaimFailed` if it does not hold.

        Exactly one form must be used:

        * ``expected`` with ``rtol`` and/or ``atol``: passes when
          ``|measured - expected| <= atol + rtol * |expected|`` elementwise (arrays
          broadcast; NaN never passes);
        * ``at_most`` and/or ``at_least``: passes when every measured value lies in
          ``[at_least, at_most]``;
        * ``holds`` (a bool computed by the chapter) with ``expected_text`` saying what
          was required; ``measured`` is then only displayed.

        Returns
        -------
        Claim
            The recorded row (verdict ``"pass"``).

        Raises
        ------
        ClaimFailed
            If the claim does not hold (message: measured vs expected and tolerance).
        ValueError, TypeError
            If the arguments mix forms, give no tolerance, or are not numeric.
        """
        self._new_id(cid, claim)
        forms = [expected is not None, at_most is not None or at_least is not None, holds is not None]
        if sum(forms) != 1:
            raise ValueError(
                f"{cid}: give exactly one of expected=..., at_most/at_least=..., holds=..."
            )
        if expected is not None:
            if rtol is None and atol is None:
                raise ValueError(f"{cid}: a numeric claim needs a stated tolerance (rtol and/or atol)")
            rt_, at_ = _check_tol("rtol", rtol), _check_tol("atol", atol)
            m = _to_array(measured, "measured")
            e = _to_array(expected, "expected")
            try:
                dev = np.abs(m - e)
            except ValueError as exc:
                raise ValueError(f"{cid}: measured {m.shape} and expected {e.shape} do not broadcast") from exc
            ok = bool(np.all(np.isfinite(m)) and np.all(dev <= at_ + rt_ * np.abs(e)))
            parts = []
            if rtol is not None:
                parts.append(f"rtol {_fmt_num(rt_)}")
            if atol is not None:
                parts.append(f"atol {_fmt_num(at_)}")
            tol = ", ".join(parts)
            meas, exp = _summarise(m), _summarise(e)
            if m.size > 1 or e.size > 1:
                tol += f" (max |Δ| = {_fmt_num(float(np.nanmax(dev)) if dev.size else 0.0)})"
        elif holds is None:
            if rtol is not None or atol is not None:
                raise ValueError(f"{cid}: rtol/atol only apply with expected=...")
            lo = -math.inf if at_least is None else float(_to_array(at_least, "at_least"))
            hi = math.inf if at_most is None else float(_to_array(at_most, "at_most"))
            if lo > hi:
                raise ValueError(f"{cid}: at_least={lo} exceeds at_most={hi}")
            m = _to_array(measured, "measured")
            ok = bool(m.size > 0 and np.all(np.isfinite(m)) and np.all((m >= lo) & (m <= hi)))
            meas = _summarise(m)
            if at_least is None:
                exp = f"≤ {_fmt_num(hi)}"
            elif at_most is None:
                exp = f"≥ {_fmt_num(lo)}"
            else:
                exp = f"in [{_fmt_num(lo)}, {_fmt_num(hi)}]"
            tol = "bound"
        else:
            if not isinstance(holds, (bool, np.bool_)):
                raise TypeError(f"{cid}: holds must be a bool, got {type(holds).__name__}")
            if not expected_text:
                raise ValueError(f"{cid}: holds=... needs expected_text saying what was required")
            if rtol is not None or atol is not None:
                raise ValueError(f"{cid}: rtol/atol only apply with expected=...")
            ok = bool(holds)
            try:
                meas = _summarise(_to_array(measured, "measured"))
            except TypeError:
                meas = str(measured)
            exp, tol = expected_text, "predicate"
        row = Claim(cid, claim, meas, exp, tol, "pass" if ok else "FAIL", note)
        self._rows.append(row)
        if not ok:
            raise ClaimFailed(
                f"[{self.chapter} {cid}] {claim}: measured {_display(meas)}, expected "
                f"{_display(exp)} ({tol})"
            )
        return row

    def not_checkable(self, cid: str, claim: str, reason: str) -> Claim:
        """List a claim that cannot be checked here, with the reason (never silently dropped)."""
        self._new_id(cid, claim)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"{cid}: reason={reason!r}: say why the claim cannot be checked")
        row = Claim(cid, claim, "—", "—", "—", "not checked", reason)
        self._rows.append(row)
        return row

    # ------------------------------------------------------------------ records
    def record_dict(self) -> dict[str, Any]:
        """The JSON record: chapter, provenance and every row."""
        prov = self.rt.provenance() if self.rt is not None else provenance() | {"chapter": self.chapter}
        return {"chapter": self.chapter, "provenance": prov, "claims": [asdict(r) for r in self._rows]}

    def record_path(self) -> Path | None:
        """Where :meth:`record` writes: see the module docstring. ``None`` outside the repo."""
        override = os.environ.get("KEXUE_RECORD_DIR", "").strip()
        if override:
            return Path(override) / f"{self.chapter}.json"
        root = repo_root()
        if root is None:
            return None
        sub = root / "results" if self.scale == "full" else root / "_build" / "claims"
        return sub / f"{self.chapter}.json"

    def record(self) -> Path | None:
        """Write the JSON record (see :meth:`record_path`); return its path."""
        if not self._rows:
            raise ValueError(f"{self.chapter}: no claims were checked, nothing to record")
        path = self.record_path()
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.record_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    # ------------------------------------------------------------------ display
    def html(self) -> str:
        """The live table, beside the full-scale record when one exists, as HTML."""
        recorded = None if self.scale == "full" else load_record(self.chapter)
        rec_rows = {r["id"]: r for r in recorded["claims"]} if recorded else {}
        live = "this run (full scale)" if self.scale == "full" else "this build (CI scale)"
        head = ["Claim", "", f"Measured, {live}", "Expected", "Tolerance", "Verdict"]
        if recorded:
            head += ["Measured, full scale", "Verdict, full scale"]
        out = ['<table class="kexue-claims">', "<thead><tr>"]
        out += [f"<th>{html.escape(h)}</th>" for h in head]
        out.append("</tr></thead><tbody>")
        for r in self._rows:
            cls = {"pass": "kexue-pass", "FAIL": "kexue-fail"}.get(r.verdict, "kexue-na")
            cells = [
                f"<b>{html.escape(r.id)}</b>",
                html.escape(r.claim) + (f"<br><small>{html.escape(r.note)}</small>" if r.note else ""),
                html.escape(_display(r.measured)),
                html.escape(_display(r.expected)),
                html.escape(r.tolerance),
                f'<span class="{cls}">{html.escape(r.verdict)}</span>',
            ]
            if recorded:
                rr = rec_rows.get(r.id)
                cells += (
                    [html.escape(_display(rr["measured"])), html.escape(rr["verdict"])]
                    if rr
                    else ["—", "not recorded"]
                )
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table>")
        if recorded:
            p = recorded["provenance"]
            commit = (p.get("git_commit") or "unknown")[:10]
            out.append(
                f"<p><small>Full-scale record <code>results/{html.escape(self.chapter)}.json</code>: "
                f"{html.escape(str(p.get('device_name')))}, {html.escape(str(p.get('date')))}, "
                f"commit {html.escape(commit)}, torch {html.escape(str(p.get('torch')))}, "
                f"wall time {html.escape(str(p.get('wall_time_s')))} s.</small></p>"
            )
        elif self.scale == "ci" and repo_root() is None:
            out.append(
                "<p><small>Running outside a checkout of the book's repository (Colab, say): "
                f"the committed full-scale record <code>results/{html.escape(self.chapter)}.json</code>, "
                "if there is one, is not at hand here; the book's dashboard page lists it.</small></p>"
            )
        elif self.scale == "ci":
            out.append(
                "<p><small>No full-scale record has been committed for this chapter yet "
                "(<code>make record CHAPTER=…</code> writes one).</small></p>"
            )
        return "\n".join(out)

    def text(self) -> str:
        """The live table as plain text (for scripts and logs)."""
        lines = [f"Claims checked — {self.chapter} ({self.scale} scale)"]
        for r in self._rows:
            lines.append(
                f"  {r.id:<5} {r.verdict:<11} {r.claim} | measured {_display(r.measured)} | "
                f"expected {_display(r.expected)} | {r.tolerance}"
            )
        return "\n".join(lines)

    def show(self) -> None:
        """Display the table: HTML in a notebook, plain text elsewhere."""
        from kexue_book.report import show_html

        show_html(self.html(), self.text())

    def finish(self) -> Path | None:
        """Write the record and show the table; call once at the end of a chapter."""
        path = self.record()
        self.show()
        return path


def load_record(chapter: str, directory: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Load ``results/<chapter>.json`` (or from ``directory``); ``None`` when absent."""
    if directory is None:
        root = repo_root()
        if root is None:
            return None
        directory = root / "results"
    path = Path(directory) / f"{chapter}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "claims" not in data or "provenance" not in data:
        raise ValueError(f"{path} is not a claims record (needs 'claims' and 'provenance')")
    return data
