"""Figures of the model's view (matplotlib + logomaker; the app and notebooks share them).

- :func:`reconstruction_figure`: one probability logo per model under the same mask
  (letter height = P(base) at each hidden nucleotide); the other letters faded, the true
  base in full colour and written under the axis (green: the model's top guess, red: not).
- :func:`attribution_figure`: the ISM importance logo (observed letters, height = mean-
  centred effect, negative below the axis), the strongest windows shaded, and the full
  effect matrix as a heat map underneath.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import logomaker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..motifs.logos import COLORS  # noqa: E402

__all__ = ["reconstruction_figure", "attribution_figure", "focus_range"]

RIGHT, WRONG = "#1a7f37", "#cf222e"


def focus_range(flags: np.ndarray, margin: int = 10, max_width: int = 120) -> tuple[int, int]:
    """A ``[start, end)`` range around the first True flags, at most ``max_width`` wide."""
    idx = np.flatnonzero(np.asarray(flags, bool))
    n = len(flags)
    if not idx.size:
        return 0, min(n, max_width)
    start = max(0, int(idx[0]) - margin)
    end = min(n, max(int(idx[-1]) + margin + 1, start + 1), start + max_width)
    return start, end


def _runs(flags) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of True."""
    f = np.concatenate(([0], np.asarray(flags, np.int8), [0]))
    edges = np.flatnonzero(np.diff(f))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _frame(matrix: np.ndarray, start: int, end: int) -> pd.DataFrame:
    return pd.DataFrame(np.nan_to_num(matrix[start:end]), columns=list("ACGT"),
                        index=pd.RangeIndex(start, end))


def reconstruction_figure(recons, labels=None, start: int | None = None, end: int | None = None,
                          width_per_nt: float = 0.13):
    """Probability logos of :class:`~.reconstruct.Reconstruction` s of the same sequence and mask."""
    recons = list(recons)
    first = recons[0]
    if start is None or end is None:
        start, end = focus_range(first.hidden)
    labels = labels or [r.model for r in recons]
    fig, axes = plt.subplots(len(recons), 1, figsize=(max(6.0, width_per_nt * (end - start) + 1.5),
                                                      1.9 * len(recons) + 0.3), squeeze=False)
    seq = first.sequence
    for ax, r, label in zip(axes[:, 0], recons, labels):
        logo = logomaker.Logo(_frame(r.probs, start, end), ax=ax, color_scheme=COLORS, alpha=0.3)
        hid = np.flatnonzero(r.hidden[start:end]) + start
        best = np.nan_to_num(r.probs).argmax(1)
        for i in hid:
            logo.style_single_glyph(p=int(i), c=seq[i], alpha=1.0)
            ok = "ACGT"[best[i]] == seq[i]
            ax.text(i, -0.06, seq[i], ha="center", va="top", fontsize=7, fontweight="bold",
                    color=RIGHT if ok else WRONG, transform=ax.get_xaxis_transform())
        masked = np.flatnonzero(r.token_mask)
        if masked.size:  # masked k-mer tokens cover columns t .. t+k-1
            cover = np.zeros(len(seq), bool)
            for o in range(r.k):
                cover[np.clip(masked + o, 0, len(seq) - 1)] = True
            for s, e in _runs(cover[start:end]):
                ax.axvspan(start + s - 0.5, start + e - 0.5, color="0.93", zorder=-1, lw=0)
        ax.set_ylim(0, 1)
        ax.set_xlim(start - 0.5, end - 0.5)
        ax.set_ylabel("P(base)")
        acc = "n/a" if not r.n_hidden else f"{r.accuracy:.2f}"
        ax.set_title(f"{label}: {r.n_hidden} hidden nt, accuracy {acc}, mean log-likelihood "
                     f"{r.mean_loglik:.2f} nats", fontsize=9, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel("nucleotide (0-based); true base below the axis (green: top guess)",
                           labelpad=12)
    fig.tight_layout()
    return fig


def attribution_figure(attr, start: int = 0, end: int | None = None, sites=None,
                       width_per_nt: float = 0.12):
    """ISM logo and effect heat map of an :class:`~.attribution.Attribution`.

    ``sites``: optional ``(start, end)`` pairs to mark (e.g. known motif sites).
    """
    L = len(attr.sequence)
    end = L if end is None else min(end, L)
    fig, (ax, hm) = plt.subplots(2, 1, figsize=(max(6.0, width_per_nt * (end - start) + 1.5), 4.2),
                                 sharex=True, gridspec_kw={"height_ratios": [2, 1.2]})
    logomaker.Logo(_frame(attr.logo_matrix(), start, end), ax=ax, color_scheme=COLORS)
    ax.axhline(0, color="0.4", lw=0.6)
    if attr.windows is not None:
        for w in attr.windows.itertuples():
            if w.end > start and w.start < end:
                ax.axvspan(w.start - 0.5, w.end - 0.5, color="#fff3b0", zorder=-2, lw=0)
    for s, e in (sites or []):
        ax.axvspan(s - 0.5, e - 0.5, ymin=0, ymax=0.04, color="#6f42c1", lw=0)
    ax.set_ylabel("importance\n(log-odds)")
    ax.set_title(f"class {attr.target}: p = {attr.probabilities[attr.target]:.3f}; shaded: strongest "
                 "windows" + ("; purple bar: given sites" if sites else ""), fontsize=9, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    eff = attr.effect[start:end].T
    lim = float(np.nanmax(np.abs(eff))) or 1.0
    im = hm.imshow(eff, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   extent=(start - 0.5, end - 0.5, 3.5, -0.5), interpolation="nearest")
    hm.set_yticks(range(4), list("ACGT"))
    hm.set_xlabel("nucleotide (0-based)")
    hm.set_title("effect of each substitution on the log-odds", fontsize=9, loc="left")
    fig.colorbar(im, ax=hm, fraction=0.03, pad=0.01)
    fig.tight_layout()
    return fig
